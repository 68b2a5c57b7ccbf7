import AutoTraderCore

/// SMA 20/50 crossover: buys with the card's uninvested cash when the 20-minute average crosses
/// above the 50-minute one, sells everything when it crosses below.
public struct SmaCrossover: TradingAlgorithm {
    public static let summary = "SMA 20/50 crossover: buy when the 20-minute average crosses above the 50-minute, sell when it crosses below"
    // 50 bars for the slow average, one more to see the previous minute's side.
    public static let barsNeeded = 51

    public init() {}

    public func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        let closes = input.closes
        let fast = Indicators.sma(closes, period: 20)
        let slow = Indicators.sma(closes, period: 50)
        guard closes.count >= 51, let fastNow = fast[closes.count - 1], let slowNow = slow[closes.count - 1],
            let fastBefore = fast[closes.count - 2], let slowBefore = slow[closes.count - 2]
        else { return .hold("warming up: \(closes.count) of 51 bars") }
        let values = "sma20 \(Indicators.format(fastNow)) sma50 \(Indicators.format(slowNow))"
        if fastBefore <= slowBefore, fastNow > slowNow {
            let shares = input.affordableShares()
            return shares > 0 ? .buy(shares, "sma20 crossed above sma50 (\(values))") : .hold("crossed up but no cash for a share")
        }
        if fastBefore >= slowBefore, fastNow < slowNow, input.sharesHeld > 0 {
            return .sell(input.sharesHeld, "sma20 crossed below sma50 (\(values))")
        }
        return .hold("no cross (\(values))")
    }
}
