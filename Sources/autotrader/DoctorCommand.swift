import ArgumentParser
import AutoTraderCore
import Foundation
import TradingAlgorithms

/// `autotrader doctor`: one verdict line per check, exit 1 when any check failed.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the installation: configuration, databases, broker, stream, clock, disk and service heartbeats.",
        discussion: """
            One line per check: ok, warn or FAIL, then what was found. Reads only (never migrates a database). \
            The stream check authenticates briefly: Alpaca allows one stream connection per account, so while the \
            streamer holds it the answer is 406, which counts as ok when the streamer's heartbeat is fresh. \
            Exit status 1 when any check FAILed, 0 otherwise (warnings included). Run it as the services' user \
            (sudo -u autotrader autotrader doctor) on an installed system.
            """)

    @OptionGroup var databases: DatabaseOptions

    @Option(help: "Configuration file (default: $AUTOTRADER_CONFIG, else /etc/autotrader/autotrader.env when present).")
    var config: String?

    @Option(name: .customLong("stale-after"), help: "Seconds after which a service's heartbeat is stale.")
    var staleAfter: Double = 30

    @Option(help: "Seconds each network check may take.")
    var timeout: Double = 10

    @Option(help: "Services whose heartbeat must be fresh, comma-separated.")
    var services = "streamer,executor,api"

    @Flag(help: "Print the checks as JSON.")
    var json = false

    func validate() throws {
        guard staleAfter > 0, timeout > 0 else { throw ValidationError("--stale-after and --timeout must be positive") }
    }

    func run() async throws {
        var options = Doctor.Options()
        options.configPath = config
        options.systemDatabasePath = databases.systemDatabase
        options.stocksDatabasePath = databases.stocksDatabase
        options.staleAfter = staleAfter
        options.timeout = .milliseconds(Int64(timeout * 1000))
        options.compiled = AlgorithmRegistry.catalog
        options.services = services.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let checks = await Doctor(options: options).run()
        let healthy = !checks.contains { $0.verdict == .fail }
        if json {
            struct Report: Encodable {
                let ok: Bool
                let checks: [DoctorCheck]
            }
            try printJSON(Report(ok: healthy, checks: checks))
        } else {
            let width = checks.map(\.check.count).max() ?? 0
            for check in checks {
                let verdict = check.verdict.label.padding(toLength: 4, withPad: " ", startingAt: 0)
                print("\(verdict)  \(check.check.padding(toLength: width, withPad: " ", startingAt: 0))  \(check.detail)")
            }
        }
        if !healthy { throw ExitCode(1) }
    }
}

/// `autotrader mode`: simulated, paper or live, as the configuration says (systemd's ExecCondition uses `--is`).
struct ModeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mode",
        abstract: "Print the trading mode the configuration gives: simulated (no keys), paper or live.",
        discussion: "With --is MODE, prints nothing and exits 0 when the mode is MODE, 1 when it is not.")

    @Option(help: "Configuration file (default: $AUTOTRADER_CONFIG, else /etc/autotrader/autotrader.env when present).")
    var config: String?

    @Option(name: .customLong("is"), help: "simulated, paper or live.")
    var expected: TradingMode?

    func run() throws {
        let mode: TradingMode
        do {
            mode = try AlpacaConfiguration.resolve(Settings.load(configPath: config)).mode
        } catch {
            throw CommandFailure(description: "\(error)")
        }
        if let expected {
            if mode != expected { throw ExitCode(1) }
        } else {
            print(mode.rawValue)
        }
    }
}

extension TradingMode: ExpressibleByArgument {}
