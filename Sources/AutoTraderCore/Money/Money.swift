import Foundation

/// Exact money: conversions between SQLite's REAL columns and `Decimal`, and rounding to cents.
///
/// The original schema stores prices and capital as REAL. A REAL cannot hold
/// 0.1 exactly, but it holds every price with up to six decimals closely enough
/// that rounding to micro-dollars recovers the decimal that was written. So sums
/// are done in integer micro-dollars (in SQL, where SQLite's integer SUM fails
/// loudly on overflow instead of drifting) and turned into `Decimal` exactly.
public enum Money {
    /// Stored prices carry at most this many decimals (micro-dollars).
    public static let priceScale = 6
    public static let microsPerDollar: Int64 = 1_000_000

    /// The decimal a REAL column was meant to hold, to micro-dollar precision.
    public static func decimal(fromStored value: Double) -> Decimal {
        decimal(micros: Int64((value * Double(microsPerDollar)).rounded()))
    }

    public static func decimal(micros: Int64) -> Decimal {
        Decimal(micros) / Decimal(microsPerDollar)
    }

    /// The REAL to store for a decimal amount: the nearest double to the decimal,
    /// which `decimal(fromStored:)` turns back into the same decimal.
    public static func stored(_ value: Decimal) -> Double {
        Double(value.plainString) ?? Double(truncating: value as NSDecimalNumber)
    }

    /// Rounds half away from zero ("half-up" as money is written) to `scale` decimals.
    public static func rounded(_ value: Decimal, scale: Int = 2) -> Decimal {
        var input = value
        var result = Decimal()
        NSDecimalRound(&result, &input, scale, .plain)
        return result
    }

    /// Rounds toward zero to `scale` decimals (a limit that must not exceed what it was computed from).
    public static func roundedDown(_ value: Decimal, scale: Int = 2) -> Decimal {
        var input = value
        var result = Decimal()
        NSDecimalRound(&result, &input, scale, .down)
        return result
    }

    /// Number of decimals written in a decimal value (0 for 12, 2 for 12.34, 0 for 12.00 parsed as 12).
    public static func decimalPlaces(_ value: Decimal) -> Int {
        max(0, -Int(value.exponent))
    }

    /// Cents with exactly two decimals, as money is shown: "1234.50", "-3.10".
    public static func centsText(_ value: Decimal) -> String {
        let cents = rounded(value, scale: 2)
        let negative = cents < 0
        let absolute = negative ? -cents : cents
        let whole = NSDecimalNumber(decimal: absolute * 100).int64Value
        let text = "\(whole / 100).\(String(format: "%02lld", whole % 100))"
        return negative ? "-" + text : text
    }

    /// Parses a plain decimal number ("1000", "1000.5", "0.25"); no exponents, no thousands separators.
    public static func parse(_ text: String) -> Decimal? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty,
              trimmed.range(of: #"^-?[0-9]+(\.[0-9]+)?$"#, options: .regularExpression) != nil
        else { return nil }
        return Decimal(string: trimmed, locale: Locale(identifier: "en_US_POSIX"))
    }
}

extension Decimal {
    /// The value written out in plain notation, never with an exponent ("0.000001", "1500000").
    public var plainString: String {
        var copy = self
        return NSDecimalString(&copy, Locale(identifier: "en_US_POSIX"))
    }
}
