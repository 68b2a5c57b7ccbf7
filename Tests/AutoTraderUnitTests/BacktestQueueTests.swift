import AutoTraderSim
import Foundation
import Logging
import ServiceLifecycle
import Testing
@testable import AutoTraderAPI
@testable import AutoTraderCore
@testable import TradingAlgorithms

/// Backtests through the api, in process: the api's application (Hummingbird's router testing, every answer
/// checked against openapi.yaml), the simulator's on a loopback port, and the executor's own backtest queue
/// (`BacktestQueueService`) running against the same system.db and a fresh stocks.db.
@Suite(.serialized) struct BacktestQueueTests {
    struct Harness: Sendable {
        let api: InProcessAPI
        let system: SystemDatabase
        let stocks: StocksDatabase
        let simURL: URL
    }

    /// Tuesday 2024-06-04 10:00 New York: the last 20 sessions that have ended are 2024-05-06 … 2024-06-03.
    static let start = Timestamp.at("2024-06-04T14:00:00Z")

    static func run(queue: Bool, _ body: @Sendable (Harness) async throws -> Void) async throws {
        let directory = TemporaryDirectory("backtest-queue")
        let logger = Logger(label: "backtest-queue") { _ in SwiftLogNoOpLogHandler() }
        let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        let stocks = try StocksDatabase.open(path: directory.file("stocks.db"), create: true)
        try await InProcessSimulator.run(start: start, logger: logger) { simURL in
            let alpaca = AlpacaConfiguration.simulator(baseURL: simURL)
            try await withThrowingTaskGroup(of: Void.self) { group in
                if queue {
                    let service = BacktestQueueService(
                        system: system,
                        runner: BacktestQueueRunner(
                            system: system, stocks: stocks, calendar: try MarketCalendar(), compiled: AlgorithmRegistry.catalog,
                            client: AlpacaClient(configuration: alpaca, logger: logger), logger: logger),
                        pollInterval: .milliseconds(50), logger: logger)
                    group.addTask { try await service.run() }
                }
                var options = APIOptions(frontendPath: Repository.path("frontend"))
                options.heartbeatInterval = .seconds(60)
                let api = try APIServer.buildApplication(options: options, alpaca: alpaca, system: system, stocks: stocks, logger: logger)
                do {
                    try await api.test(.router) { client in
                        try await body(Harness(api: InProcessAPI(client: client, system: system), system: system, stocks: stocks, simURL: simURL))
                    }
                } catch {
                    group.cancelAll()
                    throw error
                }
                group.cancelAll()
            }
        }
        _ = directory
    }

    /// Polls `GET /api/backtests/{id}` until the backtest is done or failed (a deadline, not a stopwatch).
    static func finished(_ api: InProcessAPI, id: Int, timeout: TimeInterval = 240) async throws -> JSONAny {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let (status, body) = try await api.json("GET", "/api/backtests/\(id)")
            #expect(status == 200)
            if let state = body["state"]?.string, state == "done" || state == "failed" { return body }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("backtest \(id) did not finish within \(Int(timeout)) s")
        return .null
    }

    /// What `autotrader backtest --sessions 20 --json` prints for these inputs, from the same stocks.db.
    static func expectedJSON(_ stocks: StocksDatabase, algorithm: String, ticker: String, capital: Decimal) throws -> JSONAny {
        let calendar = try MarketCalendar()
        let period = try BacktestPeriod.last(20, calendar: calendar, now: start)
        let entries = algorithm == "all" ? AlgorithmRegistry.catalog.entries : [AlgorithmRegistry.catalog.entry(named: algorithm)!]
        let bars = try BacktestHistory(stocks: stocks, calendar: calendar)
            .bars(ticker: ticker, period: period, warmUp: entries.map(\.barsNeeded).max() ?? 0)
        let results = entries.map { Backtester(calendar: calendar).run($0, ticker: ticker, bars: bars, settings: BacktestSettings(capital: capital)) }
        return try JSONAny.parse(Data(try BacktestReport(period: period, results: results).json().utf8))
    }

    /// `--script-memory-mb` binds the workers the queue starts for backtests, not only the live ones.
    @Test func theQueuesScriptWorkersKeepTheExecutorsLimitsAtLowPriority() {
        var live = ScriptAlgorithms.Options(directory: "/nowhere")
        live.memoryLimitBytes = 256 << 20
        live.describeLimit = .seconds(7)
        let queue = ScriptBacktest.Options(queueOf: live)
        #expect(queue.memoryLimitBytes == 256 << 20)
        #expect(queue.describeLimit == .seconds(7))
        #expect(queue.lowPriority)
        #expect(queue.timeLimit == ScriptBacktest.Options().timeLimit)
        live.memoryLimitBytes = nil
        #expect(ScriptBacktest.Options(queueOf: live).memoryLimitBytes == nil)
    }

