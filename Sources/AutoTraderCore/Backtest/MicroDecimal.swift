import Foundation

extension Money {
    /// `decimal(micros:)` without a `Decimal` division: the micro-dollars with their trailing zeros taken off
    /// become the significand, as the division's compacted result has them (the same value and the same
    /// text; tested against it). A backtest turns a price into money at every order, thousands of times.
    public static func exactDecimal(micros: Int64) -> Decimal {
        guard micros != 0 else { return 0 }
        var significand = micros.magnitude
        var exponent = -priceScale
        while exponent < 0, significand % 10 == 0 {
            significand /= 10
            exponent += 1
        }
        return Decimal(sign: micros < 0 ? .minus : .plus, exponent: exponent, significand: Decimal(significand))
    }

    /// `decimal(fromStored:)` by way of `exactDecimal(micros:)`.
    public static func exactDecimal(fromStored value: Double) -> Decimal {
        exactDecimal(micros: Int64((value * Double(microsPerDollar)).rounded()))
    }
}
