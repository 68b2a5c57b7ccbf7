import Foundation
import Logging

/// Writes bars into stocks.db: regular-hours bars only (stocks.db is a market-hours database),
/// one batch per stream message or REST page, in one transaction; a later bar for the same
/// ticker and minute (a correction) replaces the earlier one.
public struct BarIngest: Sendable {
    public let stocks: StocksDatabase
    public let calendar: MarketCalendar
    let logger: Logger

    public init(stocks: StocksDatabase, calendar: MarketCalendar, logger: Logger = Logger(label: "streamer.ingest")) {
        self.stocks = stocks
        self.calendar = calendar
        self.logger = logger
    }

    /// The bars that belong in stocks.db: inside a regular session, and sound. Others are dropped
    /// (pre-market and after-hours quietly, unsound ones with a warning).
    public func storable(_ bars: [MinuteBar]) -> [MinuteBar] {
        bars.filter { bar in
            guard (try? calendar.isOpen(at: bar.timestamp)) == true else { return false }
            if let problem = bar.problem {
                logger.warning("unsound bar dropped", metadata: ["ticker": "\(bar.ticker)", "time": "\(bar.timestamp)", "problem": "\(problem)"])
                return false
            }
            return true
        }
    }

    /// Writes the storable bars in one transaction and returns how many were written.
    /// Throws only when the database refuses (busy beyond its timeout, disk full …): the caller keeps
    /// the bars and tries again.
    @discardableResult
    public func write(_ bars: [MinuteBar]) async throws -> Int {
        let rows = storable(bars)
        guard !rows.isEmpty else { return 0 }
        try await stocks.insertValidated(rows)
        return rows.count
    }

    /// Writes history fetched over REST, leaving out the minutes the stream delivered after `mark` (taken
    /// before the request): the stream's bar (or its correction) is newer than the page. The check runs
    /// inside the write transaction, on SQLite's single writer, so a stream bar written later still wins.
    @discardableResult
    public func writeHistory(_ bars: [MinuteBar], arrivals: StreamArrivals, since mark: UInt64) async throws -> Int {
        let rows = storable(bars)
        guard !rows.isEmpty else { return 0 }
        return try await stocks.insertValidated(rows) { !arrivals.arrived(ticker: $0.ticker, minute: $0.timestamp, after: mark) }
    }
}

/// Which (ticker, minute) bars the stream delivered, and when (a counter), so that history fetched
/// before a stream bar or correction arrived never overwrites it.
public final class StreamArrivals: @unchecked Sendable {
    private let lock = NSLock()
    private var counter: UInt64 = 0
    private var latest: [String: [Timestamp: UInt64]] = [:]
    private var size = 0

    public init() {}

    /// The current position: bars recorded later count as newer.
    public func mark() -> UInt64 { lock.withLock { counter } }

    public func record(_ bars: [MinuteBar]) {
        lock.withLock {
            // One number per bar, not per message: pruning to "the newest 20 000" then means bars, so the
            // memory stays bounded and a prune comes once per 20 000 bars (numbered per message, with ten
            // tickers a frame it kept 100 000 and, once past the limit, pruned on every frame).
            for bar in bars {
                counter += 1
                if latest[bar.ticker, default: [:]].updateValue(counter, forKey: bar.timestamp) == nil { size += 1 }
            }
            if size > 40_000 { prune() }
        }
    }

    /// (ticker, minute) pairs remembered.
    var count: Int { lock.withLock { size } }

    public func arrived(ticker: String, minute: Timestamp, after mark: UInt64) -> Bool {
        lock.withLock { (latest[ticker]?[minute] ?? 0) > mark }
    }

    /// Keeps the newest 20 000 bars (by arrival): a fetch never lasts as long as 20 000 stream bars
    /// (40 minutes of 500 tickers).
    private func prune() {
        let cut = counter > 20_000 ? counter - 20_000 : 0
        size = 0
        for ticker in latest.keys {
            latest[ticker] = latest[ticker]!.filter { $0.value > cut }
            size += latest[ticker]!.count
        }
    }
}

extension AlpacaBarStream.StreamBar {
    public var minuteBar: MinuteBar { bar.minuteBar(ticker: symbol) }
}
