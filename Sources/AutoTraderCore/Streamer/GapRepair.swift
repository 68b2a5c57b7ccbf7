import Foundation
import Logging

/// History over REST: the backfill when a ticker is first needed and the repair after every
/// (re)connect or restart. Both come down to "fetch every bar since the first minute stocks.db
/// may lack, up to the broker's now, and upsert it", in bounded pages.
///
/// Only minutes in which the feed had a bar can be filled: a market minute without a bar on
/// the feed (thin symbols) stays missing, so "missing" alone can't say where to stop; the
/// streamer remembers up to where each ticker was last repaired (`coveredThrough`) and starts
/// the next repair a few minutes before that (the overlap also picks up corrections sent
/// while the stream was down).
public struct GapRepair: Sendable {
    public let client: AlpacaClient
    public let ingest: BarIngest
    /// Whole sessions of history before the current one (at least two).
    public let lookbackSessions: Int
    /// Market minutes of history the longest indicator needs (0: the sessions alone decide).
    public let lookbackMinutes: Int
    /// Minutes re-fetched before the last repaired point.
    public let overlapMinutes: Int
    public let pageLimit: Int
    let logger: Logger

    public init(
        client: AlpacaClient, ingest: BarIngest, lookbackSessions: Int = 2, lookbackMinutes: Int = 0,
        overlapMinutes: Int = 5, pageLimit: Int = 10_000, logger: Logger = Logger(label: "streamer.repair")
    ) {
        self.client = client
        self.ingest = ingest
        self.lookbackSessions = max(2, lookbackSessions)
        self.lookbackMinutes = max(0, lookbackMinutes)
        self.overlapMinutes = max(1, overlapMinutes)
        self.pageLimit = pageLimit
        self.logger = logger
    }

    var calendar: MarketCalendar { ingest.calendar }

    /// The first minute a ticker needs at `now`: the open of the `lookbackSessions`-th session before
    /// today's, moved earlier until it holds `lookbackMinutes` market minutes before now.
    public func windowStart(now: Timestamp) -> Timestamp {
        let today = calendar.newYorkDate(of: now)
        var from = today.adding(days: -14)
        var prior: [MarketSession] = []
        while true {
            prior = calendar.sessions(from: from, through: today).filter { $0.date < today }
            let needed = sessionsNeeded(prior: prior, now: now, today: today)
            if prior.count >= needed || from <= calendar.firstDay { break }
            from = from.adding(days: -max(14, (needed - prior.count) * 2))
        }
        let needed = sessionsNeeded(prior: prior, now: now, today: today)
        guard !prior.isEmpty else { return now.minuteStart }
        return prior[max(0, prior.count - needed)].open
    }

    private func sessionsNeeded(prior: [MarketSession], now: Timestamp, today: CivilDate) -> Int {
        guard lookbackMinutes > 0 else { return lookbackSessions }
        var minutes = calendar.session(on: today).map { max(0, min(Int(now.secondsSinceEpoch - $0.open.secondsSinceEpoch) / 60, $0.minuteCount)) } ?? 0
        var count = 0
        for session in prior.reversed() {
            if minutes >= lookbackMinutes { break }
            minutes += session.minuteCount
            count += 1
        }
        if minutes < lookbackMinutes { count = prior.count + 1 } // not enough yet: ask for more sessions
        return max(lookbackSessions, count)
    }

    /// Where the next fetch of `ticker` starts, or nil when nothing can be missing.
    /// - Parameter coveredThrough: the broker time of this process's last complete repair of the ticker.
    public func fetchStart(ticker: String, now: Timestamp, coveredThrough: Timestamp?) throws -> Timestamp? {
        let window = windowStart(now: now)
        let end = now.minuteStart
        guard window < end else { return nil }
        if let coveredThrough {
            return max(window, coveredThrough.adding(minutes: -overlapMinutes))
        }
        // First need in this process (or after a restart): from the first minute the window lacks,
        // and a few minutes before the newest stored bar (corrections missed while down).
        let firstMissing = try ingest.stocks.missingMinutes(ticker: ticker, from: window, to: end).first
        let beforeLatest = try ingest.stocks.latestBar(ticker: ticker).map { $0.timestamp.adding(minutes: -overlapMinutes) }
        let candidates = [firstMissing, beforeLatest].compactMap { $0 }
        guard let start = candidates.min() else { return window }
        return max(window, start)
    }

    /// Fetches `ticker`'s bars from `from` up to `now`'s minute and writes them (one transaction per page).
    /// Returns the number of bars written. REST errors (after the client's own 429/5xx retries) and
    /// database errors are thrown: the caller tries again later.
    @discardableResult
    public func fetch(ticker: String, from: Timestamp, now: Timestamp, arrivals: StreamArrivals = StreamArrivals()) async throws -> Int {
        let to = now.minuteStart
        guard from < to else { return 0 }
        let counter = Counter()
        let ingest = self.ingest
        let mark = arrivals.mark()
        try await client.minuteBars(symbols: [ticker], from: from, to: to, pageLimit: pageLimit) { page in
            let bars = (page[ticker] ?? []).map { $0.minuteBar(ticker: ticker) }
            let written = try await ingest.writeHistory(bars, arrivals: arrivals, since: mark)
            await counter.add(written)
        }
        let written = await counter.value
        logger.info("history fetched", metadata: [
            "ticker": "\(ticker)", "from": "\(from)", "to": "\(to)", "bars": "\(written)",
        ])
        return written
    }

    actor Counter {
        var value = 0
        func add(_ count: Int) { value += count }
    }
}
