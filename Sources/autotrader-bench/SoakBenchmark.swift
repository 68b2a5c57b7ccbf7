import ArgumentParser
import AutoTraderCore
import Foundation
import GRDB
import TradingAlgorithms
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The whole system for many trading days at high acceleration: does anything leak, grow or break?
struct SoakBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "soak",
        abstract: "The whole system for N trading days at high acceleration: RSS, database growth, integrity, logs.",
        discussion: """
            Real processes, as deployed: autotrader-sim --skip-closed (nights and weekends take no time), the \
            streamer, the executor and the api on their own databases. Cards are created through the api with the \
            PIN; each morning the oldest card is stopped with "sell everything" and a new one created, while a \
            dashboard-like poller reads the api several times a second. Every few seconds it notes each service's \
            RSS and the databases' sizes and rows; at the end it judges them and checks that both databases pass \
            PRAGMA integrity_check, that the simulator's fills and system.db's transactions are the same set, that \
            autotrader reconcile finds no difference and that no service logged an error.
            """)

    @Option(help: "Trading days to run.") var days = 30
    @Option(help: "Running cards.") var cards = 20
    @Option(help: "Simulated seconds per real second (600: a market minute every 0.1 s).") var speed = 600.0
    @Option(help: "Simulated start, UTC (just before an open).") var start = "2024-06-03T13:25:00Z"
    @Option(name: .customLong("warmup-days"), help: "Days after which the services' heap must stay flat (caches fill as system.db reaches its size: holds are kept 7 days).")
    var warmupDays = 10
    @Option(name: .customLong("keep-holds"), help: "The executor's --keep-holds (days the decision log keeps holds).") var keepHolds = 7
    @Option(name: .customLong("sample-every"), help: "Real seconds between samples.") var sampleEvery = 2.0
    @Option(name: .customLong("min-coverage"), help: "Percent of each whole day's market minutes the cards must be decided in (0: report only).")
    var minCoverage = 0.0
    @Option(name: .customLong("rate-budget"), help: "Requests per broker minute the simulator grants (Alpaca: 200).") var rateBudget = 200
    @Option(name: .customLong("trade-updates"), help: "The executor's --trade-updates: on (fills from the trade-updates stream) or off (polling alone).")
    var tradeUpdates = "on"
    @OptionGroup var scratchOptions: ScratchOptions

    static let pin = "2020" // the default PIN of a new system.db

    func validate() throws {
        guard days >= 1, cards >= 1, speed >= 1, warmupDays >= 1, keepHolds >= 1, sampleEvery > 0 else {
            throw ValidationError("--days, --cards, --speed, --warmup-days, --keep-holds and --sample-every must be positive")
        }
        guard Timestamp(start) != nil else { throw ValidationError("--start: YYYY-MM-DDTHH:MM:SSZ") }
        guard ["on", "off"].contains(tradeUpdates) else { throw ValidationError("--trade-updates: on or off") }
    }

    func run() async throws {
        BenchSupport.warnIfDebugBuild()
        let scratch = try scratchOptions.make(label: "soak")
        let soak = try await SoakRun(options: self, folder: scratch.directory)
        let verdicts: [SoakVerdict]
        do {
            verdicts = try await soak.run()
        } catch {
            await soak.stopAll()
            BenchSupport.say("soak aborted: \(error)\nlogs and databases kept in \(scratch.directory)")
            throw error
        }
        BenchSupport.say("")
        for verdict in verdicts { BenchSupport.say(verdict.line) }
        let failed = verdicts.filter { !$0.passed }
        if failed.isEmpty {
            BenchSupport.say("SOAK PASSED")
            if !scratchOptions.keep && scratchOptions.directory == nil { try? FileManager.default.removeItem(atPath: scratch.directory) }
        } else {
            BenchSupport.say("logs and databases kept in \(scratch.directory)")
            throw BenchFailure("SOAK FAILED: \(failed.count) of \(verdicts.count) checks")
        }
    }
}

