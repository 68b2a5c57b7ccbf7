import AutoTraderCore

/// SMA 20/50 crossover: buys with the card's uninvested cash when the 20-minute average crosses
/// above the 50-minute one, sells everything when it crosses below.
public struct SmaCrossover: TradingAlgorithm {
    public static let summary = "SMA 20/50 crossover: buy when the 20-minute average crosses above the 50-minute, sell when it crosses below"
    // 50 bars for the slow average, one more to see the previous minute's side.
    public static let barsNeeded = 51

    public init() {}

    public func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        // Read in place (a backtest computes many minutes' at once), and no text on a hold until someone
        // reads it: most minutes are holds (a backtest runs millions of them). Bit for bit `Indicators.sma`'s.
        let averages = input.bars.smaLastTwo(fast: 20, slow: 50)
        guard let (fast, slow) = averages else {
            return .hold(Double(input.bars.count)) { count, _ in "warming up: \(Int(count)) of 51 bars" }
        }
        // Buys and sells write their text when read too: a backtest reads it only for the fills it reports.
        if fast.before <= slow.before, fast.now > slow.now {
            let shares = input.affordableShares()
            guard shares > 0 else { return .hold("crossed up but no cash for a share") }
            return AlgorithmDecision(.buy(shares), fast.now, slow.now) { fast, slow in
                "sma20 crossed above sma50 (sma20 \(Indicators.format(fast)) sma50 \(Indicators.format(slow)))"
            }
        }
        if fast.before >= slow.before, fast.now < slow.now, input.sharesHeld > 0 {
            return AlgorithmDecision(.sell(input.sharesHeld), fast.now, slow.now) { fast, slow in
                "sma20 crossed below sma50 (sma20 \(Indicators.format(fast)) sma50 \(Indicators.format(slow)))"
            }
        }
        return .hold(fast.now, slow.now) { fast, slow in
            "no cross (sma20 \(Indicators.format(fast)) sma50 \(Indicators.format(slow)))"
        }
    }
}
