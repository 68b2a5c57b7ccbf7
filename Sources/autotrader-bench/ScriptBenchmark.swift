import ArgumentParser
import AutoTraderCore
import Foundation
import Logging

/// Decisions per second of a script algorithm (the shipped Python one by default) through the worker
/// protocol: one long-lived worker, a minute's cards pipelined at once, as the executor sends them.
struct ScriptDecisionsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "script-decisions",
        abstract: "Decisions/s of a script algorithm through the JSON-line protocol (default: algorithm/bollinger_reversion.py).",
        discussion: """
            Starts one worker for the file, describes it, then sends --minutes batches of --cards decide requests \
            (each with the algorithm's bars_needed bars of a random walk and a short transaction history), all of a \
            batch at once as the executor pipelines a minute; reports decisions/s and each batch's latency \
            (p50/p99/max). Then --single requests one at a time: the round trip of a lone decision.
            """)

    @Option(help: "The script algorithm file.") var file = "algorithm/bollinger_reversion.py"
    @Option(help: "Cards per minute (one batch).") var cards = 100
    @Option(help: "Minutes (batches) timed.") var minutes = 100
    @Option(help: "Untimed batches first.") var warmup = 5
    @Option(help: "Lone decisions timed one at a time.") var single = 500

    func run() async throws {
        BenchSupport.warnIfDebugBuild()
        guard cards > 0, minutes > 0, single >= 0 else { throw BenchFailure("--cards and --minutes must be positive") }
        let path = URL(fileURLWithPath: file).standardizedFileURL.path
        guard let script = ScriptFolder.scan((path as NSString).deletingLastPathComponent).first(where: { $0.path == path }) else {
            throw BenchFailure("\(file) is not a script algorithm (a .py file, or an executable with a #! line)")
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let worker = ScriptWorker(
            name: script.name, path: script.path, arguments: script.arguments,
            environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "LANG": "C.UTF-8"],
            timeLimit: .seconds(30), logger: logger)
        let described = await worker.describe()
        guard case .success(let description) = described else { throw BenchFailure("describe failed: \(described)") }

        var generator = SplitMix64(seed: 15)
        var price = 100.0
        let start = Timestamp.at2024
        let series: [MinuteBar] = (0..<(description.barsNeeded + minutes + warmup + single + 1)).map { index in
            price = max(1, price * (1 + (Double(generator.next() % 2001) - 1000) / 200_000))
            return MinuteBar(ticker: "BENCH", timestamp: start.adding(minutes: index), open: price, high: price * 1.001,
                             low: price * 0.999, close: price, volume: 1000 + Int64(index % 500))
        }
        let history = [Trade(id: 1, algorithmId: 1, side: .buy, shares: 10, price: 100, timestamp: start)]
        func input(_ minute: Int, card: Int) -> AlgorithmInput {
            let end = description.barsNeeded + minute
            let bars = Array(series[(end - description.barsNeeded)..<end])
            return AlgorithmInput(ticker: "BENCH", initialCapital: 10_000, bars: bars, transactions: card % 2 == 0 ? history : [],
                                  now: bars.last!.timestamp)
        }
        BenchSupport.say("""
            autotrader-bench script-decisions (\(BenchSupport.buildKind) build), \(script.name) (\(description.barsNeeded) bars a decision), \
            \(cards) cards × \(minutes) minutes after \(warmup) warm-up, load \(BenchSupport.loadAverage())
            """)

        var batches: [Duration] = []
        var counts: [String: Int] = [:]
        for minute in 0..<(warmup + minutes) {
            let batchStart = ContinuousClock.now
            let outcomes = await withTaskGroup(of: String.self) { group in
                for card in 0..<cards {
                    let request = input(minute, card: card)
                    group.addTask {
                        switch await worker.decide(card: Int64(card + 1), input: request) {
                        case .decided(let decision):
                            switch decision.action {
                            case .buy: return "buy"
                            case .sell: return "sell"
                            case .hold: return "hold"
                            }
                        case .nonsense(let why): return "nonsense: \(why)"
                        case .failed(let why): return "failed: \(why)"
                        }
                    }
                }
                var all: [String] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            if minute >= warmup {
                batches.append(ContinuousClock.now - batchStart)
                for outcome in outcomes { counts[outcome, default: 0] += 1 }
            }
        }
        let failures = counts.filter { !["buy", "sell", "hold"].contains($0.key) }
        guard failures.isEmpty else { throw BenchFailure("decisions failed: \(failures)") }
        let sorted = batches.sorted()
        let decisions = cards * minutes
        let timedSeconds = BenchSupport.seconds(batches.reduce(.zero, +))
        BenchSupport.say("""
              pipelined: \(BenchSupport.grouped(Int(Double(decisions) / timedSeconds))) decisions/s; a minute of \(cards) cards \
            p50 \(BenchSupport.format(BenchSupport.milliseconds(BenchSupport.percentile(sorted, 50)))) ms, \
            p99 \(BenchSupport.format(BenchSupport.milliseconds(BenchSupport.percentile(sorted, 99)))) ms, \
            max \(BenchSupport.format(BenchSupport.milliseconds(sorted.last ?? .zero))) ms \
            (\(counts["buy", default: 0]) buys, \(counts["sell", default: 0]) sells, \(counts["hold", default: 0]) holds)
            """)

        if single > 0 {
            var lone: [Duration] = []
            for index in 0..<single {
                let request = input(minutes + warmup + index % max(1, single), card: index)
                let t0 = ContinuousClock.now
                guard case .decided = await worker.decide(card: 1, input: request) else { throw BenchFailure("a lone decision failed") }
                lone.append(ContinuousClock.now - t0)
            }
            let sortedLone = lone.sorted()
            BenchSupport.say("""
                  one at a time: \(BenchSupport.grouped(Int(Double(single) / BenchSupport.seconds(lone.reduce(.zero, +))))) decisions/s; \
                round trip p50 \(BenchSupport.format(BenchSupport.microseconds(BenchSupport.percentile(sortedLone, 50)), decimals: 0)) µs, \
                p99 \(BenchSupport.format(BenchSupport.microseconds(BenchSupport.percentile(sortedLone, 99)), decimals: 0)) µs
                """)
        }
        await worker.stop()
    }
}
