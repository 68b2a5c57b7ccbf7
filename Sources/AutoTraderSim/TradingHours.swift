import AutoTraderCore
import Foundation

/// Which minutes carry bars: NYSE regular sessions, plus pre- and post-market windows when extended hours are on.
public struct TradingHours: Sendable {
    /// A stretch of a trading day in which minutes have bars.
    public struct Window: Sendable, Hashable {
        public enum Kind: UInt8, Sendable { case preMarket = 1, regular = 2, postMarket = 3 }
        public let kind: Kind
        public let session: MarketSession
        /// Minute starts from `start` (inclusive) to `end` (exclusive).
        public let start: Timestamp
        public let end: Timestamp

        public var minuteCount: Int { Int(end.secondsSinceEpoch - start.secondsSinceEpoch) / 60 }
    }

    public let calendar: MarketCalendar
    public let extendedHours: Bool
    /// Every session 2018–2030, oldest first (about 3,270).
    public let sessions: [MarketSession]
    private let indexByDate: [CivilDate: Int]

    public init(calendar: MarketCalendar, extendedHours: Bool) {
        self.calendar = calendar
        self.extendedHours = extendedHours
        self.sessions = calendar.allSessions()
        self.indexByDate = Dictionary(uniqueKeysWithValues: sessions.enumerated().map { ($1.date, $0) })
    }

    public func index(of date: CivilDate) -> Int? { indexByDate[date] }

    /// The index of the first session on or after `date` (nil past 2030).
    public func firstIndex(onOrAfter date: CivilDate) -> Int? {
        var low = 0, high = sessions.count
        while low < high {
            let middle = (low + high) / 2
            if sessions[middle].date < date { low = middle + 1 } else { high = middle }
        }
        return low < sessions.count ? low : nil
    }

    /// The index of the last session on or before `date` (nil before 2018).
    public func lastIndex(onOrBefore date: CivilDate) -> Int? {
        var low = 0, high = sessions.count
        while low < high {
            let middle = (low + high) / 2
            if sessions[middle].date <= date { low = middle + 1 } else { high = middle }
        }
        return low > 0 ? low - 1 : nil
    }

    public func newYorkDate(of instant: Timestamp) -> CivilDate { calendar.newYorkDate(of: instant) }

    /// Midnight in New York at the start of a session's day (where Alpaca stamps daily bars).
    /// Sessions never span a daylight-saving switch, so the open's offset is the midnight's offset.
    public func newYorkMidnight(of session: MarketSession) -> Timestamp {
        session.open.adding(seconds: -(9 * 3600 + 30 * 60))
    }

    /// The bar windows of a session, in time order.
    public func windows(of session: MarketSession, extended: Bool? = nil) -> [Window] {
        let regular = Window(kind: .regular, session: session, start: session.open, end: session.close)
        guard extended ?? extendedHours else { return [regular] }
        // 04:00–09:30 before, and four hours after the close (16:00–20:00, or 13:00–17:00 on an early close).
        return [
            Window(kind: .preMarket, session: session, start: session.open.adding(minutes: -330), end: session.open),
            regular,
            Window(kind: .postMarket, session: session, start: session.close, end: session.close.adding(minutes: 240)),
        ]
    }

    /// The regular session open at `instant`.
    public func regularSession(containing instant: Timestamp) -> MarketSession? {
        guard let index = indexByDate[newYorkDate(of: instant)], sessions[index].contains(instant) else { return nil }
        return sessions[index]
    }

    /// The bar window (regular, or extended when on) containing `instant`.
    public func window(containing instant: Timestamp) -> Window? {
        guard let index = indexByDate[newYorkDate(of: instant)] else { return nil }
        return windows(of: sessions[index]).first { $0.start <= instant && instant < $0.end }
    }

    /// The first minute at or after `instant` (rounded up to a minute) that lies in a bar window.
    public func nextBarMinute(atOrAfter instant: Timestamp) -> Timestamp? {
        let minute = instant.isWholeMinute ? instant : instant.minuteStart.adding(minutes: 1)
        guard var index = firstIndex(onOrAfter: newYorkDate(of: minute)) else { return nil }
        while index < sessions.count {
            for window in windows(of: sessions[index]) where minute < window.end {
                return max(minute, window.start)
            }
            index += 1
        }
        return nil
    }

    /// The first regular session whose open is at or after `instant`.
    public func nextSession(openingAtOrAfter instant: Timestamp) -> MarketSession? {
        guard var index = firstIndex(onOrAfter: newYorkDate(of: instant)) else { return nil }
        while index < sessions.count {
            if sessions[index].open >= instant { return sessions[index] }
            index += 1
        }
        return nil
    }

    /// The last regular session that closed at or before `instant`.
    public func lastSession(closedBy instant: Timestamp) -> MarketSession? {
        guard var index = lastIndex(onOrBefore: newYorkDate(of: instant)) else { return nil }
        while index >= 0 {
            if sessions[index].close <= instant { return sessions[index] }
            index -= 1
        }
        return nil
    }

    /// Sessions whose New York date lies between the dates of two instants, oldest first.
    public func sessionIndices(from: Timestamp, through: Timestamp) -> Range<Int> {
        guard from <= through,
              let first = firstIndex(onOrAfter: newYorkDate(of: from)),
              let last = lastIndex(onOrBefore: newYorkDate(of: through)), first <= last
        else { return 0..<0 }
        return first..<(last + 1)
    }
}
