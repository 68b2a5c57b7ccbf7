import Foundation
import Logging

/// Why a queued backtest could not be run, in words for the person who asked (stored as the row's error).
public struct BacktestJobFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }

    /// A script that can't run, in the words every backtest path uses (the CLI, the queue, a leaderboard's `left_out`).
    public static func cantRun(_ name: String, _ why: String) -> BacktestJobFailure {
        BacktestJobFailure("script algorithm \(name) can't run: \(why)")
    }
}

/// Turns one queued backtest (a `backtests` row) into the JSON `autotrader backtest --type … --ticker …
/// --sessions N --capital C --json` prints for the same inputs: the same period (the last N sessions on the
/// broker's clock), the same fetch of missing bars (the streamer's backfill, `GapRepair`), the same warm-up,
/// `Backtester` and report. Split in two: `prepare` waits on the broker and stocks.db, `compute` only computes
/// (it is what the queue runs at low priority).
public struct BacktestQueueRunner: Sendable {
    /// What `compute` needs, read and fetched.
    public struct Prepared: Sendable {
        /// The algorithms, a script's worker started (stopped by `stop()` whatever came of it).
        public let entries: [BacktestRunnable]
        public let ticker: String
        public let period: BacktestPeriod
        public let bars: BacktestBars
        public let settings: BacktestSettings
        public let calendar: MarketCalendar
        /// `all`: a script that stops its backtest is left out of the ranking, not the end of it.
        public let leaderboard: Bool
        /// The scripts of `all` that could not start, with why.
        public var leftOut: [BacktestJobFailure] = []

        /// Stops the scripts' workers: the backtest is over.
        public func stop() async { await BacktestRunnable.stop(entries) }
    }

    public let system: SystemDatabase
    public let stocks: StocksDatabase
    public let calendar: MarketCalendar
    /// The algorithms compiled into this build: what the Backtester can run.
    public let compiled: AlgorithmCatalog
    /// The broker: its clock says which sessions have ended; its market data fills what stocks.db lacks.
    public let client: AlpacaClient
    /// How a script's worker runs: at the queue's low priority, within the executor's limits.
    public let scripts: ScriptBacktest.Options
    public let logger: Logger

    public init(
        system: SystemDatabase, stocks: StocksDatabase, calendar: MarketCalendar, compiled: AlgorithmCatalog, client: AlpacaClient,
        scripts: ScriptBacktest.Options = ScriptBacktest.Options(lowPriority: true),
        logger: Logger
    ) {
        self.system = system
        self.stocks = stocks
        self.calendar = calendar
        self.compiled = compiled
        self.client = client
        self.scripts = scripts
        self.logger = logger
    }

    /// The algorithms a request names: every compiled one and every script the executor's catalog has as ok for
    /// `all` (as `--type all`), or the one it names. A script in error is refused with its error. Reads no file:
    /// the api asks this too, and never looks into the algorithm folder.
    public static func entries(
        for algorithm: String, compiled: AlgorithmCatalog, catalog: [CatalogEntry]
    ) -> Result<[BacktestAlgorithm], BacktestJobFailure> {
        func script(_ entry: CatalogEntry) -> BacktestAlgorithm? {
            guard entry.kind == .script, entry.status == .ok, let path = entry.path else { return nil }
            return .script(name: entry.name, path: path)
        }
        if algorithm == "all" { return .success(compiled.entries.map { .compiled($0) } + catalog.compactMap(script)) }
        if let entry = compiled.entry(named: algorithm) { return .success([.compiled(entry)]) }
        if let entry = catalog.first(where: { $0.name == algorithm && $0.kind == .script }) {
            if let found = script(entry) { return .success([found]) }
            return .failure(.cantRun(algorithm, entry.error ?? "status error"))
        }
        let known = compiled.names + catalog.compactMap(script).map(\.name)
        return .failure(BacktestJobFailure(
            "unknown algorithm \(algorithm.debugDescription) (backtestable: \(known.sorted().joined(separator: ", ")), or all)"))
    }

    /// For `all`: the catalog's scripts that can't run (a syntax error, a name clash), each as the reason it is left
    /// out of the leaderboard, as `--type all` says of the same scripts. Nothing for a single algorithm.
    public static func leftOut(for algorithm: String, catalog: [CatalogEntry]) -> [BacktestJobFailure] {
        guard algorithm == "all" else { return [] }
        return catalog.filter { $0.kind == .script && $0.status == .error }.sorted { $0.name < $1.name }.map {
            .cantRun($0.name, $0.error ?? "status error")
        }
    }

