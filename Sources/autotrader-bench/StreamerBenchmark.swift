import ArgumentParser
@_spi(Benchmarks) import AutoTraderCore
import Foundation
import GRDB
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

// The streamer benchmarks run the real `autotrader-streamer` (the binary beside this one) against the
// real `autotrader-sim`, with fresh system.db and stocks.db in a scratch folder, and measure what
// reaches stocks.db from the outside, as another process would see it.

/// A running `autotrader-streamer`, its log in a file.
final class StreamerUnderTest {
    let process: Process
    let logPath: String
    let launchedAt: ContinuousClock.Instant

    init(systemPath: String, stocksPath: String, simURL: URL, arguments: [String], scratch: BenchScratch) throws {
        let binary = BenchSupport.sibling("autotrader-streamer")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ValidationError("autotrader-streamer not found beside this program at \(binary.path): build it in the same configuration")
        }
        // No configuration file or keys from this machine: simulated mode against this simulator only.
        let config = scratch.file("streamer.env")
        _ = FileManager.default.createFile(atPath: config, contents: Data())
        logPath = scratch.file("streamer.log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        var environment = ProcessInfo.processInfo.environment
        for key in ["ALPACA_API_KEY", "ALPACA_SECRET", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "ALPACA_TRADING_URL",
                    "ALPACA_DATA_URL", "ALPACA_STREAM_URL", "AUTOTRADER_SYSTEM_DB", "AUTOTRADER_STOCKS_DB"] {
            environment[key] = nil
        }
        environment["AUTOTRADER_CONFIG"] = config
        environment["AUTOTRADER_SIM_URL"] = simURL.absoluteString
        process = Process()
        process.executableURL = binary
        process.arguments = ["--system-db", systemPath, "--stocks-db", stocksPath] + arguments
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        launchedAt = .now
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM and wait; the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func ensureRunning() throws {
        guard process.isRunning else {
            throw BenchFailure("autotrader-streamer exited (\(process.terminationStatus)); its log:\n\(log.suffix(3000))")
        }
    }
}

/// Fresh databases, the simulator, cards for the tickers, and the streamer: what every streamer benchmark needs.
struct StreamerBench {
    let scratch: BenchScratch
    let systemPath: String
    let stocksPath: String
    let system: SystemDatabase
    let stocks: StocksDatabase
    let sim: SimulatorUnderTest

    static func prepare(label: String, scratch options: ScratchOptions, simArguments: [String]) async throws -> StreamerBench {
        let scratch = try options.make(label: label)
        let systemPath = scratch.database("system.db"), stocksPath = scratch.database("stocks.db")
        BenchSupport.removeDatabase(at: systemPath)
        BenchSupport.removeDatabase(at: stocksPath)
        BenchSupport.say("Creating system.db and stocks.db (the calendar's 1.3 million minutes) in \(scratch.directory) …")
        let system = try SystemDatabase.open(path: systemPath, create: true)
        let stocks = try StocksDatabase.open(path: stocksPath, create: true)
        let sim = try await SimulatorUnderTest.start(simArguments)
        return StreamerBench(scratch: scratch, systemPath: systemPath, stocksPath: stocksPath, system: system, stocks: stocks, sim: sim)
    }

    /// One running card per ticker.
    func createCards(_ tickers: [String]) throws {
        for ticker in tickers {
            _ = try system.createAlgorithm(ticker: ticker, algorithmType: "sma_crossover", initialCapital: 1000, brokerCash: BenchCash.unlimited)
        }
    }

    func startStreamer(_ arguments: [String]) throws -> StreamerUnderTest {
        try StreamerUnderTest(systemPath: systemPath, stocksPath: stocksPath, simURL: sim.baseURL, arguments: arguments, scratch: scratch)
    }

    /// The streamer's heartbeat detail (nil before its first beat).
    func status() throws -> [String: Any]? {
        try system.heartbeat(service: StreamerService.serviceName)?.detailObject
    }

