import AutoTraderCore

/// MACD 12/26/9 signal-line cross: buys with the card's uninvested cash when MACD crosses above
/// its signal line, sells everything when it crosses below.
public struct MacdSignal: TradingAlgorithm {
    public static let summary = "MACD 12/26/9: buy when MACD crosses above its signal line, sell when it crosses below"
    // 26 + 9 − 1 bars give the first signal value; the rest let the EMAs forget their seeds.
    public static let barsNeeded = 200

    public init() {}

    public func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        let lines = Indicators.macd(input.closes)
        let count = lines.macd.count
        guard count >= 2, let macdNow = lines.macd[count - 1], let signalNow = lines.signal[count - 1],
            let macdBefore = lines.macd[count - 2], let signalBefore = lines.signal[count - 2]
        else { return .hold("warming up: \(count) of 35 bars") }
        let values = "macd \(Indicators.format(macdNow, places: 4)) signal \(Indicators.format(signalNow, places: 4))"
        if macdBefore <= signalBefore, macdNow > signalNow {
            let shares = input.affordableShares()
            return shares > 0 ? .buy(shares, "macd crossed above signal (\(values))") : .hold("crossed up but no cash for a share")
        }
        if macdBefore >= signalBefore, macdNow < signalNow, input.sharesHeld > 0 {
            return .sell(input.sharesHeld, "macd crossed below signal (\(values))")
        }
        return .hold("no cross (\(values))")
    }
}
