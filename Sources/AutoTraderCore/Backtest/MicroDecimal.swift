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

extension OrderGuards {
    /// `cushion` in micro-dollars per dollar (5,000 for 0.5 %).
    static let cushionMicros = NSDecimalNumber(decimal: cushion * Decimal(Money.microsPerDollar)).int64Value

    /// `buyLimit(shares:price:cash:)` in micro-dollars, with integers instead of a `Decimal` division (a backtest
    /// sends thousands of buys): ⌊min(price × (1 + cushion), cash / shares) / unit⌋ × unit, unit a cent from $1
    /// and 0.0001 below, exactly. The `Decimal` quotient's 38 digits can't cross a unit the exact one doesn't
    /// reach, so both give the same limit (tested). Nil when an amount is not above 0 or the integers could
    /// overflow: ask `buyLimit` then.
    static func buyLimitMicros(shares: Int, priceMicros: Int64, cashMicros: Int64) -> Int64? {
        guard shares > 0, priceMicros > 0, cashMicros > 0 else { return nil }
        let perDollar = Int64(Money.microsPerDollar)
        let (cushioned, over1) = priceMicros.multipliedReportingOverflow(by: perDollar + cushionMicros) // × 10⁶
        let (sharesInDollars, over2) = Int64(shares).multipliedReportingOverflow(by: perDollar)
        guard !over1, !over2 else { return nil }
        // The ceiling is $1 or more when both of its candidates are.
        let unit: Int64 = cushioned >= perDollar * perDollar && cashMicros >= sharesInDollars ? 10_000 : 100
        let byPrice = cushioned / (perDollar * unit)
        let byCash = cashMicros / (Int64(shares) * unit)
        return min(byPrice, byCash) * unit
    }
}
