import Foundation

/// Why a backtest can't run, said so a person can fix the request.
public enum BacktestError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownAlgorithm(String, known: [String])
    case badDate(String)
    case emptyRange(from: CivilDate, to: CivilDate)
    case noSessions(from: CivilDate, to: CivilDate)
    case notOverYet(session: CivilDate)
    case badSessionCount(Int)
    case invalidTicker(String)
    case settings(String)
    /// stocks.db lacks these market minutes of the range and the broker was not (or could not be) asked.
    case missingBars(ticker: String, minutes: [Timestamp], why: String)

    public var description: String {
        switch self {
        case .unknownAlgorithm(let name, let known):
            return "unknown algorithm type \(name.debugDescription) (available: \(known.joined(separator: ", ")), or all)"
        case .badDate(let text):
            return "\(text.debugDescription) is not a date as YYYY-MM-DD"
        case .emptyRange(let from, let to):
            return "the range \(from.text) to \(to.text) is empty: --from must not be after --to"
        case .noSessions(let from, let to):
            return "no trading session lies between \(from.text) and \(to.text) (weekends and NYSE holidays have none)"
        case .notOverYet(let session):
            return "the session of \(session.text) has not ended yet: a backtest replays finished sessions only"
        case .badSessionCount(let count):
            return "--sessions must be between 1 and 5000 (got \(count))"
        case .invalidTicker(let ticker):
            return "\(ticker.debugDescription) is not a ticker"
        case .settings(let text):
            return text
        case .missingBars(let ticker, let minutes, let why):
            return "stocks.db has no bars of \(ticker) for \(minutes.count) market minutes of the range (\(MinuteRuns.describe(minutes))) and \(why)"
        }
    }
}

/// The sessions a backtest replays, whole New York trading days.
public struct BacktestPeriod: Hashable, Sendable {
    public let sessions: [MarketSession]

    /// The first market minute.
    public var start: Timestamp { sessions[0].open }
    /// The end of the last session (not itself a market minute).
    public var end: Timestamp { sessions[sessions.count - 1].close }

    /// The sessions from `from` through `to` (New York dates, both included), all of them over by `now`.
    public static func dates(_ fromText: String, _ toText: String, calendar: MarketCalendar, now: Timestamp = .now()) throws -> BacktestPeriod {
        guard let from = CivilDate(fromText) else { throw BacktestError.badDate(fromText) }
        guard let to = CivilDate(toText) else { throw BacktestError.badDate(toText) }
        guard from <= to else { throw BacktestError.emptyRange(from: from, to: to) }
        let sessions = calendar.sessions(from: from, through: to)
        guard let last = sessions.last else { throw BacktestError.noSessions(from: from, to: to) }
        guard last.close <= now else { throw BacktestError.notOverYet(session: last.date) }
        return BacktestPeriod(sessions: sessions)
    }

    /// The last `count` sessions that ended by `now`.
    public static func last(_ count: Int, calendar: MarketCalendar, now: Timestamp = .now()) throws -> BacktestPeriod {
        guard (1...5000).contains(count) else { throw BacktestError.badSessionCount(count) }
        let today = calendar.newYorkDate(of: now)
        var from = today.adding(days: -(count * 7 / 5 + 14))
        while true {
            let ended = calendar.sessions(from: from, through: today).filter { $0.close <= now }
            if ended.count >= count || from <= calendar.firstDay {
                guard !ended.isEmpty else { throw BacktestError.noSessions(from: from, to: today) }
                return BacktestPeriod(sessions: Array(ended.suffix(count)))
            }
            from = from.adding(days: -30)
        }
    }
}

/// Where a backtest's bars come from: stocks.db (its one owner reads them), with what it lacks first
/// fetched from the broker by the streamer's own backfill (`GapRepair`) and stored, so only the first run waits.
public struct BacktestHistory: Sendable {
    public let stocks: StocksDatabase
    public let calendar: MarketCalendar

    public init(stocks: StocksDatabase, calendar: MarketCalendar) {
        self.stocks = stocks
        self.calendar = calendar
    }

    /// The market minutes of the period (and of the session before it, the warm-up) stocks.db has no bar for.
    public func missingMinutes(ticker: String, period: BacktestPeriod, warmUp: Bool = false) throws -> [Timestamp] {
        let from = warmUp ? ((try? calendar.previousMarketMinute(before: period.start)) ?? period.start) : period.start
        let start = warmUp ? (calendar.session(containing: from)?.open ?? period.start) : period.start
        return try stocks.missingMinutes(ticker: ticker, from: start, to: period.end)
    }

    /// Fetches what stocks.db lacks of the period and the session before it (when anything is missing), with
    /// the streamer's backfill. Returns the bars written.
    public func fetchMissing(ticker: String, period: BacktestPeriod, repair: GapRepair) async throws -> Int {
        let missing = try missingMinutes(ticker: ticker, period: period, warmUp: true)
        guard let first = missing.first else { return 0 }
        return try await repair.fetch(ticker: ticker, from: first, now: period.end)
    }

    /// The period's minutes that are still missing after a fetch and that no fetch can explain away: whole
    /// sessions without a single bar (a thin ticker's quiet minutes inside a session are trading, not gaps).
    public func unservedMinutes(ticker: String, period: BacktestPeriod) throws -> [Timestamp] {
        let missing = try missingMinutes(ticker: ticker, period: period)
        guard !missing.isEmpty else { return [] }
        var result: [Timestamp] = []
        for session in period.sessions {
            let inSession = missing.filter { session.contains($0) }
            if inSession.count == session.minuteCount { result += inSession }
        }
        return result
    }

    /// The period's bars, after the `warmUp` bars before it (what the executor would find in stocks.db then).
    public func bars(ticker: String, period: BacktestPeriod, warmUp: Int) throws -> BacktestBars {
        let before = warmUp > 0 ? try stocks.bars(ticker: ticker, before: period.start, count: warmUp) : []
        let range = try stocks.bars(ticker: ticker, from: period.start, to: period.end)
        return BacktestBars(bars: before + range, firstIndex: before.count)
    }
}

/// Market minutes written as runs ("2024-06-03T13:30:00Z–2024-06-03T19:59:00Z (390)"), for error messages.
public enum MinuteRuns {
    public static func describe(_ minutes: [Timestamp], limit: Int = 5) -> String {
        var runs: [(Timestamp, Timestamp, Int)] = []
        for minute in minutes.sorted() {
            if let last = runs.last, last.1.adding(minutes: 1) == minute {
                runs[runs.count - 1] = (last.0, minute, last.2 + 1)
            } else {
                runs.append((minute, minute, 1))
            }
        }
        let shown = runs.prefix(limit).map { run in
            run.2 == 1 ? run.0.text : "\(run.0.text)–\(run.1.text) (\(run.2))"
        }
        let more = runs.count > limit ? ", and \(runs.count - limit) more stretches" : ""
        return shown.joined(separator: ", ") + more
    }
}