/// One judged property of a soak.
struct SoakVerdict {
    let passed: Bool
    let text: String
    var line: String { (passed ? "ok    " : "FAIL  ") + text }
    static func check(_ passed: Bool, _ text: String) -> SoakVerdict { SoakVerdict(passed: passed, text: text) }
}

/// What one look at the running system saw.
struct SoakSample {
    let session: Int           // index of the trading day (0-based) the simulator was in or after
    let simTime: Timestamp
    let rss: [String: Int]     // bytes, by service
    let anon: [String: Int]    // the anonymous part (heap, stacks), by service
    let sqlite: [String: Int]  // of the heap, what SQLite holds (page caches, statements), by service, as its heartbeat said
    let files: [String: Int]   // bytes, by file name (db and -wal)
    let bars: Int
    let transactions: Int
    let intents: Int
    let decisions: Int
    let holds: Int
    let decidedMinutes: Int    // distinct minutes of this trading day with a decision (not a skip) of some card
}

/// A soak in progress: the processes, the schedule and the samples.
final class SoakRun: @unchecked Sendable {
    let options: SoakBenchmark
    let folder: String
    let systemPath: String
    let stocksPath: String
    let sessions: [MarketSession]
    var sim: BenchProcess!
    var services: [BenchProcess] = []
    var apiBase = ""
    var simBase: URL!
    var environment: [String: String] = [:]
    var samples: [SoakSample] = []
    var cardsCreated = 0
    var cardsStopped = 0
    let poller = SoakPoller()

    static let serviceNames = ["autotrader-streamer", "autotrader-executor", "autotrader-api"]

    init(options: SoakBenchmark, folder: String) async throws {
        self.options = options
        self.folder = folder
        systemPath = (folder as NSString).appendingPathComponent("system.db")
        stocksPath = (folder as NSString).appendingPathComponent("stocks.db")
        for path in [systemPath, stocksPath] { BenchSupport.removeDatabase(at: path) }
        let begin = Timestamp(options.start)!
        let calendar = try MarketCalendar()
        let first = calendar.newYorkDate(of: begin)
        let candidates = calendar.sessions(from: first, through: first.adding(days: options.days * 2 + 14))
        sessions = Array(candidates.filter { $0.close > begin }.prefix(options.days))
        guard sessions.count == options.days else { throw BenchFailure("the calendar has no \(options.days) sessions after \(options.start)") }
    }

