import ArgumentParser
@_spi(Benchmarks) import AutoTraderCore
import Foundation
import GRDB
import Logging
import TradingAlgorithms
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Buys one share, then sells it, every minute: every card orders every minute (benchmark only).
struct TradesEveryMinute: TradingAlgorithm {
    static let summary = "benchmark: buy 1, sell 1, alternately"
    static let barsNeeded = 1
    func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        input.sharesHeld == 0 ? .buy(1, "bench") : .sell(input.sharesHeld, "bench")
    }
}

/// Tick-to-trade: from a minute's bars committing to stocks.db to each order arriving at the simulator.
///
/// The executor runs in this process with the real client; the simulator is the real process at 60×
/// (a market minute per second) with fills at the last close. This process plays the streamer: when the
/// simulator's clock passes a minute's end it writes that minute's bars for every ticker in one
/// transaction and notes the wall-clock instant of the commit. The simulator stamps each order's
/// `created_at` on its own clock, turned back into wall time from its measured offset and speed.
struct ExecutorLatencyBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "executor-latency",
        abstract: "Tick-to-trade latency (bar commit in stocks.db → order at the simulator) with 1, 10 and 100 cards.")

    @Option(help: "Card counts to measure, comma-separated.") var cards = "1,10,100"
    @Option(help: "Orders to collect per card count (at least; one per card per minute).") var samples = 600
    @Option(help: "Keep the scratch databases in this folder.") var directory: String?
    @Flag(help: "The cards run a Python script algorithm (the same rule, in the original design's form) through its worker.")
    var python = false

    /// TradesEveryMinute as a script in the original design's form.
    static let pythonTradesEveryMinute = """
        \"\"\"benchmark: buy 1, sell 1, alternately\"\"\"

        class Algorithm:
            def __init__(self, ticker, initial_capital):
                pass

            def get_data_requirements(self, current_time):
                return {'bars': 1}

            def on_data(self, bars, transaction_history):
                held = sum(t['shares'] if t['type'] == 'buy' else -t['shares'] for t in transaction_history)
                return ('buy', 1) if held == 0 else ('sell', held)

        """

    func run() async throws {
        BenchSupport.warnIfDebugBuild()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let counts = cards.split(separator: ",").compactMap { Int($0) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--cards: positive counts, e.g. 1,10,100") }
        let scratch = try BenchScratch(directory: directory, keep: false, label: "executor")
        defer { scratch.cleanUp() }
        BenchSupport.say("Creating stocks.db (the calendar) …")
        let stocksPath = scratch.database("stocks.db")
        let stocks = try StocksDatabase.open(path: stocksPath, create: true)
        var lines: [String] = []
        for count in counts {
            let line = try await measure(cards: count, stocks: stocks, stocksPath: stocksPath, scratch: scratch)
            lines.append(line)
        }
        BenchSupport.say("")
        BenchSupport.say("tick-to-trade (bar commit → order at the simulator)\(python ? " of a Python script algorithm" : ""), \(BenchSupport.buildKind) build, load \(BenchSupport.loadAverage())")
        for line in lines { BenchSupport.say(line) }
    }

    static let candidates = [
        "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "V", "UNH", "XOM", "MA", "JNJ", "PG", "HD",
        "COST", "MRK", "ORCL", "CVX", "BAC", "KO", "PEP", "NFLX", "AMD", "IBM", "INTC", "CSCO", "WMT", "DIS", "ADBE",
    ]

    private func measure(cards count: Int, stocks: StocksDatabase, stocksPath: String, scratch: BenchScratch) async throws -> String {
        let speed = 60.0
        let sim = try await SimulatorUnderTest.start([
            "--start", "2024-06-04T14:00:00Z", "--speed", String(speed), "--fill-price", "last-close", "--cash", "100000000",
            "--rate-limit", "1000000",
        ])
        defer { sim.stop() }
        // Each card count starts from no bars: a bar left by the previous run would let the executor trade
        // before this run's commit of it, and the "latency" would be meaningless.
        try await stocks.benchmarkPool.write { db in try db.execute(sql: "DELETE FROM minute_bars") }
        let system = try SystemDatabase.open(path: scratch.database("system-\(count).db"), create: true)
        let configuration = AlpacaConfiguration.simulator(baseURL: sim.baseURL)
        let client = AlpacaClient(configuration: configuration)
        var tradable: [String] = []
        for symbol in Self.candidates where tradable.count < min(25, count) {
            if try await client.asset(symbol: symbol)?.isTradableEquity == true { tradable.append(symbol) }
        }
        let tickers = tradable
        for index in 0..<count {
            _ = try system.createAlgorithm(ticker: tickers[index % tickers.count], algorithmType: "trades_every_minute", initialCapital: 1_000_000, brokerCash: BenchCash.unlimited)
        }
        var scripts: ScriptAlgorithms?
        if python {
            let folder = scratch.database("algorithms-\(count)")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Self.pythonTradesEveryMinute.write(toFile: folder + "/trades_every_minute.py", atomically: true, encoding: .utf8)
            scripts = ScriptAlgorithms(
                options: .init(directory: folder), compiled: AlgorithmCatalog([]), system: system, logger: Logger(label: "bench-scripts"))
        }
        // Started without its heartbeat (no `HeartbeatService`): nothing but the trading runs.
        let executor = try ExecutorService(
            configuration: configuration, system: system, stocksPath: stocksPath, calendar: try MarketCalendar(),
            catalog: AlgorithmCatalog(python ? [] : [.init(name: "trades_every_minute", type: TradesEveryMinute.self)]),
            logger: Logger(label: "bench-executor"), scripts: scripts)
        let clock = try await SimClockMapping.measure(sim.baseURL, speed: speed)
        await executor.start()
        defer { Task { await executor.shutdown() } }

        // At most 150 market minutes (2.5 real minutes at 60×): the session must not close under the benchmark.
        let minutes = min(150, max(12, samples / count + 2))
        var commits: [Timestamp: Double] = [:]
        var minute = Timestamp(secondsSinceEpoch: Int64(clock.simNow())).minuteStart
        BenchSupport.say("\(count) cards on \(tickers.count) tickers: \(minutes) market minutes at \(Int(speed))× …")
        for _ in 0..<minutes {
            // Wait until the simulator's minute has ended (plus the feed's usual delay), then "stream" its bars.
            let due = clock.wall(ofSim: Double(minute.secondsSinceEpoch + 60)) + 0.05
            let wait = due - Date().timeIntervalSince1970
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
            // The simulator's own bars of the minute, as the streamer would write them: a buy goes out as a limit
            // at the last close plus the cushion, so a made-up price would leave it resting (then canceled) at
            // the simulator's real one. The request is made before the commit, so it is not part of the latency.
            let real = (try? await client.minuteBars(symbols: tickers, from: minute, to: minute.adding(minutes: 1))) ?? [:]
            let bars = tickers.map { ticker in
                real[ticker]?.last.map { $0.minuteBar(ticker: ticker) }
                    ?? MinuteBar(ticker: ticker, timestamp: minute, open: 100, high: 101, low: 99, close: 100, volume: 1000)
            }
            try stocks.insert(bars)
            commits[minute] = Date().timeIntervalSince1970
            minute = minute.adding(minutes: 1)
        }
        try await Task.sleep(for: .seconds(2))
        let orders = try await SimOrders.fetch(sim.baseURL)
        var latencies: [Duration] = []
        for order in orders {
            guard let minuteText = order.clientOrderID.split(separator: "-").last, minuteText.count == 12,
                  let decided = Timestamp(String(minuteText).minuteTimestamp), let committed = commits[decided] else { continue }
            let arrived = clock.wall(ofSim: order.createdAt)
            latencies.append(.microseconds(Int64(((arrived - committed) * 1_000_000).rounded())))
        }
        let sorted = latencies.sorted()
        guard !sorted.isEmpty else { throw BenchFailure("no orders arrived at the simulator") }
        let expected = count * (minutes - 1)
        func ms(_ p: Double) -> String { BenchSupport.format(BenchSupport.milliseconds(BenchSupport.percentile(sorted, p)), decimals: 1) }
        return "  \(String(count).padding(toLength: 4, withPad: " ", startingAt: 0)) cards: \(sorted.count) orders (of ~\(expected)), p50 \(ms(50)) ms, p99 \(ms(99)) ms, max \(ms(100)) ms"
    }
}

