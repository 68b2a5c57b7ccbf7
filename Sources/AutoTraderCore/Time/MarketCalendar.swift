import Foundation

/// One NYSE regular-hours trading day: its date in New York and its open and close in UTC.
public struct MarketSession: Hashable, Sendable, Codable {
    /// The trading day as New York knows it.
    public let date: CivilDate
    /// The first market minute (09:30 New York time).
    public let open: Timestamp
    /// The end of the last market minute (16:00, or 13:00 on an early close); not itself a market minute.
    public let close: Timestamp

    public var isEarlyClose: Bool { close.secondsSinceEpoch - open.secondsSinceEpoch < 390 * 60 }

    /// How many market minutes the session has (390, or 210 on an early close).
    public var minuteCount: Int { Int(close.secondsSinceEpoch - open.secondsSinceEpoch) / 60 }

    public func contains(_ instant: Timestamp) -> Bool { open <= instant && instant < close }

    private enum CodingKeys: String, CodingKey { case date, open, close }

    public init(date: CivilDate, open: Timestamp, close: Timestamp) {
        self.date = date
        self.open = open
        self.close = close
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .date)
        guard let date = CivilDate(text) else {
            throw DecodingError.dataCorruptedError(forKey: .date, in: container, debugDescription: "expected YYYY-MM-DD")
        }
        self.date = date
        self.open = try container.decode(Timestamp.self, forKey: .open)
        self.close = try container.decode(Timestamp.self, forKey: .close)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(date.text, forKey: .date)
        try container.encode(open, forKey: .open)
        try container.encode(close, forKey: .close)
    }
}

/// The NYSE regular-hours calendar, computed from the exchange's rules rather than pasted lists.
///
/// Rules (NYSE Rule 7.2 and the exchange's announcements):
/// - Sessions run 09:30–16:00 America/New_York on weekdays; the UTC times follow
///   New York's daylight-saving time.
/// - Full holidays: New Year's Day, Martin Luther King Jr. Day (3rd Monday of
///   January), Washington's Birthday (3rd Monday of February), Good Friday,
///   Memorial Day (last Monday of May), Juneteenth (from 2022), Independence Day,
///   Labor Day (1st Monday of September), Thanksgiving (4th Thursday of November)
///   and Christmas. A holiday on a Saturday is observed the Friday before, on a
///   Sunday the Monday after — except New Year's Day on a Saturday, which is not
///   observed at all (the exchange does not close on the last day of the year).
/// - One-off closures: 2018-12-05 (President G. H. W. Bush's national day of
///   mourning) and 2025-01-09 (President Carter's).
/// - Early closes at 13:00: July 3 when it is Monday–Thursday, the day after
///   Thanksgiving, and December 24 when it is Monday–Thursday.
///
/// Only `supportedYears` are answered: one-off closures can't be predicted, and
/// years before 2018 had others this table does not know.
public struct MarketCalendar: Sendable {
    public static let supportedYears = 2018...2030

    /// The closures no rule predicts, with their reason.
    public static let specialClosures: [CivilDate: String] = [
        CivilDate(year: 2018, month: 12, day: 5)!: "National Day of Mourning for President George H. W. Bush",
        CivilDate(year: 2025, month: 1, day: 9)!: "National Day of Mourning for President Jimmy Carter",
    ]

    public let timeZone: TimeZone
    /// Every session of the supported years by date, built once: `session(on:)` sits on hot paths
    /// (the streamer asks `isOpen` for every bar) and must not recompute a year's holidays each time.
    private var sessionsByDate: [CivilDate: MarketSession] = [:]

    public init() throws {
        guard let newYork = TimeZone(identifier: "America/New_York") else {
            throw AutoTraderError.timeZoneUnavailable("America/New_York")
        }
        self.timeZone = newYork
        for session in sessions(from: firstDay, through: lastDay) { sessionsByDate[session.date] = session }
    }

    public var firstDay: CivilDate { CivilDate(year: Self.supportedYears.lowerBound, month: 1, day: 1)! }
    public var lastDay: CivilDate { CivilDate(year: Self.supportedYears.upperBound, month: 12, day: 31)! }