    /// Waits until every ticker is subscribed on the stream and no history fetch is pending.
    func waitUntilCaughtUp(_ streamer: StreamerUnderTest, tickers: Int, timeout: Double, poll: Double = 0.1) async throws -> ContinuousClock.Instant {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        var lastReport = ContinuousClock.now
        while ContinuousClock.now < deadline {
            try streamer.ensureRunning()
            if let detail = try status(), (detail["tickers"] as? [String])?.count == tickers,
               (detail["subscribed"] as? [String])?.count == tickers, (detail["pending_repairs"] as? [String])?.isEmpty == true {
                return .now
            }
            if ContinuousClock.now - lastReport > .seconds(10) {
                lastReport = .now
                let detail = try status() ?? [:]
                BenchSupport.say("  … subscribed \((detail["subscribed"] as? [String])?.count ?? 0)/\(tickers), repairs pending \((detail["pending_repairs"] as? [String])?.count ?? -1), bars written \(detail["bars_written"] ?? 0)")
            }
            try await Task.sleep(for: .milliseconds(Int64(poll * 1000)))
        }
        throw BenchFailure("the streamer did not catch up within \(Int(timeout)) s; its log:\n\(streamer.log.suffix(3000))")
    }

    func simJSON(_ path: String) async throws -> Any {
        let (data, _) = try await URLSession.shared.data(from: URL(string: sim.baseURL.absoluteString + path)!)
        return try JSONSerialization.jsonObject(with: data)
    }

    func simStat(_ name: String) async throws -> Int {
        ((try await simJSON("/sim/stats")) as? [String: Any])?[name] as? Int ?? 0
    }

    func simNow() async throws -> String {
        ((try await simJSON("/sim/clock")) as? [String: Any])?["timestamp"] as? String ?? "?"
    }

    /// Rows in minute_bars (a full count: only between measurements).
    func barCount() throws -> Int { try stocks.barCount() }

    /// Fresh databases and the simulator (`prepare`), a running card for each of `tickers` tradable symbols, and
    /// the streamer started with `streamerArguments`; a failure on the way stops what was started.
    static func launch(
        label: String, scratch: ScratchOptions, simArguments: [String], tickers: Int, streamerArguments: [String]
    ) async throws -> StreamerRun {
        let bench = try await prepare(label: label, scratch: scratch, simArguments: simArguments)
        do {
            let symbols = try await BenchSupport.tradableSymbols(bench.sim.baseURL, count: tickers)
            try bench.createCards(symbols)
            return StreamerRun(bench: bench, symbols: symbols, streamer: try bench.startStreamer(streamerArguments))
        } catch {
            bench.sim.stop()
            bench.scratch.cleanUp()
            throw error
        }
    }

    func finish(_ streamer: StreamerUnderTest) {
        let status = streamer.stop()
        if status != 0 { BenchSupport.say("note: autotrader-streamer exited with \(status)") }
        sim.stop()
        scratch.cleanUp()
    }
}

/// A streamer benchmark under way: its databases and simulator, the cards' symbols and the streamer.
struct StreamerRun {
    let bench: StreamerBench
    let symbols: [String]
    let streamer: StreamerUnderTest

    /// Stops the streamer and the simulator and removes the scratch files (unless kept).
    func finish() { bench.finish(streamer) }
}

/// A streamer measurement's own defaults for `StreamLoadOptions`.
struct StreamLoad {
    let tickers: Int
    let speed: Double
    let seconds: Double
    let warmupTimeout: Double
}

/// A benchmark that takes `StreamLoadOptions`: it names its defaults.
protocol LoadedStreamer {
    static var loadDefaults: StreamLoad { get }
}

/// The load a streamer measurement runs under (how many tickers, how fast the simulated clock, how long) and
/// where its files go.
struct StreamLoadOptions<Benchmark: LoadedStreamer>: ParsableArguments {
    @Option(help: "Tickers subscribed (one running card each; synthetic symbols fill up the simulator's universe).")
    var tickers = Benchmark.loadDefaults.tickers

    @Option(help: "Simulator clock speed (60 = a market minute per second).")
    var speed = Benchmark.loadDefaults.speed

    @Option(help: "Seconds to measure.")
    var seconds = Benchmark.loadDefaults.seconds

    @Option(help: "Seconds allowed for the start-up backfill.")
    var warmupTimeout = Benchmark.loadDefaults.warmupTimeout