/// The simulator's clock against this machine's: sim = simAtZero + speed × (wall − wallAtZero).
struct SimClockMapping {
    let wallAtZero: Double
    let simAtZero: Double
    let speed: Double

    func simNow() -> Double { simAtZero + speed * (Date().timeIntervalSince1970 - wallAtZero) }
    func wall(ofSim sim: Double) -> Double { wallAtZero + (sim - simAtZero) / speed }

    /// Reads /sim/clock a few times and keeps the sample with the shortest round trip (its midpoint).
    static func measure(_ base: URL, speed: Double) async throws -> SimClockMapping {
        var best: (rtt: Double, wall: Double, sim: Double)?
        for _ in 0..<20 {
            let before = Date().timeIntervalSince1970
            let (data, _) = try await URLSession.shared.data(from: base.appendingPathComponent("sim/clock"))
            let after = Date().timeIntervalSince1970
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any], let epoch = object["epoch"] as? Double else {
                throw BenchFailure("unexpected /sim/clock answer")
            }
            if best == nil || after - before < best!.rtt { best = (after - before, (before + after) / 2, epoch) }
        }
        return SimClockMapping(wallAtZero: best!.wall, simAtZero: best!.sim, speed: speed)
    }
}

/// The orders the simulator received, with its own created_at.
enum SimOrders {
    struct Order { let clientOrderID: String; let createdAt: Double }

