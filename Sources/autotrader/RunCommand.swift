import ArgumentParser
import AutoTraderCore
import Foundation
import Logging
import ServiceLifecycle

/// `autotrader run`: the services as supervised foreground children, where systemd can't supervise them.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the whole system in the foreground (containers, CI, no systemd): sim, streamer, executor and api.",
        discussion: """
            Creates the databases when missing (like `init`), then starts autotrader-sim (simulated mode only), \
            autotrader-streamer, autotrader-executor and autotrader-api as child processes, sharing this \
            terminal's output (one log line per event, each naming its service). A child that dies is started \
            again after a pause that doubles from 1 s up to 30 s (back to 1 s once it ran for a minute). \
            Ctrl-C, SIGTERM or SIGHUP: SIGTERM to every child, SIGKILL to any still running after --stop-timeout \
            seconds, exit 0. Each service's extra options come from AUTOTRADER_SIM_ARGS, AUTOTRADER_STREAMER_ARGS, \
            AUTOTRADER_EXECUTOR_ARGS and AUTOTRADER_API_ARGS (split at spaces), as under systemd. \
            Where systemd is PID 1, use `systemctl start autotrader.target` instead.
            """)

    @OptionGroup var databases: DatabaseOptions

    @Option(name: .customLong("bin-dir"), help: "Folder of the service executables (default: this program's folder).")
    var binDirectory: String?

    @Option(help: "The dashboard's folder, for autotrader-api (default: the api's own default).")
    var frontend: String?

    @Option(name: .customLong("stop-timeout"), help: "Seconds the children get to exit after SIGTERM.")
    var stopTimeout: Double = 10

    @OptionGroup var logging: LogLevelOption

    func validate() throws {
        guard stopTimeout > 0 else { throw ValidationError("--stop-timeout must be positive") }
    }

    func run() async throws {
        let logger = logging.bootstrap(label: "autotrader-run")
        let settings = try databases.settings()
        let mode: TradingMode
        do { mode = try AlpacaConfiguration.resolve(settings).mode } catch { throw CommandFailure(description: "\(error)") }
        let systemPath = try databases.systemPath(), stocksPath = try databases.stocksPath()
        _ = try failing { try SystemDatabase.open(path: systemPath, create: true) }
        _ = try failing { try StocksDatabase.open(path: stocksPath, create: true) }

        let binaries = URL(fileURLWithPath: binDirectory ?? Self.ownDirectory())
        let environment = ProcessInfo.processInfo.environment
        func extra(_ name: String) -> [String] {
            (environment[name] ?? settings.values[name] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        }
        let dbArguments = ["--system-db", systemPath, "--stocks-db", stocksPath]
        var specs: [Supervisor.Child] = []
        if mode == .simulated {
            specs.append(.init(name: "autotrader-sim", arguments: extra("AUTOTRADER_SIM_ARGS")))
        }
        specs.append(.init(name: "autotrader-streamer", arguments: dbArguments + extra("AUTOTRADER_STREAMER_ARGS")))
        specs.append(.init(name: "autotrader-executor", arguments: dbArguments + extra("AUTOTRADER_EXECUTOR_ARGS")))
        specs.append(.init(
            name: "autotrader-api", arguments: dbArguments + (frontend.map { ["--frontend", $0] } ?? []) + extra("AUTOTRADER_API_ARGS")))
        specs = specs.filter { spec in
            let path = binaries.appendingPathComponent(spec.name).path
            if FileManager.default.isExecutableFile(atPath: path) { return true }
            logger.error("not found; not started", metadata: ["service": "\(spec.name)", "path": "\(path)"])
            return false
        }
        guard !specs.isEmpty else { throw CommandFailure(description: "no service executables in \(binaries.path)") }

        logger.info("starting", metadata: ["mode": "\(mode.rawValue)", "services": "\(specs.map(\.name).joined(separator: ","))"])
        let supervisor = Supervisor(directory: binaries, children: specs, stopTimeout: stopTimeout, logger: logger)
        // SIGHUP too: a closed terminal, or deploy.sh's foreground run told to stop, must not orphan the children.
        // No forced exit: the supervisor itself kills what outlives --stop-timeout.
        try await ServiceRunner(logger: logger, signals: [.sigterm, .sigint, .sighup], exitDeadline: nil).run([supervisor])
        logger.info("stopped")
    }

    /// The folder of the running executable (via /proc/self/exe on Linux).
    static func ownDirectory() -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }
}