    func run() async throws -> [SoakVerdict] {
        try await startSystem()
        let tickers = try await BenchSupport.tradableSymbols(simBase, count: min(10, options.cards))
        let algorithms = AlgorithmRegistry.catalog.names
        for index in 0..<options.cards {
            try await createCard(ticker: tickers[index % tickers.count], algorithm: algorithms[index % algorithms.count])
        }
        BenchSupport.say("""
            soak: \(options.days) trading days (\(sessions.first!.date) … \(sessions.last!.date)), \(options.cards) cards on \
            \(tickers.count) tickers, \(Int(options.speed))× with nights skipped, \(BenchSupport.buildKind) build; files in \(folder)
            """)
        let pollerTask = Task { await poller.run(base: apiBase) }
        defer { pollerTask.cancel() }

        let end = sessions.last!.close
        var day = -1
        var lastSample = Date.distantPast
        while true {
            for process in [sim!] + services where !process.isRunning {
                throw BenchFailure("\(process.name) died (status \(process.process.terminationStatus)): \(process.log.suffix(3000))")
            }
            let now = try await simNow()
            let session = sessions.lastIndex { $0.open <= now } ?? 0
            // Each day that ended (on a loaded machine a whole short day can pass between two looks): its
            // line, seen whole (its decisions are all in), and the morning's churn.
            while session > day {
                if day >= 0 {
                    let closing = try sample(session: day, simTime: now)
                    samples.append(closing)
                    report(closing)
                    try await churn(tickers: tickers, algorithms: algorithms, day: day + 1)
                }
                day += 1
            }
            if now >= end { break }
            if Date().timeIntervalSince(lastSample) >= options.sampleEvery {
                lastSample = Date()
                samples.append(try sample(session: session, simTime: now))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        // The last close: every card is stopped through the api, and the orders still open are followed to
        // their end, so the broker and system.db can be compared with nothing in flight.
        try await stopEveryCard()
        samples.append(try sample(session: sessions.count - 1, simTime: try await simNow()))
        report(samples.last!)
        pollerTask.cancel()
        let polls = await poller.summary()
        return try await finish(polls: polls)
    }

    // MARK: - The system

    func startSystem() async throws {
        var base = ProcessInfo.processInfo.environment
        for key in base.keys where key.hasPrefix("ALPACA_") || key.hasPrefix("APCA_") || key.hasPrefix("AUTOTRADER_") || key == "JOURNAL_STREAM" || key == "NOTIFY_SOCKET" {
            base[key] = nil
        }
        sim = try BenchProcess(
            "autotrader-sim",
            ["--port", "0", "--log-level", "warning", "--start", options.start, "--speed", String(options.speed), "--skip-closed",
             "--cash", "100000000",
             // Alpaca's budget is per minute of its clock; at N× a broker minute lasts 1/N of a real one.
             "--rate-limit", String(Int(Double(options.rateBudget) * options.speed))],
            environment: base, logDirectory: folder)
        let address = try await sim.awaitLine(startingWith: "autotrader-sim listening on ")
        guard let url = URL(string: address) else { throw BenchFailure("the simulator's address \(address) is not a URL") }
        simBase = url
        // A configuration file of its own, as deployed (and so nothing from /etc/autotrader leaks in).
        let config = (folder as NSString).appendingPathComponent("autotrader.env")
        try "AUTOTRADER_SIM_URL=\(url.absoluteString)\n".write(toFile: config, atomically: true, encoding: .utf8)
        environment = base
        environment["AUTOTRADER_CONFIG"] = config

        let initialize = try BenchProcess(
            "autotrader", ["init", "--system-db", systemPath, "--stocks-db", stocksPath], environment: environment, logDirectory: folder)
        guard await initialize.wait() == 0 else {
            throw BenchFailure("autotrader init failed: \(initialize.log)")
        }
        let databases = ["--system-db", systemPath, "--stocks-db", stocksPath]
        services = [
            try BenchProcess("autotrader-streamer", databases + ["--heartbeat-interval", "1"], environment: environment, logDirectory: folder),
            try BenchProcess("autotrader-executor", databases + ["--heartbeat-interval", "1", "--keep-holds", String(options.keepHolds),
                                                                 "--trade-updates", options.tradeUpdates],
                             environment: environment, logDirectory: folder),
            try BenchProcess("autotrader-api", databases + ["--port", "0", "--bind", "127.0.0.1"], environment: environment, logDirectory: folder),
        ]
        apiBase = "http://" + (try await services[2].awaitLine(startingWith: "autotrader-api listening on http://"))
    }

    func stopAll() async {
        for service in services.reversed() { _ = await service.stop() }
        if let sim { _ = await sim.stop(timeout: 60) }
    }

    func simNow() async throws -> Timestamp {
        let (data, _) = try await URLSession.shared.data(from: simBase.appendingPathComponent("sim/clock"))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any], let epoch = object["epoch"] as? Double else {
            throw BenchFailure("unexpected /sim/clock answer")
        }
        return Timestamp(secondsSinceEpoch: Int64(epoch))
    }

    // MARK: - Cards through the api

    func createCard(ticker: String, algorithm: String) async throws {
        let body: [String: Any] = ["ticker": ticker, "algorithm_type": algorithm, "initial_capital": 10_000]
        let (status, text) = try await SoakPoller.send("POST", apiBase + "/api/algorithms", json: body)
        guard status == 201 else { throw BenchFailure("creating a \(algorithm) card on \(ticker): HTTP \(status) \(text)") }
        cardsCreated += 1
    }

    /// The api's running cards, as the dashboard gets them.
    private func cardList() async throws -> [[String: Any]] {
        let (status, text) = try await SoakPoller.send("GET", apiBase + "/api/algorithms")
        guard status == 200, let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let list = object["algorithms"] as? [[String: Any]] else { throw BenchFailure("GET /api/algorithms: HTTP \(status) \(text.prefix(300))") }
        return list
    }

    /// Each morning: the oldest running card sells everything and stops; a new card takes its place.
    private func churn(tickers: [String], algorithms: [String], day: Int) async throws {
        let running = try await cardList().filter { ($0["status"] as? String) == "running" && ($0["stopping"] as? Bool) != true }
        if let oldest = running.compactMap({ $0["id"] as? Int }).min() {
            let (stopStatus, stopText) = try await SoakPoller.send("DELETE", apiBase + "/api/algorithms/\(oldest)?liquidate=true")
            guard stopStatus == 200 else { throw BenchFailure("stopping card \(oldest): HTTP \(stopStatus) \(stopText)") }
            cardsStopped += 1
        }
        try await createCard(ticker: tickers[(day * 3) % tickers.count], algorithm: algorithms[day % algorithms.count])
    }

    private func stopEveryCard() async throws {
        for id in try await cardList().compactMap({ $0["id"] as? Int }) {
            let (stopStatus, stopText) = try await SoakPoller.send("DELETE", apiBase + "/api/algorithms/\(id)?keep_shares=true")
            guard stopStatus == 200 else { throw BenchFailure("stopping card \(id): HTTP \(stopStatus) \(stopText)") }
        }
        var configuration = Configuration()
        configuration.readonly = true
        let system = try DatabaseQueue(path: systemPath, configuration: configuration)
        for _ in 0..<300 {
            let open = try await system.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM order_intents WHERE closed_at IS NULL") ?? 0 }
            if open == 0 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchFailure("orders still open 30 s after every card was stopped")
    }

    // MARK: - Samples

    func sample(session: Int, simTime: Timestamp) throws -> SoakSample {
        var rss: [String: Int] = [:], anon: [String: Int] = [:]
        for process in services + [sim!] {
            rss[process.name] = process.residentBytes ?? 0
            anon[process.name] = process.residentAnonymousBytes ?? 0
        }
        var files: [String: Int] = [:]
        for path in [systemPath, stocksPath] {
            let name = (path as NSString).lastPathComponent
            files[name] = Self.size(path)
            files[name + "-wal"] = Self.size(path + "-wal")
        }
        var configuration = Configuration()
        configuration.readonly = true
        let stocks = try DatabaseQueue(path: stocksPath, configuration: configuration)
        let bars = try stocks.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM minute_bars") ?? 0 }
        let system = try DatabaseQueue(path: systemPath, configuration: configuration)
        let day = sessions[session]
        let counts = try system.read { db in
            try Row.fetchOne(db, sql: """
                SELECT (SELECT count(*) FROM transactions) AS t, (SELECT count(*) FROM order_intents) AS i,
                       (SELECT count(*) FROM decisions) AS d, (SELECT count(*) FROM decisions WHERE decision = 'hold') AS h,
                       (SELECT count(DISTINCT minute) FROM decisions WHERE minute >= ? AND minute < ? AND decision <> 'skip') AS m
                """, arguments: [day.open.text, day.close.text])!
        }
        let sqlite = try system.read { db in
            try Row.fetchAll(db, sql: "SELECT service, detail FROM service_heartbeats").reduce(into: [String: Int]()) { result, row in
                let detail = try? JSONSerialization.jsonObject(with: Data((row["detail"] as String? ?? "").utf8)) as? [String: Any]
                if let bytes = detail?["sqlite_memory_bytes"] as? Int { result["autotrader-" + (row["service"] as String)] = bytes }
            }
        }
        return SoakSample(
            session: session, simTime: simTime, rss: rss, anon: anon, sqlite: sqlite, files: files, bars: bars,
            transactions: counts["t"], intents: counts["i"], decisions: counts["d"], holds: counts["h"], decidedMinutes: counts["m"])
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    static func mb(_ bytes: Int) -> String { BenchSupport.format(Double(bytes) / 1_048_576, decimals: 1) + " MB" }

    private func report(_ s: SoakSample) {
        let rss = Self.serviceNames.map {
            "\($0.replacingOccurrences(of: "autotrader-", with: "")) \(Self.mb(s.rss[$0] ?? 0)) (heap \(Self.mb(s.anon[$0] ?? 0)), SQLite \(Self.mb(s.sqlite[$0] ?? 0)))"
        }
        BenchSupport.say("""
            day \(s.session + 1)/\(sessions.count) \(sessions[s.session].date): RSS \(rss.joined(separator: ", ")) (sim \(Self.mb(s.rss["autotrader-sim"] ?? 0))); \
            stocks.db \(Self.mb(s.files["stocks.db"] ?? 0)) for \(BenchSupport.grouped(s.bars)) bars; system.db \(Self.mb(s.files["system.db"] ?? 0)): \
            \(s.transactions) transactions, \(s.intents) intents, \(BenchSupport.grouped(s.decisions)) decisions (\(BenchSupport.grouped(s.holds)) holds); \
            cards decided in \(s.decidedMinutes) of the day's \(sessions[s.session].minuteCount) minutes
            """)
    }

    // MARK: - The verdicts

    private func finish(polls: SoakPoller.Summary) async throws -> [SoakVerdict] {
        var verdicts: [SoakVerdict] = []
        // Before anything stops: the cards' shares against the broker's positions.
        let reconcile = try BenchProcess(
            "autotrader", ["reconcile", "--system-db", systemPath, "--stocks-db", stocksPath], environment: environment, logDirectory: folder)
        let reconciled = await reconcile.wait() == 0
        verdicts.append(.check(reconciled, "autotrader reconcile: cards' shares equal the broker's positions"
            + (reconciled ? "" : ": \(reconcile.stdout.suffix(1500)) \(reconcile.log.suffix(500))")))
        verdicts.append(try await fillsVersusTransactions())
        verdicts.append(try await requestsPerOrder())

        var exits: [String] = []
        for service in services.reversed() {
            let status = await service.stop()
            if status != 0 { exits.append("\(service.name) \(status.map(String.init) ?? "killed after 15 s")") }
        }
        verdicts.append(.check(exits.isEmpty, "every service ran the whole soak and exited 0 on SIGTERM" + (exits.isEmpty ? "" : ": \(exits)")))
        _ = await sim.stop(timeout: 60)

        verdicts.append(.check(polls.failures == 0,
            "api: \(BenchSupport.grouped(polls.requests)) dashboard requests, \(polls.failures) failed" + (polls.firstFailure.map { " (first: \($0))" } ?? "")))
        verdicts.append(coverageVerdict())
        verdicts += rssVerdicts()
        verdicts += growthVerdicts()
        for path in [stocksPath, systemPath] {
            let queue = try DatabaseQueue(path: path)
            let result = try await queue.read { try String.fetchAll($0, sql: "PRAGMA integrity_check") }
            let name = (path as NSString).lastPathComponent
            verdicts.append(.check(result == ["ok"], "\(name): PRAGMA integrity_check \(result.prefix(5).joined(separator: "; "))"))
        }
        verdicts += logVerdicts()
        verdicts.append(.check(cardsCreated == options.cards + cardsStopped && cardsStopped == sessions.count - 1,
            "\(cardsCreated) cards created and \(cardsStopped) stopped with \"sell everything\" through the api (the rest stopped at the end)"))
        return verdicts
    }

    /// The executor kept up: on every whole day (the first starts late, while the system starts), the cards were
    /// decided in nearly every market minute. A stall (a rate-limit pause, a hung request) shows here first.
    private func coverageVerdict() -> SoakVerdict {
        let whole = (1..<sessions.count).compactMap { day in samples.last { $0.session == day }.map { (day, $0) } }
        guard !whole.isEmpty else { return .check(true, "executor coverage: not judged (no whole day)") }
        let worst = whole.min { Double($0.1.decidedMinutes) / Double(sessions[$0.0].minuteCount) < Double($1.1.decidedMinutes) / Double(sessions[$1.0].minuteCount) }!
        let share = Double(worst.1.decidedMinutes) / Double(sessions[worst.0].minuteCount)
        let total = whole.reduce(0) { $0 + $1.1.decidedMinutes }, possible = whole.reduce(0) { $0 + sessions[$1.0].minuteCount }
        let required = options.minCoverage / 100
        return .check(share >= required,
            "executor kept up: cards decided in \(BenchSupport.format(100 * Double(total) / Double(possible)))% of the market minutes of days 2–\(sessions.count); "
            + "worst day \(sessions[worst.0].date): \(worst.1.decidedMinutes) of \(sessions[worst.0].minuteCount) "
            + (required > 0 ? "(at least \(BenchSupport.format(options.minCoverage, decimals: 0))% each day)" : "(reported, not judged: --min-coverage 0)"))
    }

    /// RSS after warm-up against RSS at the end, per service (the simulator stands in for Alpaca: shown, not
    /// judged). Judged on the anonymous part (heap and stacks), where a leak shows; the file-backed rest is
    /// the program's code and the pages of the memory-mapped databases it has touched, which grow with the
    /// data and which the kernel reclaims under pressure. Both are shown.
    private func rssVerdicts() -> [SoakVerdict] {
        let warm = samples.filter { $0.session >= options.warmupDays - 1 && $0.session <= options.warmupDays }
        let last = samples.filter { $0.session >= sessions.count - 2 }
        guard sessions.count >= options.warmupDays + 3, !warm.isEmpty, !last.isEmpty else {
            return [.check(true, "RSS: not judged (fewer than \(options.warmupDays + 3) days: no warm-up to compare with)")]
        }
        func median(_ values: [Int]) -> Int { values.sorted()[values.count / 2] }
        return (Self.serviceNames + ["autotrader-sim"]).map { name in
            let before = median(warm.map { $0.anon[name] ?? 0 }), after = median(last.map { $0.anon[name] ?? 0 })
            let rssBefore = median(warm.map { $0.rss[name] ?? 0 }), rssAfter = median(last.map { $0.rss[name] ?? 0 })
            let sqliteBefore = median(warm.map { $0.sqlite[name] ?? 0 }), sqliteAfter = median(last.map { $0.sqlite[name] ?? 0 })
            let peak = samples.map { $0.rss[name] ?? 0 }.max() ?? 0
            let growth = after - before
            let allowed = max(4 << 20, before / 10)
            // The simulator has no heartbeat, and no SQLite.
            let sqlite = name == "autotrader-sim" ? "" : ", of which SQLite \(Self.mb(sqliteBefore)) → \(Self.mb(sqliteAfter))"
            let text = "\(name): heap \(Self.mb(before)) after day \(options.warmupDays), \(Self.mb(after)) at the end "
                + "(\(growth >= 0 ? "+" : "")\(BenchSupport.format(Double(growth) / 1_048_576, decimals: 1)) MB; flat means within \(Self.mb(allowed)))"
                + "\(sqlite); RSS \(Self.mb(rssBefore)) → \(Self.mb(rssAfter)), peak \(Self.mb(peak))"
            return name == "autotrader-sim" ? .check(true, text + " — the broker's stand-in, not judged") : .check(growth <= allowed, text)
        }
    }

    /// stocks.db must grow in step with its bars; system.db, once the decision log's holds are pruned, only with the trading.
    private func growthVerdicts() -> [SoakVerdict] {
        var verdicts: [SoakVerdict] = []
        guard let first = samples.first(where: { $0.bars > 0 }), let last = samples.last else { return [.check(false, "no samples")] }
        // The main files only: the WAL is judged on its own below (it is reused, not grown, once checkpointed).
        let startBytes = first.files["stocks.db"]!
        let endBytes = last.files["stocks.db"]!
        let perBarAtStart = Double(startBytes) / Double(first.bars)
        let perBar = Double(endBytes - startBytes) / Double(max(1, last.bars - first.bars))
        verdicts.append(.check(perBar <= perBarAtStart * 1.5,
            "stocks.db: \(Self.mb(startBytes)) → \(Self.mb(endBytes)) for \(BenchSupport.grouped(first.bars)) → \(BenchSupport.grouped(last.bars)) bars: "
            + "\(Int(perBar)) bytes per new bar (\(Int(perBarAtStart)) per bar at the start; grows with the bars only if ≤ 1.5×)"))

        // Holds are pruned at each close once older than --keep-holds days: judge the days after the first pruning.
        let settled = options.keepHolds + 1
        if sessions.count >= settled + 2, let from = samples.last(where: { $0.session == settled }) {
            let grew = last.files["system.db"]! - from.files["system.db"]!
            let rows = (last.transactions - from.transactions) + (last.intents - from.intents)
                + ((last.decisions - last.holds) - (from.decisions - from.holds))
            let allowed = rows * 1024 + (1 << 20)
            verdicts.append(.check(grew <= allowed,
                "system.db from day \(settled + 1) to the end: \(grew >= 0 ? "+" : "")\(grew / 1024) KB with \(rows) new rows of trading "
                + "(transactions, intents, kept decisions) and \(BenchSupport.grouped(last.holds)) holds kept of the last \(options.keepHolds) days "
                + "(allowed: 1 KB per row + 1 MB)"))
        } else {
            verdicts.append(.check(true, "system.db growth: not judged (fewer than \(settled + 2) days: holds are kept \(options.keepHolds) days)"))
        }
        let walPeak = samples.flatMap { [$0.files["stocks.db-wal"]!, $0.files["system.db-wal"]!] }.max() ?? 0
        verdicts.append(.check(walPeak <= 64 << 20, "largest WAL file seen: \(Self.mb(walPeak)) (checkpoints keep up if ≤ 64 MB)"))
        return verdicts
    }

    /// No error or critical line in any service's log; warnings are counted and the kinds shown.
    private func logVerdicts() -> [SoakVerdict] {
        (Self.serviceNames + ["autotrader-sim"]).map { name in
            let process = ([sim!] + services).first { $0.name == name }!
            let lines = process.log.split(separator: "\n")
            // ServiceLogging's lines: "<timestamp> <level> <label>: <message> …"
            func level(_ line: Substring) -> String { line.split(separator: " ", maxSplits: 2).dropFirst().first.map(String.init) ?? "" }
            let errors = lines.filter { ["error", "critical"].contains(level($0)) }
            let warnings = lines.filter { level($0) == "warning" }
            var kinds: [String: Int] = [:]
            for line in warnings {
                let message = line.split(separator: ":", maxSplits: 3).dropFirst(3).first.map { String($0.prefix(60)) } ?? String(line.prefix(60))
                kinds[message.trimmingCharacters(in: .whitespaces), default: 0] += 1
            }
            let top = kinds.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value)× \($0.key)" }.joined(separator: "; ")
            return .check(errors.isEmpty, "\(name) log: \(lines.count) lines, \(errors.count) errors, \(warnings.count) warnings"
                + (top.isEmpty ? "" : " (\(top))") + (errors.isEmpty ? "" : " — first error: \(errors[0].prefix(300))"))
        }
    }

    /// Every fill at the simulator is exactly one transaction in system.db, and every transaction one fill.
    /// The account's request budget as the soak spent it: every REST request the simulator answered (all three
    /// services: clock, orders, look-ups, backfill) per order taken. A figure to watch, not a pass/fail check.
    private func requestsPerOrder() async throws -> SoakVerdict {
        let (data, _) = try await URLSession.shared.data(from: simBase.appendingPathComponent("sim/stats"))
        let stats = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        let requests = stats["rest_requests"] as? Int ?? 0
        let orders = stats["orders_accepted"] as? Int ?? 0
        let perOrder = orders > 0 ? String(format: "%.1f", Double(requests) / Double(orders)) : "-"
        // Where the executor learned of each order's end: its trade update, or asking the broker.
        var configuration = Configuration()
        configuration.readonly = true
        let (closed, byStream) = try await DatabaseQueue(path: systemPath, configuration: configuration).read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM order_intents WHERE broker_order_id IS NOT NULL AND closed_at IS NOT NULL") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM order_intents WHERE detail LIKE '%(trade update)'") ?? 0)
        }
        return .check(true, "broker requests: \(BenchSupport.grouped(requests)) REST requests for \(BenchSupport.grouped(orders)) orders, \(perOrder) per order (all services); "
            + "trade updates \(options.tradeUpdates): \(byStream) of \(closed) orders closed by their trade update")
    }

    private func fillsVersusTransactions() async throws -> SoakVerdict {
        let (data, _) = try await URLSession.shared.data(from: simBase.appendingPathComponent("sim/fills"))
        guard let fills = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { throw BenchFailure("unexpected /sim/fills answer") }
        var atBroker: [String: Int] = [:]
        for fill in fills {
            guard let id = fill["client_order_id"] as? String else { continue }
            let qty = Int(fill["qty"] as? String ?? "") ?? 0 // the simulator writes quantities as strings, as Alpaca does
            atBroker[id, default: 0] += qty
        }
        let queue = try DatabaseQueue(path: systemPath)
        let rows = try await queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.client_order_id AS id, t.shares AS shares FROM transactions t
                LEFT JOIN order_intents i ON i.transaction_id = t.id
                """)
        }
        var recorded: [String: Int] = [:]
        var orphans = 0
        for row in rows {
            guard let id = row["id"] as String? else { orphans += 1; continue }
            recorded[id, default: 0] += row["shares"] as Int
        }
        let same = atBroker == recorded && orphans == 0
        let missing = atBroker.filter { recorded[$0.key] != $0.value }.map(\.key).sorted().prefix(5)
        return .check(same && !atBroker.isEmpty,
            "\(atBroker.count) orders filled at the simulator, \(rows.count) transactions in system.db: "
            + (same ? "the same orders and shares" : "DIFFERENT (e.g. \(Array(missing)), \(orphans) transactions without an order)"))
    }
}

/// A dashboard left open on the wall: the card list several times a second, health, cash and one card's
/// detail (equity, transactions, decisions) now and then. Counts requests and failures.
actor SoakPoller {
    struct Summary { let requests: Int; let failures: Int; let firstFailure: String? }
    private var requests = 0
    private var failures = 0
    private var firstFailure: String?

    func run(base: String) async {
        var round = 0
        var cardIDs: [Int] = []
        while !Task.isCancelled {
            round += 1
            var paths = ["/api/algorithms"]
            if round % 4 == 0 { paths += ["/api/health", "/api/account/cash"] }
            if round % 8 == 0, let id = cardIDs.randomElement() {
                paths += ["/api/algorithms/\(id)/equity", "/api/algorithms/\(id)/transactions", "/api/algorithms/\(id)/decisions?limit=50"]
            }
            for path in paths {
                do {
                    let (status, text) = try await Self.send("GET", base + path)
                    requests += 1
                    if status != 200 { fail("GET \(path): HTTP \(status) \(text.prefix(200))") }
                    if path == "/api/algorithms", let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                       let list = object["algorithms"] as? [[String: Any]] {
                        cardIDs = list.compactMap { $0["id"] as? Int }
                    }
                } catch {
                    if Task.isCancelled { return }
                    requests += 1
                    fail("GET \(path): \(error)")
                }
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    private func fail(_ text: String) {
        failures += 1
        if firstFailure == nil { firstFailure = text }
    }

    func summary() -> Summary { Summary(requests: requests, failures: failures, firstFailure: firstFailure) }

    /// One request with the PIN header (only the guarded ones look at it); the status and the body's text.
    static func send(_ method: String, _ url: String, json: [String: Any]? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: 10)
        request.httpMethod = method
        request.setValue(SoakBenchmark.pin, forHTTPHeaderField: "X-PIN")
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}
