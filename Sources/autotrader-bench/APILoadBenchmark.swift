import ArgumentParser
@_spi(Benchmarks) import AutoTraderCore
import Foundation
import GRDB
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// GET /api/algorithms under concurrent load from a second process (wrk) on loopback.
struct APILoadBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "api-load",
        abstract: "Requests/s, p50/p99 and RSS of autotrader-api's GET /api/algorithms under wrk (needs `apt-get install wrk`).",
        discussion: """
            --cards running cards holding --transactions transactions each, autotrader-sim as the broker, and \
            wrk on loopback with --connections connections for --seconds. Reports requests/s, latency \
            percentiles and the api's resident memory idle and under load (/proc/PID/status VmRSS).
            """)

    @Option(help: "Running cards.") var cards = 20
    @Option(help: "Transactions per card.") var transactions = 10_000
    @Option(help: "Concurrent connections wrk keeps open.") var connections = 16
    @Option(help: "wrk threads.") var threads = 1
    @Option(help: "Seconds of load.") var seconds = 10
    @OptionGroup var scratchOptions: ScratchOptions

    static let tickers = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "V", "JNJ",
                          "WMT", "PG", "XOM", "MA", "HD", "CVX", "KO", "PEP", "BAC", "COST"]

    func run() async throws {
        BenchSupport.warnIfDebugBuild()
        guard let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw ValidationError("wrk not found: apt-get install wrk")
        }
        let scratch = try scratchOptions.make(label: "api")
        defer { scratch.cleanUp() }
        let systemPath = scratch.database("system.db"), stocksPath = scratch.database("stocks.db")
        BenchSupport.say("creating stocks.db (calendar) and system.db with \(cards) cards × \(BenchSupport.grouped(transactions)) transactions …")
        let stocks = try StocksDatabase.open(path: stocksPath, create: true)
        let system = try SystemDatabase.open(path: systemPath, create: true)
        let start = Timestamp("2024-01-02T14:30:00Z")!
        try await system.benchmarkPool.write { db in
            for card in 0..<cards {
                let ticker = Self.tickers[card % Self.tickers.count]
                try db.execute(
                    sql: "INSERT INTO algorithm_instances (display_name, algorithm_type, ticker, initial_capital, status, created_at) VALUES (?, 'sma_crossover', ?, 100000, 'running', ?)",
                    arguments: ["\(ticker)_sma_crossover_bench_\(card)", ticker, start.text])
                let id = db.lastInsertedRowID
                let statement = try db.makeStatement(sql: "INSERT INTO transactions (algorithm_id, type, shares, price, timestamp) VALUES (?, ?, ?, ?, ?)")
                for index in 0..<transactions {
                    // Alternate buys of 2 and sells of 1 so the card always holds shares.
                    let buy = index % 2 == 0
                    let price = 100 + Double(index % 97) / 4
                    try statement.execute(arguments: [id, buy ? "buy" : "sell", buy ? 2 : 1, price, start.adding(minutes: index).text])
                }
            }
        }
        var bars: [MinuteBar] = []
        for ticker in Self.tickers.prefix(cards) {
            for minute in 0..<60 {
                bars.append(MinuteBar(ticker: ticker, timestamp: Timestamp("2024-06-04T13:30:00Z")!.adding(minutes: minute),
                                      open: 120, high: 121, low: 119, close: 120 + Double(minute) / 100, volume: 1000))
            }
        }
        try stocks.insert(bars)

        let sim = try await SimulatorUnderTest.start(["--start", "2024-06-04T14:30:00Z", "--speed", "1"])
        defer { sim.stop() }
        let api = try await Self.startAPI(systemPath: systemPath, stocksPath: stocksPath, simURL: sim.baseURL.absoluteString)
        defer {
            api.process.terminate()
            api.process.waitUntilExit()
        }
        let url = "http://127.0.0.1:\(api.port)/api/algorithms"
        // Warm up (the first request sums every card's 10,000 rows), then let it settle.
        let (data, _) = try await URLSession.shared.data(from: URL(string: url)!)
        let body = String(decoding: data, as: UTF8.self)
        let cardCount = body.components(separatedBy: "\"display_name\"").count - 1
        guard cardCount == cards else { throw ValidationError("expected \(cards) cards, got: \(body.prefix(300))") }
        BenchSupport.say("response: \(data.count) bytes, \(cardCount) cards")
        try await Task.sleep(for: .seconds(2))
        let idleRSS = Self.rssKiB(pid: api.process.processIdentifier)

        let output = FileManager.default.temporaryDirectory.appendingPathComponent("bench-wrk-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let load = Process()
        load.executableURL = URL(fileURLWithPath: wrk)
        load.arguments = ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", url]
        load.standardOutput = try FileHandle(forWritingTo: output)
        load.standardError = FileHandle.standardError
        BenchSupport.say("load: wrk \(load.arguments!.joined(separator: " "))")
        try load.run()
        var peakRSS = idleRSS
        var samples: [Int] = []
        while load.isRunning {
            try await Task.sleep(for: .milliseconds(200))
            let rss = Self.rssKiB(pid: api.process.processIdentifier)
            samples.append(rss)
            peakRSS = max(peakRSS, rss)
        }
        let report = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: output)
        let afterRSS = Self.rssKiB(pid: api.process.processIdentifier)

        func value(after label: String) -> String? {
            report.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }
                .map { $0.trimmingCharacters(in: .whitespaces).dropFirst(label.count).trimmingCharacters(in: .whitespaces) }
        }
        BenchSupport.say(report)
        let rate = value(after: "Requests/sec:") ?? "?"
        let p50 = value(after: "50%") ?? "?", p90 = value(after: "90%") ?? "?", p99 = value(after: "99%") ?? "?"
        let errors = value(after: "Non-2xx or 3xx responses:") ?? "0"
        BenchSupport.say("""
            GET /api/algorithms, \(cards) running cards × \(BenchSupport.grouped(transactions)) transactions, wrk -t\(threads) -c\(connections) -d\(seconds)s on loopback
              requests/s:   \(rate)   (target ≥ 5,000)
              latency:      p50 \(p50), p90 \(p90), p99 \(p99)   (target p99 ≤ 10 ms)
              non-2xx:      \(errors)
              api RSS:      idle \(idleRSS / 1024) MB, under load peak \(peakRSS / 1024) MB (median \((samples.sorted().dropFirst(samples.count / 2).first ?? 0) / 1024) MB), after \(afterRSS / 1024) MB   (target ≤ 40 MB)
              build: \(BenchSupport.buildKind); load average \(BenchSupport.loadAverage())
            """)
    }

    struct APIUnderTest {
        let process: Process
        let port: Int
    }

    static func startAPI(systemPath: String, stocksPath: String, simURL: String) async throws -> APIUnderTest {
        var environment = ProcessInfo.processInfo.environment
        for key in ["ALPACA_API_KEY", "ALPACA_SECRET", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "AUTOTRADER_CONFIG"] { environment[key] = nil }
        environment["AUTOTRADER_SIM_URL"] = simURL
        let (process, address) = try await BenchProcess.startListening(
            "autotrader-api",
            ["--port", "0", "--bind", "127.0.0.1", "--log-level", "warning", "--system-db", systemPath, "--stocks-db", stocksPath],
            environment: environment, prefix: "autotrader-api listening on http://")
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            process.terminate()
            throw ValidationError("autotrader-api printed an address without a port: \(address)")
        }
        return APIUnderTest(process: process, port: port)
    }

    /// VmRSS of a process, in KiB (0 when unknown).
    static func rssKiB(pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}
