import Foundation
import Logging

/// Why a queued backtest could not be run, in words for the person who asked (stored as the row's error).
public struct BacktestJobFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Turns one queued backtest (a `backtests` row) into the JSON `autotrader backtest --type … --ticker …
/// --sessions N --capital C --json` prints for the same inputs: the same period (the last N sessions on the
/// broker's clock), the same fetch of missing bars (the streamer's backfill, `GapRepair`), the same warm-up,
/// `Backtester` and report. Split in two: `prepare` waits on the broker and stocks.db, `compute` only computes
/// (it is what the queue runs at low priority).
public struct BacktestQueueRunner: Sendable {
    /// What `compute` needs, read and fetched.
    public struct Prepared: Sendable {
        public let entries: [AlgorithmCatalog.Entry]
        public let ticker: String
        public let period: BacktestPeriod
        public let bars: BacktestBars
        public let settings: BacktestSettings
        public let calendar: MarketCalendar
    }

    public let system: SystemDatabase
    public let stocks: StocksDatabase
    public let calendar: MarketCalendar
    /// The algorithms compiled into this build: what the Backtester can run.
    public let compiled: AlgorithmCatalog
    /// The broker: its clock says which sessions have ended; its market data fills what stocks.db lacks.
    public let client: AlpacaClient
    public let logger: Logger

    public init(
        system: SystemDatabase, stocks: StocksDatabase, calendar: MarketCalendar, compiled: AlgorithmCatalog, client: AlpacaClient,
        logger: Logger
    ) {
        self.system = system
        self.stocks = stocks
        self.calendar = calendar
        self.compiled = compiled
        self.client = client
        self.logger = logger
    }

    /// The algorithms a request names: every compiled one for `all` (as `--type all`), or the one it names.
    /// A script algorithm is refused: the Backtester runs compiled algorithms only, for now.
    public static func entries(
        for algorithm: String, compiled: AlgorithmCatalog, catalog: [CatalogEntry]
    ) -> Result<[AlgorithmCatalog.Entry], BacktestJobFailure> {
        if algorithm == "all" { return .success(compiled.entries) }
        if let entry = compiled.entry(named: algorithm) { return .success([entry]) }
        if catalog.contains(where: { $0.name == algorithm && $0.kind == .script }) {
            return .failure(BacktestJobFailure(
                "\(algorithm) is a script algorithm and scripts are not backtestable yet (the backtest runs the compiled algorithms: \(compiled.names.joined(separator: ", ")))"))
        }
        return .failure(BacktestJobFailure(
            "unknown algorithm \(algorithm.debugDescription) (backtestable: \(compiled.names.joined(separator: ", ")), or all)"))
    }

    /// Reads the broker's clock, fetches the bars stocks.db lacks and reads the range's bars.
    public func prepare(_ job: BacktestJob) async throws(BacktestJobFailure) -> Prepared {
        let entries: [AlgorithmCatalog.Entry]
        switch Self.entries(for: job.algorithm, compiled: compiled, catalog: (try? system.catalog()) ?? []) {
        case .success(let found): entries = found
        case .failure(let failure): throw failure
        }
        let settings = BacktestSettings(capital: job.capital)
        if let problem = settings.problem { throw BacktestJobFailure(problem) }
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
            return Prepared(entries: entries, ticker: job.ticker, period: period, bars: bars, settings: settings, calendar: calendar)
        } catch let failure as BacktestJobFailure {
            throw failure
        } catch let error as BacktestError {
            throw BacktestJobFailure(error.description)
        } catch {
            throw BacktestJobFailure("stocks.db could not be read: \(error)")
        }
    }

    /// The report's JSON, exactly as the CLI prints it. Pure computation.
    public static func compute(_ prepared: Prepared) throws(BacktestJobFailure) -> String {
        let backtester = Backtester(calendar: prepared.calendar)
        let results = prepared.entries.map { backtester.run($0, ticker: prepared.ticker, bars: prepared.bars, settings: prepared.settings) }
        do {
            return try BacktestReport(period: prepared.period, results: results).json()
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