/// Starts children, restarts any that exits (with backoff), and stops them all at the graceful shutdown.
actor Supervisor: Service {
    struct Child: Sendable {
        let name: String
        let arguments: [String]
    }

    final class Slot: @unchecked Sendable {
        let child: Child
        var process: Process?
        var startedAt = Date.distantPast
        var failures = 0
        var nextStart = Date.distantPast

        init(child: Child) { self.child = child }
    }

    let directory: URL
    let slots: [Slot]
    let stopTimeout: Double
    let logger: Logger

    init(directory: URL, children: [Child], stopTimeout: Double, logger: Logger) {
        self.directory = directory
        self.slots = children.map(Slot.init(child:))
        self.stopTimeout = stopTimeout
        self.logger = logger
    }

    /// Supervises until the graceful shutdown (a signal), then stops every child.
    func run() async {
        await cancelWhenGracefulShutdown { await self.supervise() }
        await stopAll(timeout: stopTimeout)
    }

    /// Polls the children every 100 ms until cancelled.
    func supervise() async {
        while !Task.isCancelled {
            let now = Date()
            for slot in slots {
                if let process = slot.process {
                    guard !process.isRunning else {
                        if now.timeIntervalSince(slot.startedAt) > 60 { slot.failures = 0 }
                        continue
                    }
                    let ranFor = now.timeIntervalSince(slot.startedAt)
                    if ranFor > 60 { slot.failures = 0 }
                    slot.failures += 1
                    let delay = min(30, pow(2, Double(slot.failures - 1)))
                    let how = process.terminationReason == .uncaughtSignal ? "killed by signal" : "exited with status"
                    logger.warning("service ended; restarting", metadata: [
                        "service": "\(slot.child.name)", "pid": "\(process.processIdentifier)",
                        "reason": "\(how) \(process.terminationStatus)", "restart_in_s": "\(delay)",
                    ])
                    slot.process = nil
                    slot.nextStart = now.addingTimeInterval(delay)
                }
                if slot.process == nil, now >= slot.nextStart { start(slot) }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func start(_ slot: Slot) {
        let process = Process()
        process.executableURL = directory.appendingPathComponent(slot.child.name)
        process.arguments = slot.child.arguments
        process.standardInput = FileHandle.nullDevice
        // Output goes straight to ours: each line is one write, so lines of different services don't mix.
        do {
            try process.run()
            slot.process = process
            slot.startedAt = Date()
            logger.info("service started", metadata: ["service": "\(slot.child.name)", "pid": "\(process.processIdentifier)"])
        } catch {
            slot.failures += 1
            slot.nextStart = Date().addingTimeInterval(min(30, pow(2, Double(slot.failures - 1))))
            logger.error("cannot start service", metadata: ["service": "\(slot.child.name)", "error": "\(error)"])
        }
    }

    /// SIGTERM to every child (api, executor, streamer, then the simulator), SIGKILL after `timeout`.
    func stopAll(timeout: Double) async {
        let running = slots.reversed().compactMap { slot in slot.process.map { (slot.child.name, $0) } }.filter { $0.1.isRunning }
        for (_, process) in running { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(timeout)
        while running.contains(where: { $0.1.isRunning }), Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for (name, process) in running where process.isRunning {
            logger.warning("service did not stop in time; killing it", metadata: ["service": "\(name)", "pid": "\(process.processIdentifier)"])
            kill(process.processIdentifier, SIGKILL)
        }
        for (_, process) in running { process.waitUntilExit() }
    }
}
