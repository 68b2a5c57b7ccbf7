import ArgumentParser
import AutoTraderCore
import Foundation
import TradingAlgorithms

/// Each service's resident memory while it trades: the figure the Raspberry Pi's budget is about.
struct ServiceMemoryBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "service-memory",
        abstract: "Each service's resident memory (VmRSS) while cards trade and the dashboard polls.",
        discussion: """
            The soak's system for a short while: autotrader-sim, the streamer, the executor and the api as real \
            processes on fresh databases, cards created through the api, a dashboard-like poller reading the api \
            several times a second. Every 2 s it reads each process's VmRSS and RssAnon from /proc; at the end it \
            prints the last reading and the peak, judged against the budget (each service ≤ 40 MB, the three ≤ \
            120 MB). Measure the programs as deploy.sh builds them, all of them: swift build -c release \
            --static-swift-stdlib --scratch-path .build-release (stripping removes only sections that are never \
            mapped, so it changes no figure).
            """)

    @Option(help: "Running cards.") var cards = 10
    @Option(help: "Simulated seconds per real second.") var speed = 60.0
    @Option(help: "Real seconds of trading before the last reading.") var seconds = 60.0
    @OptionGroup var scratchOptions: ScratchOptions

    /// The budget of issue 13.6: each service, and the three together.
    static let perService = 40 << 20
    static let allThree = 120 << 20

    func validate() throws {
        guard cards >= 1, speed >= 1, seconds >= 10 else { throw ValidationError("--cards and --speed must be positive, --seconds at least 10") }
    }

    func run() async throws {
        BenchSupport.warnIfDebugBuild()
        let scratch = try scratchOptions.make(label: "service-memory")
        // The soak's machinery for one day, with the trading starting five simulated minutes after the start.
        let options = try SoakBenchmark.parse(
            ["--days", "1", "--cards", String(cards), "--speed", String(speed), "--start", "2024-06-03T13:25:00Z", "--sample-every", "2"])
        let system = try await SoakRun(options: options, folder: scratch.directory)
        do {
            try await measure(system)
        } catch {
            await system.stopAll()
            BenchSupport.say("service-memory aborted: \(error)\nlogs and databases kept in \(scratch.directory)")
            throw error
        }
        await system.stopAll()
        if !scratchOptions.keep && scratchOptions.directory == nil { try? FileManager.default.removeItem(atPath: scratch.directory) }
    }

    private func measure(_ system: SoakRun) async throws {
        let loadBefore = BenchSupport.loadAverage()
        try await system.startSystem()
        let tickers = try await BenchSupport.tradableSymbols(system.simBase, count: min(10, cards))
        let algorithms = AlgorithmRegistry.catalog.names
        for index in 0..<cards {
            try await system.createCard(ticker: tickers[index % tickers.count], algorithm: algorithms[index % algorithms.count])
        }
        let linking = Self.linking(of: system.services.map(\.pid))
        BenchSupport.say("""
            service-memory: \(cards) cards on \(tickers.count) tickers at \(Int(speed))×, the dashboard polled, \(Int(seconds)) s; \
            \(BenchSupport.buildKind) build, \(linking); load average \(loadBefore)
            """)
        let poller = Task { await system.poller.run(base: system.apiBase) }
        defer { poller.cancel() }

        var peak: [String: Int] = [:]
        var last: SoakSample?
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < end {
            for process in [system.sim!] + system.services where !process.isRunning {
                throw BenchFailure("\(process.name) died (status \(process.process.terminationStatus)): \(process.log.suffix(3000))")
            }
            let sample = try system.sample(session: 0, simTime: try await system.simNow())
            for (name, bytes) in sample.rss { peak[name] = max(peak[name] ?? 0, bytes) }
            last = sample
            try await Task.sleep(for: .seconds(2))
        }
        poller.cancel()
        let polls = await system.poller.summary()
        guard let last else { throw BenchFailure("no reading") }
        guard last.transactions > 0 else { throw BenchFailure("no card traded: the figures would not be of a trading system") }

        func mb(_ bytes: Int) -> String { SoakRun.mb(bytes) }
        var lines = ["service     VmRSS      heap (RssAnon)  peak VmRSS  budget"]
        for name in SoakRun.serviceNames {
            let rss = last.rss[name] ?? 0
            let verdict = rss <= Self.perService ? "met" : "MISSED by \(mb(rss - Self.perService))"
            lines.append(Self.row(name, rss: mb(rss), heap: mb(last.anon[name] ?? 0), peak: mb(peak[name] ?? 0), budget: "≤ 40 MB: \(verdict)"))
        }
        let total = SoakRun.serviceNames.reduce(0) { $0 + (last.rss[$1] ?? 0) }
        let verdict = total <= Self.allThree ? "met" : "MISSED by \(mb(total - Self.allThree))"
        lines.append(Self.row("the three", rss: mb(total), heap: "", peak: "", budget: "≤ 120 MB: \(verdict)"))
        lines.append(Self.row("autotrader-sim", rss: mb(last.rss["autotrader-sim"] ?? 0), heap: mb(last.anon["autotrader-sim"] ?? 0),
                              peak: mb(peak["autotrader-sim"] ?? 0), budget: "Alpaca's stand-in: not judged"))
        lines.append("""
            \(last.transactions) fills, \(last.intents) orders, \(BenchSupport.grouped(last.decisions)) decisions; the poller made \
            \(polls.requests) requests (\(polls.failures) failed); load average \(BenchSupport.loadAverage()) at the end
            """)
        for line in lines { BenchSupport.say(line) }
    }

    private static func row(_ name: String, rss: String, heap: String, peak: String, budget: String) -> String {
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        return pad(name.replacingOccurrences(of: "autotrader-", with: ""), 12) + pad(rss, 11) + pad(heap, 16) + pad(peak, 12) + budget
    }

    /// Whether the Swift runtime is in the binary or mapped from shared libraries (a dynamic build's ~40 MB of
    /// library code pages are most of its RSS).
    private static func linking(of pids: [Int32]) -> String {
        let dynamic = pids.map { pid in
            FileHandle(forReadingAtPath: "/proc/\(pid)/maps").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self).contains("libswiftCore.so") }
        }
        if dynamic.contains(where: { $0 == nil }) { return "linking unknown" }
        if dynamic.allSatisfy({ $0 == false }) { return "Swift runtime linked statically (as deploy.sh builds)" }
        if dynamic.allSatisfy({ $0 == true }) { return "Swift runtime linked dynamically (not as deploy.sh builds)" }
        return "Swift runtime linked statically in some services and dynamically in others: build them all alike"
    }
}