    @OptionGroup var scratch: ScratchOptions

    func validate() throws {
        guard tickers > 0, speed > 0, seconds > 0, warmupTimeout > 0 else {
            throw ValidationError("--tickers, --speed, --seconds and --warmup-timeout must be positive")
        }
    }

    /// `StreamerBench.launch` with a card per ticker, then waits (at most --warmup-timeout) until the streamer has
    /// backfilled and subscribed them all, and 2 s more so the window starts on a steady stream; the instant it
    /// had caught up. The caller finishes the run.
    func launchCaughtUp(label: String, simArguments: [String]) async throws -> (StreamerRun, ContinuousClock.Instant) {
        let trial = try await StreamerBench.launch(
            label: label, scratch: scratch, simArguments: simArguments, tickers: tickers,
            streamerArguments: ["--heartbeat-interval", "0.5"])
        do {
            BenchSupport.say("Streamer started with \(tickers) tickers; waiting for the backfill and the subscription …")
            let caughtUp = try await trial.bench.waitUntilCaughtUp(trial.streamer, tickers: tickers, timeout: warmupTimeout)
            try await Task.sleep(for: .seconds(2))
            return (trial, caughtUp)
        } catch {
            trial.finish()
            throw error
        }
    }
}

extension BenchSupport {
    /// An executable built beside this one.
    static func sibling(_ name: String) -> URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent(name)
    }

    /// The simulator's tradable symbols, as many as asked for, in its listing order.
    static func tradableSymbols(_ base: URL, count: Int) async throws -> [String] {
        var request = URLRequest(url: base.appendingPathComponent("v2/assets"))
        request.setValue(SimulatorDefaults.keyID, forHTTPHeaderField: "APCA-API-KEY-ID")
        request.setValue(SimulatorDefaults.secretKey, forHTTPHeaderField: "APCA-API-SECRET-KEY")
        let (data, _) = try await URLSession.shared.data(for: request)
        let assets = try JSONDecoder().decode([AlpacaAsset].self, from: data)
        let symbols = Array(assets.filter(\.isTradableEquity).map(\.symbol).prefix(count))
        guard symbols.count == count else { throw BenchFailure("the simulator lists only \(symbols.count) tradable symbols") }
        return symbols
    }
}

// MARK: - streamer-ingest

/// Bars per second the real streamer commits to stocks.db from the stream with 500 tickers subscribed.
struct StreamerIngestBenchmark: AsyncParsableCommand, LoadedStreamer {
    static let configuration = CommandConfiguration.benchmark(
        "streamer-ingest",
        abstract: "Bars/s autotrader-streamer commits to stocks.db from the stream, many tickers, accelerated simulator.",
        discussion: """
            Starts autotrader-sim at --speed (market minutes per real minute, nights skipped), one running card per \
            ticker in a fresh system.db, and autotrader-streamer. Once the backfill is done and every ticker is \
            subscribed, counts the rows committed to stocks.db over a wall-clock window and compares them with \
            the bars the simulator sent meanwhile.
            """)

    @OptionGroup var load: StreamLoadOptions<StreamerIngestBenchmark>
    /// Many tickers at a high clock speed: the streamer's throughput.
    static let loadDefaults = StreamLoad(tickers: 500, speed: 1200, seconds: 30, warmupTimeout: 600)