    @Test func aQueuedBacktestIsRunByTheExecutorsQueueAndAnswersWhatTheCLIWouldPrint() async throws {
        try await Self.run(queue: true) { harness in
            let api = harness.api
            let queued = try await api.request(
                "POST", "/api/backtests", body: Data(#"{"ticker":" aapl ","algorithm":"sma_crossover","capital":1000.10}"#.utf8))
            #expect(queued.status == 202, "\(queued.text)")
            let id = Int(queued.json["id"]?.number ?? 0)
            #expect(queued.header("Location") == "/api/backtests/\(id)")
            #expect(queued.json["ticker"]?.string == "AAPL" && queued.json["sessions"]?.number == 20 && queued.json["reused"] == .bool(false))

            let done = try await Self.finished(api, id: id)
            #expect(done["state"]?.string == "done", "\(done)")
            #expect(done["error"] == .null && done["started_at"]?.string != nil && done["finished_at"]?.string != nil)
            let result = try #require(done["result"])
            #expect(result["from"]?.string == "2024-05-06" && result["to"]?.string == "2024-06-03", "\(result)")
            #expect(result == (try Self.expectedJSON(harness.stocks, algorithm: "sma_crossover", ticker: "AAPL", capital: Decimal(string: "1000.10")!)))
            #expect((result["bars"]?.number ?? 0) >= 20 * 380, "the missing bars were fetched from the broker first")

            // The same request again is answered by the same row at once.
            let again = try await api.request(
                "POST", "/api/backtests", body: Data(#"{"ticker":"AAPL","algorithm":"sma_crossover","capital":1000.1,"sessions":20}"#.utf8))
            #expect(again.status == 202 && again.json["id"]?.number == Double(id) && again.json["reused"] == .bool(true))
            #expect(again.json["state"]?.string == "done" && again.json["result"] == result)

            // All: the leaderboard, as `--type all`.
            let all = try await api.json("POST", "/api/backtests", json: ["ticker": "AAPL", "algorithm": "all", "capital": 5000])
            #expect(all.0 == 202)
            let ranked = try await Self.finished(api, id: Int(all.1["id"]?.number ?? 0))
            #expect(ranked["result"] == (try Self.expectedJSON(harness.stocks, algorithm: "all", ticker: "AAPL", capital: 5000)))
            #expect(ranked["result"]?["leaderboard"]?.array?.count == AlgorithmRegistry.catalog.entries.count)
        }
    }

    @Test func badRequestsAreRefusedWithAClearErrorAndQueueNothing() async throws {
        try await Self.run(queue: false) { harness in
            let api = harness.api
            try harness.system.publishCatalog(
                AlgorithmRegistry.catalog.entries.map {
                    CatalogEntry(name: $0.name, kind: .swift, summary: $0.summary, barsNeeded: $0.barsNeeded, status: .ok)
                } + [
                    CatalogEntry(name: "bollinger_reversion", kind: .script, summary: "a script", barsNeeded: 20, status: .ok, path: "/x.py"),
                    CatalogEntry(name: "broken", kind: .script, summary: "", barsNeeded: nil, status: .error, error: "syntax error", path: "/y.py"),
                ])
            let cases: [(String, String)] = [
                (#"{"algorithm":"sma_crossover","capital":1000}"#, "missing field \"ticker\""),
                (#"{"ticker":"AAPL","capital":1000}"#, "missing field \"algorithm\""),
                (#"{"ticker":"AAPL","algorithm":"sma_crossover"}"#, "missing field \"capital\""),
                (#"{"ticker":"12","algorithm":"sma_crossover","capital":1000}"#, "is not a ticker"),
                (#"{"ticker":"AAPL","algorithm":"nope","capital":1000}"#, "unknown algorithm \"nope\"; available: "),
                (#"{"ticker":"AAPL","algorithm":"broken","capital":1000}"#, "algorithm broken can't run: syntax error"),
                (#"{"ticker":"AAPL","algorithm":"sma_crossover","capital":0}"#, "capital must be more than 0"),
                (#"{"ticker":"AAPL","algorithm":"sma_crossover","capital":-5}"#, "capital must be more than 0"),
                (#"{"ticker":"AAPL","algorithm":"sma_crossover","capital":10.001}"#, "more than two decimals"),
                (#"{"ticker":"AAPL","algorithm":"sma_crossover","capital":"1000"}"#, "must be a number"),
                (#"{"ticker":"AAPL","algorithm":"sma_crossover","capital":1000,"sessions":0}"#, "sessions must be a whole number from 1 to 260"),
                (#"{"ticker":"AAPL","algorithm":"sma_crossover","capital":1000,"sessions":261}"#, "sessions must be a whole number from 1 to 260"),
                (#"{"ticker":"AAPL","algorithm":"sma_crossover","capital":1000,"sessions":2.5}"#, "sessions must be a whole number"),
                (#"{"ticker":"AAPL","algorithm":"sma_crossover","capital":1000,"pin":"2020"}"#, "unknown field \"pin\""),
                (#"["AAPL"]"#, "must be a JSON object"),
                (#"{"ticker":"ZZZZZZ","algorithm":"sma_crossover","capital":1000}"#, "the broker doesn't know the ticker ZZZZZZ"),
            ]
            for (body, message) in cases {
                let reply = try await api.request("POST", "/api/backtests", body: Data(body.utf8))
                #expect(reply.status == 400 && (reply.json["error"]?.string ?? "").contains(message), "\(body) → \(reply.status) \(reply.text)")
            }
            #expect(try await api.request("POST", "/api/backtests", body: Data(), headers: ["Content-Type": "text/plain"]).status == 415)
            #expect(try await api.request("GET", "/api/backtests/abc").status == 400)
            #expect(try await api.request("GET", "/api/backtests/0").status == 400)
            #expect(try await api.request("GET", "/api/backtests/999").status == 404)
            for method in ["PUT", "DELETE", "PATCH"] {
                let reply = try await api.request(method, "/api/backtests/1")
                #expect(reply.status == 405 && reply.header("Allow") == "GET, HEAD", "\(method) \(reply.text)")
            }
            #expect(try await api.request("GET", "/api/backtests").status == 405)
            #expect(try harness.system.backtest(id: 1) == nil, "a refused request queued nothing")
            // A script algorithm whose status is ok is backtestable (the executor's queue starts a worker for it).
            let script = try await api.request(
                "POST", "/api/backtests", body: Data(#"{"ticker":"AAPL","algorithm":"bollinger_reversion","capital":1000}"#.utf8))
            #expect(script.status == 202 && script.json["state"]?.string == "queued", "\(script.text)")
        }
    }

    @Test func eachClientMayQueueOnlyAFewAndTheSameRequestAgainCostsNothing() async throws {
        try await Self.run(queue: false) { harness in
            let api = harness.api
            func ask(_ capital: Int) async throws -> InProcessAPI.Reply {
                try await api.request(
                    "POST", "/api/backtests", body: Data(#"{"ticker":"AAPL","algorithm":"rsi_bounce","capital":\#(capital)}"#.utf8))
            }
            // Five wait in the queue (nothing runs it here): a client's share.
            for capital in 1...5 { #expect(try await ask(capital * 100).status == 202) }
            let share = try await ask(600)
            #expect(share.status == 429 && share.header("Retry-After") == "30", "\(share.text)")
            #expect(share.json["error"]?.string?.contains("you have 5 backtests waiting") == true)
            // The same request as one queued: the same row, no allowance spent.
            for _ in 1...10 {
                let reused = try await ask(300)
                #expect(reused.status == 202 && reused.json["reused"] == .bool(true) && reused.json["id"]?.number == 3)
            }
            // The sixth new request of the minute used the last token: the seventh is refused too (by the bucket, or by
            // the share if a token came back meanwhile), and nothing is queued.
            let throttled = try await ask(700)
            #expect(throttled.status == 429 && Int(throttled.header("Retry-After") ?? "") ?? 0 >= 1, "\(throttled.text)")
            #expect(try harness.system.backtest(id: 6) == nil)
        }
    }

    @Test func aRequestNamesCompiledAlgorithmsAndTheScriptsTheCatalogHasAsOk() {
        let compiled = AlgorithmRegistry.catalog
        let catalog = [
            CatalogEntry(name: "mine", kind: .script, summary: "a script", barsNeeded: 20, status: .ok, path: "/algorithms/mine.py"),
            CatalogEntry(name: "broken", kind: .script, summary: "", barsNeeded: nil, status: .error, error: "syntax error", path: "/algorithms/broken.py"),
        ]
        func names(_ name: String) -> [String]? { try? BacktestQueueRunner.entries(for: name, compiled: compiled, catalog: catalog).get().map(\.name) }
        #expect(names("all") == compiled.names + ["mine"], "all: every compiled algorithm and every ok script, none in error")
        #expect(names("sma_crossover") == ["sma_crossover"])
        guard case .success(let found) = BacktestQueueRunner.entries(for: "mine", compiled: compiled, catalog: catalog),
              case .script(let name, let path)? = found.first, found.count == 1
        else {
            Issue.record("the ok script is not found as a script")
            return
        }
        #expect(name == "mine" && path == "/algorithms/mine.py")
        func failure(_ name: String) -> String? {
            if case .failure(let failure) = BacktestQueueRunner.entries(for: name, compiled: compiled, catalog: catalog) { return failure.description }
            return nil
        }
        #expect(failure("broken") == "script algorithm broken can't run: syntax error")
        #expect(failure("nope")?.contains("unknown algorithm \"nope\" (backtestable: macd_signal, mine, rsi_bounce, sma_crossover, or all)") == true, "\(failure("nope") ?? "")")
    }

    @Test func aClientGetsSixBacktestsAtOnceThenOneEveryTenSeconds() async {
        let throttle = BacktestThrottle()
        let start = ContinuousClock.now
        for _ in 1...6 { #expect(await throttle.take(client: "a", now: start) == nil) }
        #expect(await throttle.take(client: "a", now: start) == 10)
        #expect(await throttle.take(client: "b", now: start) == nil, "each client has its own allowance")
        #expect(await throttle.take(client: "a", now: start + .seconds(5)) == 5)
        #expect(await throttle.take(client: "a", now: start + .seconds(10)) == nil)
        #expect(await throttle.take(client: "a", now: start + .seconds(10)) != nil)
    }

    @Test func theQueueIsBoundedPrunedAndRequeuesWhatAKillInterrupted() throws {
        let directory = TemporaryDirectory("backtest-rows")
        let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        var limits = BacktestQueueLimits()
        limits.maxWaiting = 3
        limits.maxWaitingPerClient = 2
        let now = Timestamp.at("2026-11-30T12:00:00Z")
        func enqueue(_ capital: Decimal, _ client: String, at time: Timestamp = now) throws -> (job: BacktestJob, reused: Bool) {
            try system.enqueueBacktest(ticker: "AAPL", algorithm: "sma_crossover", capital: capital, sessions: 20, client: client, limits: limits, now: time)
        }
        _ = try enqueue(100, "a")
        _ = try enqueue(200, "a")
        #expect(throws: BacktestQueueFull(waiting: 2, limit: 2, perClient: true)) { try enqueue(300, "a") }
        _ = try enqueue(300, "b")
        #expect(throws: BacktestQueueFull(waiting: 3, limit: 3, perClient: false)) { try enqueue(400, "c") }

        // Claimed oldest first; a running row the executor died with is queued again, until its third start.
        let first = try #require(try system.claimNextBacktest(now: now))
        #expect(first.capital == 100 && first.state == .running && first.attempts == 1)
        #expect(try system.requeueInterruptedBacktests(now: now) == (1, 0))
        #expect(try system.backtest(id: first.id)?.state == .queued)
        _ = try system.claimNextBacktest(now: now)
        _ = try system.requeueInterruptedBacktests(now: now)
        let third = try #require(try system.claimNextBacktest(now: now))
        #expect(third.id == first.id && third.attempts == 3)
        #expect(try system.requeueInterruptedBacktests(now: now) == (0, 1))
        let gaveUp = try #require(try system.backtest(id: first.id))
        #expect(gaveUp.state == .failed && gaveUp.error == "the executor stopped during this backtest 3 times; not tried again")

        // A failed request is asked again as a new row; a finished one is reused; a week later both are gone.
        let retried = try enqueue(100, "c")
        #expect(!retried.reused && retried.job.id != first.id)
        let second = try #require(try system.claimNextBacktest(now: now))
        try system.finishBacktest(id: second.id, result: "{}", now: now)
        #expect(try enqueue(200, "d").reused)
        #expect(try !enqueue(200, "d", at: now.adding(seconds: 601)).reused, "reused only within 10 minutes")
        var roomy = limits
        roomy.maxWaiting = 10
        _ = try system.enqueueBacktest(
            ticker: "AAPL", algorithm: "sma_crossover", capital: 999, sessions: 20, client: "e", limits: roomy, now: now.adding(seconds: 8 * 86_400))
        #expect(try system.backtest(id: first.id) == nil && system.backtest(id: second.id) == nil)
        #expect(try system.backtest(id: retried.job.id) != nil, "a row still waiting is never pruned")
    }

    @Test func lowPriorityWorkRunsOffThePoolAndCanBeAbandoned() async throws {
        let value = await LowPriorityThread.run { Thread.isMainThread ? -1 : 42 }
        #expect(value == 42)
        #expect(LowPriorityThread.lowered.load(ordering: .relaxed) > 0, "neither SCHED_IDLE nor nice 19 could be set")
        let gate = DispatchSemaphore(value: 0)
        let task = Task { await LowPriorityThread.run { gate.wait(); return 1 } }
        task.cancel()
        #expect(await task.value == nil)
        gate.signal()
    }
}
