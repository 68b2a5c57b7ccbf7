import AutoTraderCore

/// RSI-14 bounce (Wilder smoothing): buys with the card's uninvested cash when RSI is below 30
/// (oversold), sells everything when it is above 70 (overbought).
public struct RsiBounce: TradingAlgorithm {
    public static let summary = "RSI-14 bounce (Wilder): buy below 30 (oversold), sell above 70 (overbought)"
    // Wilder's smoothing remembers its seed; 120 bars let it settle to within a hundredth of the full-history value.
    public static let barsNeeded = 120

    public init() {}

    public func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        // In place, bit for bit `Indicators.rsi(…).last`; a hold's text is written only when read.
        guard let rsi = input.bars.rsiLast(period: 14) else {
            return .hold(Double(input.bars.count)) { count, _ in "warming up: \(Int(count)) of 15 bars" }
        }
        // Buys and sells write their text when read too: a backtest reads it only for the fills it reports.
        if rsi < 30 {
            let shares = input.affordableShares()
            guard shares > 0 else { return .hold(rsi) { rsi, _ in "oversold but no cash for a share (rsi14 \(Indicators.format(rsi)))" } }
            return AlgorithmDecision(.buy(shares), rsi, 0) { rsi, _ in "oversold (rsi14 \(Indicators.format(rsi)))" }
        }
        if rsi > 70, input.sharesHeld > 0 {
            return AlgorithmDecision(.sell(input.sharesHeld), rsi, 0) { rsi, _ in "overbought (rsi14 \(Indicators.format(rsi)))" }
        }
        return .hold(rsi) { rsi, _ in "rsi14 \(Indicators.format(rsi))" }
    }
}