    func run() async throws {
        BenchSupport.warnIfDebugBuild()
        let (trial, caughtUp) = try await load.launchCaughtUp(label: "ingest", simArguments: [
            "--start", "2024-06-04T13:30:00Z", "--speed", String(load.speed), "--skip-closed",
            "--synthetic-symbols", String(max(0, load.tickers)), "--bar-delay-ms", "0",
            // Report a window wide enough that the client's polite pause at zero remaining never starts.
            "--rate-limit", "100000000",
        ])
        defer { trial.finish() }
        let bench = trial.bench, streamer = trial.streamer
        BenchSupport.say("Caught up after \(BenchSupport.format(BenchSupport.seconds(caughtUp - streamer.launchedAt))) s; measuring \(Int(load.seconds)) s …")

        let sent0 = try await bench.simStat("bars_streamed")
        let start = ContinuousClock.now
        let rows0 = try bench.barCount()
        let simStart = try await bench.simNow()
        try await Task.sleep(for: .milliseconds(Int64(load.seconds * 1000)))
        let sent1 = try await bench.simStat("bars_streamed")
        let end = ContinuousClock.now
        let rows1 = try bench.barCount()
        let simEnd = try await bench.simNow()
        try streamer.ensureRunning()
        let detail = try bench.status() ?? [:]
        let elapsed = BenchSupport.seconds(end - start)
        let committed = rows1 - rows0, sent = sent1 - sent0
        BenchSupport.report("""
            autotrader-streamer ingest (\(BenchSupport.buildKind) build, \(load.tickers) tickers subscribed, simulator at \(Int(load.speed))×, \(BenchSupport.format(elapsed)) s: simulated \(simStart) → \(simEnd))
              bars committed:   \(BenchSupport.grouped(committed)) new rows in stocks.db
              bars/s committed: \(BenchSupport.grouped(Int(Double(committed) / elapsed)))
              bars/s sent:      \(BenchSupport.grouped(Int(Double(sent) / elapsed))) by the simulator meanwhile (\(BenchSupport.format(100 * Double(committed) / Double(max(sent, 1)))) % committed)
              newest bar:       \(detail["newest_bar"] as? String ?? "none"); bars waiting in memory: \(detail["pending_bars"] ?? "?")
              start-up backfill: \(BenchSupport.format(BenchSupport.seconds(caughtUp - streamer.launchedAt))) s, \(BenchSupport.grouped(rows0)) rows before the window
            """)
    }
}

// MARK: - streamer-backfill

/// Bars per second of the streamer's own backfill: a year of minute history for 20 tickers.
struct StreamerBackfillBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "streamer-backfill",
        abstract: "Bars/s of autotrader-streamer's backfill (its GapRepair path) of a year of minute history.",
        discussion: """
            Fresh databases, one running card per ticker, and autotrader-streamer with --lookback-sessions \
            (252 = a year): times from the streamer's launch until every ticker's history is in stocks.db \
            (the heartbeat says nothing is pending), over REST pages of 10,000 bars from autotrader-sim.
            """)

    @Option(help: "Tickers backfilled.") var tickers = 20
    @Option(help: "Sessions of history before today's.") var sessions = 252
    @Option(help: "Seconds allowed.") var timeout = 1200.0
    @OptionGroup var scratchOptions: ScratchOptions

    func run() async throws {
        BenchSupport.warnIfDebugBuild()
        // Only ended children count, so the simulator (still running) adds nothing to the streamer's CPU time.
        let cpuBefore = BenchSupport.childrenCPUSeconds()
        let trial = try await StreamerBench.launch(
            label: "backfill", scratch: scratchOptions,
            // Tuesday 2024-06-04 10:00 New York, real speed: "now" hardly moves while it runs.
            simArguments: ["--start", "2024-06-04T14:00:00Z", "--speed", "1", "--rate-limit", "100000000"],
            tickers: tickers, streamerArguments: ["--lookback-sessions", String(sessions), "--heartbeat-interval", "0.1"])
        defer { trial.finish() }
        let bench = trial.bench, streamer = trial.streamer, symbols = trial.symbols
        BenchSupport.say("Streamer started: \(tickers) tickers, \(sessions) sessions of history …")
        let done = try await bench.waitUntilCaughtUp(streamer, tickers: tickers, timeout: timeout, poll: 0.05)
        let elapsed = BenchSupport.seconds(done - streamer.launchedAt)
        let rows = try bench.barCount()
        let fetches = streamer.log.components(separatedBy: "history fetched").count - 1
        let (oldest, newest) = try await bench.stocks.benchmarkPool.read { db in
            var oldest = "9999", newest = ""
            for ticker in symbols {
                let row = try Row.fetchOne(db, sql: "SELECT MIN(timestamp), MAX(timestamp) FROM minute_bars WHERE ticker = ?", arguments: [ticker])
                if let low: String = row?[0] { oldest = min(oldest, low) }
                if let high: String = row?[1] { newest = max(newest, high) }
            }
            return (oldest, newest)
        }
        let status = streamer.stop()
        let cpu = BenchSupport.childrenCPUSeconds() - cpuBefore
        BenchSupport.report("""
            autotrader-streamer backfill (\(BenchSupport.buildKind) build, \(tickers) tickers, \(sessions) sessions + today, REST pages of 10,000 bars)
              bars written:     \(BenchSupport.grouped(rows)) (\(oldest) → \(newest)), \(fetches) history fetches
              time:             \(BenchSupport.format(elapsed)) s from the streamer's launch to nothing pending
              bars/s:           \(BenchSupport.grouped(Int(Double(rows) / elapsed)))
              streamer CPU:     \(BenchSupport.format(cpu)) s (user + system; exit status \(status))
            """)
    }
}

