import AutoTraderCore

/// MACD 12/26/9 signal-line cross: buys with the card's uninvested cash when MACD crosses above
/// its signal line, sells everything when it crosses below.
public struct MacdSignal: TradingAlgorithm {
    public static let summary = "MACD 12/26/9: buy when MACD crosses above its signal line, sell when it crosses below"
    // 26 + 9 − 1 bars give the first signal value; the rest let the EMAs forget their seeds.
    public static let barsNeeded = 200

    public init() {}

    public func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        // In place, bit for bit `Indicators.macd`'s last two values; a hold's text is written only when read.
        guard let (macd, signal) = input.bars.macdLastTwo() else {
            return .hold(Double(input.bars.count)) { count, _ in "warming up: \(Int(count)) of 35 bars" }
        }
        // Buys and sells write their text when read too: a backtest reads it only for the fills it reports.
        if macd.before <= signal.before, macd.now > signal.now {
            let shares = input.affordableShares()
            guard shares > 0 else { return .hold("crossed up but no cash for a share") }
            return AlgorithmDecision(.buy(shares), macd.now, signal.now) { macd, signal in
                "macd crossed above signal (macd \(Indicators.format(macd, places: 4)) signal \(Indicators.format(signal, places: 4)))"
            }
        }
        if macd.before >= signal.before, macd.now < signal.now, input.sharesHeld > 0 {
            return AlgorithmDecision(.sell(input.sharesHeld), macd.now, signal.now) { macd, signal in
                "macd crossed below signal (macd \(Indicators.format(macd, places: 4)) signal \(Indicators.format(signal, places: 4)))"
            }
        }
        return .hold(macd.now, signal.now) { macd, signal in
            "no cross (macd \(Indicators.format(macd, places: 4)) signal \(Indicators.format(signal, places: 4)))"
        }
    }
}