    /// The first instant the calendar answers for, and the instant after its last day (New York midnights).
    public var coveredRange: Range<Timestamp> {
        localInstant(firstDay, hour: 0, minute: 0)..<localInstant(lastDay.adding(days: 1), hour: 0, minute: 0)
    }

    /// The holidays (full closures) of a year, with their names.
    public func holidays(in year: Int) -> [CivilDate: String] {
        var result: [CivilDate: String] = [:]
        func add(_ date: CivilDate?, _ name: String) {
            if let date, date.year == year, !date.isWeekend { result[date] = name }
        }
        let newYear = CivilDate(year: year, month: 1, day: 1)!
        if newYear.weekday == 1 { add(newYear.adding(days: 1), "New Year's Day (observed)") }
        else { add(newYear, "New Year's Day") }
        add(Self.nthWeekday(3, weekday: 2, month: 1, year: year), "Martin Luther King Jr. Day")
        add(Self.nthWeekday(3, weekday: 2, month: 2, year: year), "Washington's Birthday")
        add(Self.easterSunday(year).adding(days: -2), "Good Friday")
        add(Self.lastWeekday(2, month: 5, year: year), "Memorial Day")
        if year >= 2022 {
            add(Self.observed(CivilDate(year: year, month: 6, day: 19)!), "Juneteenth National Independence Day")
        }
        add(Self.observed(CivilDate(year: year, month: 7, day: 4)!), "Independence Day")
        add(Self.nthWeekday(1, weekday: 2, month: 9, year: year), "Labor Day")
        add(Self.nthWeekday(4, weekday: 5, month: 11, year: year), "Thanksgiving Day")
        add(Self.observed(CivilDate(year: year, month: 12, day: 25)!), "Christmas Day")
        for (date, name) in Self.specialClosures where date.year == year { add(date, name) }
        return result
    }

    /// The days of a year that close at 13:00 New York time.
    public func earlyCloses(in year: Int) -> Set<CivilDate> {
        var result: Set<CivilDate> = []
        let julyThird = CivilDate(year: year, month: 7, day: 3)!
        if (2...5).contains(julyThird.weekday) { result.insert(julyThird) }
        result.insert(Self.nthWeekday(4, weekday: 5, month: 11, year: year).adding(days: 1))
        let christmasEve = CivilDate(year: year, month: 12, day: 24)!
        if (2...5).contains(christmasEve.weekday) { result.insert(christmasEve) }
        return result
    }

    /// The session on a New York date, or nil when the exchange is closed (weekend, holiday) or the date is outside `supportedYears`.
    public func session(on date: CivilDate) -> MarketSession? {
        sessionsByDate[date]
    }

    /// Every session whose date lies in `from...through`, in order.
    public func sessions(from: CivilDate, through: CivilDate) -> [MarketSession] {
        guard from <= through else { return [] }
        var result: [MarketSession] = []
        var holidayCache: [Int: [CivilDate: String]] = [:]
        var earlyCache: [Int: Set<CivilDate>] = [:]
        var day = max(from, firstDay)
        let end = min(through, lastDay)
        while day <= end {
            if !day.isWeekend {
                let holidays = holidayCache[day.year] ?? holidays(in: day.year)
                holidayCache[day.year] = holidays
                let early = earlyCache[day.year] ?? earlyCloses(in: day.year)
                earlyCache[day.year] = early
                if holidays[day] == nil {
                    result.append(MarketSession(
                        date: day,
                        open: localInstant(day, hour: 9, minute: 30),
                        close: localInstant(day, hour: early.contains(day) ? 13 : 16, minute: 0)))
                }
            }
            day = day.adding(days: 1)
        }
        return result
    }

    /// Every session of the supported years.
    public func allSessions() -> [MarketSession] { sessions(from: firstDay, through: lastDay) }

    /// The New York calendar day an instant falls on.
    public func newYorkDate(of instant: Timestamp) -> CivilDate {
        let offset = timeZone.secondsFromGMT(for: instant.date)
        return instant.adding(seconds: Int64(offset)).utcDate
    }

    /// The session open at `instant`, if the market is open then.
    public func session(containing instant: Timestamp) -> MarketSession? {
        guard let session = session(on: newYorkDate(of: instant)), session.contains(instant) else { return nil }
        return session
    }