// MARK: - streamer-latency

/// From the simulator handing a bar frame to its socket to the bar's commit in stocks.db, seen by another process.
struct StreamerLatencyBenchmark: AsyncParsableCommand, LoadedStreamer {
    static let configuration = CommandConfiguration.benchmark(
        "streamer-latency",
        abstract: "Latency from autotrader-sim sending a bar to its commit in stocks.db by autotrader-streamer (p50, p99).",
        discussion: """
            The simulator runs with --record-sends (the wall-clock instant each minute's frame goes to the socket, \
            GET /sim/sends). A dedicated read-only connection polls PRAGMA data_version about every millisecond and, \
            when it changes, reads each ticker's new bars: a bar's latency is the instant it was seen minus the \
            instant its frame was sent. The poll adds up to ~1 ms. Bars written by history fetches (no frame sent \
            for them during the window) are left out.
            """)

    @OptionGroup var load: StreamLoadOptions<StreamerLatencyBenchmark>
    /// Few tickers, five frames a second: each frame's latency, not the throughput.
    static let loadDefaults = StreamLoad(tickers: 20, speed: 300, seconds: 60, warmupTimeout: 300)

    func run() async throws {
        BenchSupport.warnIfDebugBuild()
        let (trial, _) = try await load.launchCaughtUp(label: "latency", simArguments: [
            "--start", "2024-06-04T14:00:00Z", "--speed", String(load.speed), "--skip-closed", "--record-sends",
            "--synthetic-symbols", String(max(0, load.tickers - 90)), "--rate-limit", "100000000",
        ])
        defer { trial.finish() }
        let bench = trial.bench, streamer = trial.streamer

        let observer = try CommitObserver(path: bench.stocksPath, tickers: trial.symbols)
        let windowStart = Date().timeIntervalSince1970
        let thread = Thread { observer.run() }
        thread.stackSize = 1 << 20
        thread.start()
        BenchSupport.say("Measuring \(Int(load.seconds)) s …")
        try await Task.sleep(for: .milliseconds(Int64(load.seconds * 1000)))
        observer.stop()
        await observer.finished()
        try streamer.ensureRunning()
        let windowEnd = Date().timeIntervalSince1970

        // The frames sent in the window, by minute (one connection unless the stream reconnected).
        let sendsObject = try await bench.simJSON("/sim/sends")
        let sendsData = try JSONSerialization.data(withJSONObject: sendsObject)
        let sends = try JSONDecoder().decode([SendRecord].self, from: sendsData)
        var sentAt: [String: Double] = [:]
        var connections = Set<Int>()
        for send in sends where send.sent_at >= windowStart && send.sent_at <= windowEnd {
            sentAt[send.minute] = min(sentAt[send.minute] ?? .infinity, send.sent_at)
            connections.insert(send.connection)
        }
        var perBar: [Duration] = [], perFrame: [String: Duration] = [:], unmatched = 0
        for seen in observer.seen {
            guard let sent = sentAt[seen.minute] else { unmatched += 1; continue }
            let latency = Duration.microseconds(Int64(((seen.at - sent) * 1e6).rounded()))
            perBar.append(latency)
            perFrame[seen.minute] = max(perFrame[seen.minute] ?? .zero, latency)
        }
        let framesNeverSeen = sentAt.keys.filter { perFrame[$0] == nil && sentAt[$0]! < windowEnd - 1 }.count
        guard !perBar.isEmpty else { throw BenchFailure("no streamed bar was seen in stocks.db; the streamer's log:\n\(streamer.log.suffix(3000))") }
        let bars = perBar.sorted(), frames = perFrame.values.sorted()
        func ms(_ value: Duration) -> String { BenchSupport.format(BenchSupport.milliseconds(value), decimals: 1) + " ms" }
        let p99 = BenchSupport.percentile(bars, 99)
        BenchSupport.report("""
            autotrader-streamer latency, simulator send → commit in stocks.db (\(BenchSupport.buildKind) build, \(load.tickers) tickers, simulator at \(Int(load.speed))×, \(Int(load.seconds)) s)
              bars:             \(bars.count) in \(frames.count) frames (\(connections.count) stream connection\(connections.count == 1 ? "" : "s"); \(unmatched) bars written by history fetches left out; \(framesNeverSeen) frames sent but never seen)
              per bar:          p50 \(ms(BenchSupport.percentile(bars, 50)))  p99 \(ms(p99))  max \(ms(bars.last!))  min \(ms(bars.first!))
              per frame (last bar of the minute seen): p50 \(ms(BenchSupport.percentile(frames, 50)))  p99 \(ms(BenchSupport.percentile(frames, 99)))
              target p99 ≤ 50 ms: \(p99 <= .milliseconds(50) ? "met" : "MISSED")
              observer:         \(observer.polls) polls of PRAGMA data_version (every ~1 ms), \(observer.changes) changes seen
            """)
    }

