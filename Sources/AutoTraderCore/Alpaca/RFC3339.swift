import Foundation

/// Alpaca's timestamps: RFC 3339 with any number of fraction digits and either `Z`
/// or a numeric offset (`2022-04-28T14:07:04.451420928-04:00`). Parsed by hand:
/// `ISO8601DateFormatter` rejects nanosecond fractions and is slow.
public enum RFC3339 {
    /// The instant, with up to nanosecond precision; nil when the text is not RFC 3339.
    public static func parse(_ text: String) -> Date? {
        guard let (seconds, nanoseconds) = parseParts(text) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(nanoseconds) / 1e9)
    }

    /// Whole seconds since the epoch and the nanoseconds beyond them.
    public static func parseParts(_ text: String) -> (Int64, Int)? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ from: Int, _ count: Int) -> Int? { DateTimeDigits.number(bytes, from, count) }
        guard let (date, time) = DateTimeDigits.head(bytes, maxSecond: 60) else { return nil }
        let second = time % 60
        var index = 19
        var nanoseconds = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, (48...57).contains(bytes[index]) {
                if digits < 9 { nanoseconds = nanoseconds * 10 + Int(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 where digits < 9 { nanoseconds *= 10 }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                  let hours = number(index + 1, 2), let minutes = number(index + 4, 2), hours < 24, minutes < 60
            else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        // A leap second (:60) counts as :59.
        let local = Int64(date.daysSinceEpoch) * 86_400 + Int64(time - second + min(second, 59))
        return (local - Int64(offset), nanoseconds)
    }

    /// `2021-04-21T13:43:12.476511Z` (microseconds, UTC), as Alpaca writes order times;
    /// with an offset, the local time and `-04:00`, as Alpaca writes its clock.
    public static func format(_ date: Date, offsetSeconds: Int = 0) -> String {
        let shifted = date.timeIntervalSince1970 + TimeInterval(offsetSeconds)
        // Nearest microsecond: the double behind a parsed ".476511" may sit just below it.
        let totalMicros = Int64((shifted * 1_000_000).rounded())
        let seconds = totalMicros.floorDivided(by: 1_000_000)
        let micros = Int(totalMicros.floorModulo(1_000_000))
        let base = Timestamp(secondsSinceEpoch: seconds).text.dropLast()
        let fraction = "." + String(format: "%06d", micros)
        guard offsetSeconds != 0 else { return base + fraction + "Z" }
        let sign = offsetSeconds < 0 ? "-" : "+"
        let magnitude = abs(offsetSeconds)
        return base + fraction + sign + String(format: "%02d:%02d", magnitude / 3600, magnitude / 60 % 60)
    }
}

extension Timestamp {
    /// The whole second of an RFC 3339 instant (Alpaca's bar times are whole minutes in UTC).
    public init?(rfc3339 text: String) {
        guard let (seconds, _) = RFC3339.parseParts(text) else { return nil }
        self.init(secondsSinceEpoch: seconds)
    }
}
