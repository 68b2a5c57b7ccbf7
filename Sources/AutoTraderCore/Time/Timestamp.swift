import Foundation

/// A UTC instant at whole-second precision, written everywhere as `YYYY-MM-DDTHH:MM:SSZ`.
///
/// Kept as seconds since the Unix epoch so that comparing, stepping by minutes
/// and formatting are integer arithmetic: the calendar derives 1.3 million
/// market minutes and the databases key bars by this text, so it must be fast
/// and exact (no `DateFormatter`, no locale, no leniency).
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) {
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    /// The instant, truncated to the whole second.
    public init(_ date: Date) {
        self.secondsSinceEpoch = Int64(date.timeIntervalSince1970.rounded(.down))
    }

    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ`; anything else (offsets, fractions,
    /// a missing `Z`, impossible dates) is nil.
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Timestamp(utf8: $0) }) else { return nil }
        self = parsed
    }

    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` from raw UTF-8 (as SQLite hands out column text).
    public init?(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count == 20,
              bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"),
              bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "Z")
        else { return nil }
        guard let (date, seconds) = DateTimeDigits.head(bytes) else { return nil }
        self.secondsSinceEpoch = Int64(date.daysSinceEpoch) * 86_400 + Int64(seconds)
    }

    public static func now() -> Timestamp { Timestamp(Date()) }

    public var date: Date { Date(timeIntervalSince1970: TimeInterval(secondsSinceEpoch)) }

    /// The UTC calendar day this instant falls on.
    public var utcDate: CivilDate {
        CivilDate(daysSinceEpoch: Int(secondsSinceEpoch.floorDivided(by: 86_400)))
    }

    /// Seconds since UTC midnight.
    public var secondOfDay: Int { Int(secondsSinceEpoch - Int64(utcDate.daysSinceEpoch) * 86_400) }

    /// The start of the minute this instant falls in.
    public var minuteStart: Timestamp {
        Timestamp(secondsSinceEpoch: secondsSinceEpoch.floorDivided(by: 60) * 60)
    }

    public var isWholeMinute: Bool { secondsSinceEpoch.floorModulo(60) == 0 }

    public func adding(seconds: Int64) -> Timestamp {
        Timestamp(secondsSinceEpoch: secondsSinceEpoch + seconds)
    }

    public func adding(minutes: Int) -> Timestamp { adding(seconds: Int64(minutes) * 60) }

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    public var text: String {
        withUTF8Text { String(decoding: $0, as: UTF8.self) }
    }

    /// Hands out the 20 bytes of `text` without allocating (for binding to SQLite in hot loops).
    public func withUTF8Text<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let day = utcDate
        let second = secondOfDay
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { bytes in
            func put(_ value: Int, at offset: Int, width: Int) {
                var value = value
                for index in stride(from: offset + width - 1, through: offset, by: -1) {
                    bytes[index] = UInt8(truncatingIfNeeded: 48 + value % 10)
                    value /= 10
                }
            }
            put(day.year, at: 0, width: 4)
            bytes[4] = UInt8(ascii: "-")
            put(day.month, at: 5, width: 2)
            bytes[7] = UInt8(ascii: "-")
            put(day.day, at: 8, width: 2)
            bytes[10] = UInt8(ascii: "T")
            put(second / 3600, at: 11, width: 2)
            bytes[13] = UInt8(ascii: ":")
            put(second / 60 % 60, at: 14, width: 2)
            bytes[16] = UInt8(ascii: ":")
            put(second % 60, at: 17, width: 2)
            bytes[19] = UInt8(ascii: "Z")
            return try body(UnsafeBufferPointer(bytes))
        }
    }

    public var description: String { text }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.secondsSinceEpoch < rhs.secondsSinceEpoch
    }
}

extension Timestamp: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Timestamp(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected a UTC time YYYY-MM-DDTHH:MM:SSZ, got \(text)")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// A day of the proleptic Gregorian calendar, with no time zone attached.
public struct CivilDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Nil for dates that do not exist (2023-02-29, month 13 …).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
              day <= CivilDate.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// Howard Hinnant's `civil_from_days`.
    public init(daysSinceEpoch: Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        self.day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        self.month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        self.year = yearOfEra + era * 400 + (self.month <= 2 ? 1 : 0)
    }

    /// Howard Hinnant's `days_from_civil`.
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// 1 = Sunday … 7 = Saturday, as Foundation counts.
    public var weekday: Int {
        let days = daysSinceEpoch
        // 1970-01-01 was a Thursday (5).
        return (days + 4).floorModulo(7) + 1
    }

    public var isWeekend: Bool { weekday == 1 || weekday == 7 }

    public func adding(days: Int) -> CivilDate { CivilDate(daysSinceEpoch: daysSinceEpoch + days) }

    /// Midnight UTC at the start of this day.
    public var utcMidnight: Timestamp { Timestamp(secondsSinceEpoch: Int64(daysSinceEpoch) * 86_400) }

    public var text: String {
        String(format: "%04d-%02d-%02d", year, month, day)
    }

    public var description: String { text }

    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    public static func isLeap(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension BinaryInteger {
    /// Division rounding toward negative infinity (Swift's `/` truncates toward zero).
    func floorDivided(by divisor: Self) -> Self {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    /// The remainder that goes with `floorDivided(by:)`: always in `0..<divisor` for a positive divisor.
    func floorModulo(_ divisor: Self) -> Self {
        let remainder = self % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }
}