    struct SendRecord: Decodable {
        let connection: Int
        let minute: String
        let bars: Int
        // swiftlint:disable:next identifier_name
        let sent_at: Double
    }
}

/// Another process's view of stocks.db: a read-only connection that polls `PRAGMA data_version` about every
/// millisecond (it changes when any other connection commits) and then reads each ticker's bars newer than
/// the last it saw, noting the wall-clock instant of the poll that saw them.
final class CommitObserver: @unchecked Sendable {
    struct Seen {
        let ticker: String
        let minute: String
        let at: Double
    }

    private let queue: DatabaseQueue
    private let tickers: [String]
    private let lock = NSLock()
    private var stopping = false
    private var done = false
    private var last: [String: String] = [:]
    private(set) var seen: [Seen] = []
    private(set) var polls = 0
    private(set) var changes = 0

    init(path: String, tickers: [String]) throws {
        var configuration = Configuration()
        configuration.readonly = true
        queue = try DatabaseQueue(path: path, configuration: configuration)
        self.tickers = tickers
        try queue.inDatabase { db in
            for ticker in tickers {
                last[ticker] = try String.fetchOne(db, sql: "SELECT MAX(timestamp) FROM minute_bars WHERE ticker = ?", arguments: [ticker]) ?? ""
            }
        }
    }

    func stop() { lock.withLock { stopping = true } }

    func finished() async {
        while !lock.withLock({ done }) { try? await Task.sleep(for: .milliseconds(5)) }
    }

    func run() {
        defer { lock.withLock { done = true } }
        do {
            try queue.inDatabase { db in
                let version = try db.makeStatement(sql: "PRAGMA data_version")
                let newer = try db.makeStatement(sql: "SELECT timestamp FROM minute_bars WHERE ticker = ? AND timestamp > ? ORDER BY timestamp")
                var current = try Int.fetchOne(version) ?? 0
                while !lock.withLock({ stopping }) {
                    usleep(1000)
                    polls += 1
                    let value = try Int.fetchOne(version) ?? 0
                    guard value != current else { continue }
                    let at = Date().timeIntervalSince1970
                    current = value
                    changes += 1
                    // One read transaction for the whole look, so every ticker is read from the same snapshot.
                    try db.inTransaction(.deferred) {
                        for ticker in tickers {
                            let minutes = try String.fetchAll(newer, arguments: [ticker, last[ticker] ?? ""])
                            guard let newest = minutes.last else { continue }
                            for minute in minutes { seen.append(Seen(ticker: ticker, minute: minute, at: at)) }
                            last[ticker] = newest
                        }
                        return .commit
                    }
                }
            }
        } catch {
            FileHandle.standardError.write(Data("commit observer failed: \(error)\n".utf8))
        }
    }
}
