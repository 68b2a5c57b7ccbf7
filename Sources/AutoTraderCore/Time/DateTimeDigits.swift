/// The `YYYY-MM-DDTHH:MM:SS` head that `Timestamp` and `RFC3339` both read: one copy of the digit
/// arithmetic and the calendar check, over any buffer of UTF-8 bytes.
enum DateTimeDigits {
    /// A run of ASCII digits as a number; nil past the end or at a non-digit.
    @inline(__always)
    static func number<Bytes: RandomAccessCollection>(_ bytes: Bytes, _ from: Int, _ count: Int) -> Int?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard from + count <= bytes.count else { return nil }
        var value = 0
        for index in from..<(from + count) {
            let digit = Int(bytes[bytes.startIndex + index]) - 48
            guard (0...9).contains(digit) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    /// The date and time of the first 19 bytes (separators already checked by the caller), or nil for an
    /// impossible date or time. `maxSecond` is 59, or 60 where a leap second may be written.
    static func head<Bytes: RandomAccessCollection>(_ bytes: Bytes, maxSecond: Int = 59) -> (date: CivilDate, seconds: Int)?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard let year = number(bytes, 0, 4), let month = number(bytes, 5, 2), let day = number(bytes, 8, 2),
              let hour = number(bytes, 11, 2), let minute = number(bytes, 14, 2), let second = number(bytes, 17, 2),
              let date = CivilDate(year: year, month: month, day: day), hour < 24, minute < 60, second <= maxSecond
        else { return nil }
        return (date, hour * 3600 + minute * 60 + second)
    }
}