    /// Reads the broker's clock, fetches the bars stocks.db lacks and reads the range's bars.
    /// A script's worker is started here (stopped again when this fails; else by `Prepared.stop()`).
    public func prepare(_ job: BacktestJob) async throws(BacktestJobFailure) -> Prepared {
        let algorithms: [BacktestAlgorithm]
        let catalog = (try? system.catalog()) ?? []
        switch Self.entries(for: job.algorithm, compiled: compiled, catalog: catalog) {
        case .success(let found): algorithms = found
        case .failure(let failure): throw failure
        }
        let settings = BacktestSettings(capital: job.capital)
        if let problem = settings.problem { throw BacktestJobFailure(problem) }
        let (entries, broken) = try await BacktestRunnable.start(algorithms, options: scripts, skipBroken: job.algorithm == "all", logger: logger)
        for failure in broken { logger.warning("backtest: left out of the leaderboard", metadata: ["error": "\(failure)"]) }
        do {
            var prepared = try await prepare(job, entries: entries, settings: settings)
            prepared.leftOut = Self.leftOut(for: job.algorithm, catalog: catalog) + broken
            return prepared
        } catch {
            await BacktestRunnable.stop(entries)
            throw error
        }
    }

    func prepare(_ job: BacktestJob, entries: [BacktestRunnable], settings: BacktestSettings) async throws(BacktestJobFailure) -> Prepared {
        let now: Timestamp
        do {
            now = Timestamp(try await client.clock().timestamp)
        } catch {
            throw BacktestJobFailure("the broker's clock can't be read, so the last \(job.sessions) sessions are unknown: \(error)")
        }
        do {
            let period = try BacktestPeriod.last(job.sessions, calendar: calendar, now: now)
            let history = BacktestHistory(stocks: stocks, calendar: calendar)
            try await fetchWhatIsMissing(history, ticker: job.ticker, period: period)
            let warmUp = entries.map(\.barsNeeded).max() ?? 0
            let bars = try history.bars(ticker: job.ticker, period: period, warmUp: warmUp)
            return Prepared(
                entries: entries, ticker: job.ticker, period: period, bars: bars, settings: settings, calendar: calendar,
                leaderboard: job.algorithm == "all")
        } catch let failure as BacktestJobFailure {
            throw failure
        } catch let error as BacktestError {
            throw BacktestJobFailure(error.description)
        } catch {
            throw BacktestJobFailure("stocks.db could not be read: \(error)")
        }
    }

    /// The report's JSON, exactly as the CLI prints it. Computation, and a script's worker's answers waited for:
    /// call it on a thread of its own (the queue's low-priority one). A leaderboard leaves out a script that fails.
    public static func compute(_ prepared: Prepared, logger: Logger? = nil) throws(BacktestJobFailure) -> String {
        let (results, leftOut) = try Backtester(calendar: prepared.calendar).runWaiting(
            prepared.entries, ticker: prepared.ticker, bars: prepared.bars, settings: prepared.settings, leaveOutFailed: prepared.leaderboard)
        for failure in leftOut { logger?.warning("backtest: left out of the leaderboard", metadata: ["error": "\(failure)"]) }
        do {
            return try BacktestReport(period: prepared.period, results: results, leftOut: prepared.leftOut + leftOut).json()
        } catch {
            throw BacktestJobFailure("the result could not be written as JSON: \(error)")
        }
    }

    /// As the CLI: what stocks.db lacks is fetched with the streamer's backfill; a range the broker can't serve
    /// is an error naming its minutes.
    func fetchWhatIsMissing(_ history: BacktestHistory, ticker: String, period: BacktestPeriod) async throws {
        var why = "the broker was not asked"
        if !(try history.missingMinutes(ticker: ticker, period: period, warmUp: true)).isEmpty {
            do {
                let repair = GapRepair(client: client, ingest: BarIngest(stocks: stocks, calendar: calendar, logger: logger), logger: logger)
                let written = try await history.fetchMissing(ticker: ticker, period: period, repair: repair)
                if written > 0 { logger.info("backtest fetched bars", metadata: ["ticker": "\(ticker)", "bars": "\(written)"]) }
                why = "the broker has none for them"
            } catch {
                why = "the broker could not be asked: \(error)"
            }
        }
        let unserved = try history.unservedMinutes(ticker: ticker, period: period)
        if !unserved.isEmpty {
            throw BacktestJobFailure(BacktestError.missingBars(ticker: ticker, minutes: unserved, why: why).description)
        }
    }
}