    public func isOpen(at instant: Timestamp) throws -> Bool {
        try checkCovered(instant)
        return session(containing: instant) != nil
    }

    /// The first market minute strictly after `instant`'s minute.
    public func nextMarketMinute(after instant: Timestamp) throws -> Timestamp {
        try checkCovered(instant)
        let candidate = instant.minuteStart.adding(minutes: 1)
        if session(containing: candidate) != nil { return candidate }
        var day = newYorkDate(of: candidate)
        while day <= lastDay {
            if let session = session(on: day), candidate < session.open { return session.open }
            day = day.adding(days: 1)
        }
        throw AutoTraderError.outsideCalendar(instant)
    }

    /// The last market minute strictly before `instant`'s minute.
    public func previousMarketMinute(before instant: Timestamp) throws -> Timestamp {
        try checkCovered(instant)
        let candidate = instant.minuteStart.adding(minutes: -1)
        if session(containing: candidate) != nil { return candidate }
        var day = newYorkDate(of: candidate)
        while day >= firstDay {
            if let session = session(on: day), session.close <= candidate.adding(minutes: 1) {
                return session.close.adding(minutes: -1)
            }
            day = day.adding(days: -1)
        }
        throw AutoTraderError.outsideCalendar(instant)
    }

    /// Every market minute in `range` (minute starts), in order.
    public func marketMinutes(in range: Range<Timestamp>) -> [Timestamp] {
        guard !range.isEmpty else { return [] }
        var result: [Timestamp] = []
        let from = newYorkDate(of: range.lowerBound)
        let through = newYorkDate(of: range.upperBound)
        for session in sessions(from: from, through: through) {
            var minute = max(session.open, range.lowerBound.minuteStart)
            if minute < range.lowerBound { minute = minute.adding(minutes: 1) }
            while minute < session.close && minute < range.upperBound {
                result.append(minute)
                minute = minute.adding(minutes: 1)
            }
        }
        return result
    }

    // MARK: - Rules

    private func checkCovered(_ instant: Timestamp) throws {
        guard coveredRange.contains(instant) else { throw AutoTraderError.outsideCalendar(instant) }
    }

    /// The UTC instant of a New York wall-clock time. Sessions never start or end
    /// near the 02:00 daylight-saving switch, so noon's offset is the day's offset.
    func localInstant(_ date: CivilDate, hour: Int, minute: Int) -> Timestamp {
        let noonUTCGuess = date.utcMidnight.adding(seconds: 12 * 3600 + 5 * 3600)
        let offset = Int64(timeZone.secondsFromGMT(for: noonUTCGuess.date))
        return date.utcMidnight.adding(seconds: Int64(hour * 3600 + minute * 60) - offset)
    }

    /// A Saturday holiday is observed on the Friday before, a Sunday one on the Monday after.
    static func observed(_ date: CivilDate) -> CivilDate {
        switch date.weekday {
        case 7: return date.adding(days: -1)
        case 1: return date.adding(days: 1)
        default: return date
        }
    }

    /// The n-th given weekday (1 = Sunday … 7 = Saturday) of a month.
    static func nthWeekday(_ n: Int, weekday: Int, month: Int, year: Int) -> CivilDate {
        let first = CivilDate(year: year, month: month, day: 1)!
        let shift = (weekday - first.weekday + 7) % 7
        return first.adding(days: shift + (n - 1) * 7)
    }

    static func lastWeekday(_ weekday: Int, month: Int, year: Int) -> CivilDate {
        let last = CivilDate(year: year, month: month, day: CivilDate.daysIn(month: month, year: year))!
        return last.adding(days: -((last.weekday - weekday + 7) % 7))
    }

    /// Western (Gregorian) Easter Sunday, by the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    static func easterSunday(_ year: Int) -> CivilDate {
        let a = year % 19, b = year / 100, c = year % 100
        let d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3
        let h = (19 * a + b - d - g + 15) % 30
        let i = c / 4, k = c % 4
        let l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        let month = (h + l - 7 * m + 114) / 31
        let day = (h + l - 7 * m + 114) % 31 + 1
        return CivilDate(year: year, month: month, day: day)!
    }
}