    static func fetch(_ base: URL) async throws -> [Order] {
        let (data, _) = try await URLSession.shared.data(from: base.appendingPathComponent("sim/orders"))
        guard let list = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { throw BenchFailure("unexpected /sim/orders answer") }
        return list.compactMap { order in
            guard let id = order["client_order_id"] as? String, let created = order["created_at"] as? String,
                  let (seconds, nanos) = RFC3339.parseParts(created) else { return nil }
            return Order(clientOrderID: id, createdAt: Double(seconds) + Double(nanos) / 1e9)
        }
    }
}

extension String {
    /// `202406041431` → `2024-06-04T14:31:00Z`.
    var minuteTimestamp: String {
        let c = Array(self)
        return "\(String(c[0..<4]))-\(String(c[4..<6]))-\(String(c[6..<8]))T\(String(c[8..<10])):\(String(c[10..<12])):00Z"
    }
}

/// Decisions per second of each shipped algorithm over a million synthetic minute bars.
struct DecisionsBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "decisions", abstract: "Decisions per second of each algorithm in algorithm/ over 1 million bars.")

    @Option(help: "Bars in the series.") var bars = 1_000_000

    func run() throws {
        BenchSupport.warnIfDebugBuild()
        var generator = SplitMix64(seed: 99)
        var price = 100.0
        let start = Timestamp.at2024
        let series: [MinuteBar] = (0..<bars).map { index in
            price = max(1, price * (1 + (Double(generator.next() % 2001) - 1000) / 1_000_000))
            return MinuteBar(ticker: "BENCH", timestamp: start.adding(minutes: index), open: price, high: price, low: price, close: price, volume: 100)
        }
        BenchSupport.say("decisions over \(BenchSupport.grouped(bars)) bars (a window of each algorithm's barsNeeded sliding one bar at a time), \(BenchSupport.buildKind) build, load \(BenchSupport.loadAverage())")
        for entry in AlgorithmRegistry.catalog.entries {
            let algorithm = entry.type.init()
            let window = entry.barsNeeded
            var trades: [Trade] = []
            var counts: [String: Int] = [:]
            let began = ContinuousClock.now
            for end in window...series.count {
                let slice = Array(series[(end - window)..<end])
                let input = AlgorithmInput(ticker: "BENCH", initialCapital: 10_000, bars: slice, transactions: trades, now: slice.last!.timestamp)
                let decision = try algorithm.decide(input)
                switch decision.action {
                case .buy(let shares):
                    counts["buy", default: 0] += 1
                    trades.append(Trade(id: 0, algorithmId: 1, side: .buy, shares: shares, price: input.lastPrice!, timestamp: input.now))
                case .sell:
                    // Back to flat with a fresh allocation: the history stays one position long, as a card's
                    // is between trades (a decade of trades would measure the history sums, not the decision).
                    counts["sell", default: 0] += 1
                    trades.removeAll()
                case .hold:
                    counts["hold", default: 0] += 1
                }
            }
            let elapsed = BenchSupport.seconds(ContinuousClock.now - began)
            let decisions = series.count - window + 1
            BenchSupport.say("  \(entry.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(BenchSupport.grouped(Int(Double(decisions) / elapsed))) decisions/s (\(BenchSupport.format(elapsed, decimals: 2)) s; \(counts["buy", default: 0]) buys, \(counts["sell", default: 0]) sells)")
        }
    }
}

extension Timestamp {
    static let at2024 = Timestamp("2024-01-02T14:30:00Z")!
}
