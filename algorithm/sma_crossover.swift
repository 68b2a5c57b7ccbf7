import AutoTraderCore

/// SMA 20/50 crossover: buys with the card's uninvested cash when the 20-minute average crosses
/// above the 50-minute one, sells everything when it crosses below.
public struct SmaCrossover: TradingAlgorithm {
    public static let summary = "SMA 20/50 crossover: buy when the 20-minute average crosses above the 50-minute, sell when it crosses below"
    // 50 bars for the slow average, one more to see the previous minute's side.
    public static let barsNeeded = 51

    public init() {}

    public func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        // Read in place, and no text on a hold until someone reads it: most minutes are holds (a backtest
        // runs millions of them). The averages are bit for bit `Indicators.sma`'s.
        let averages = input.bars.withCloses { closes -> (fast: Indicators.LastTwo, slow: Indicators.LastTwo)? in
            guard closes.count >= 51 else { return nil }
            return Indicators.smaLastTwo(closes, fast: 20, slow: 50)
        }
        guard let (fast, slow) = averages else {
            return .hold(Double(input.bars.count)) { count, _ in "warming up: \(Int(count)) of 51 bars" }
        }
        func values() -> String { "sma20 \(Indicators.format(fast.now)) sma50 \(Indicators.format(slow.now))" }
        if fast.before <= slow.before, fast.now > slow.now {
            let shares = input.affordableShares()
            return shares > 0 ? .buy(shares, "sma20 crossed above sma50 (\(values()))") : .hold("crossed up but no cash for a share")
        }
        if fast.before >= slow.before, fast.now < slow.now, input.sharesHeld > 0 {
            return .sell(input.sharesHeld, "sma20 crossed below sma50 (\(values()))")
        }
        return .hold(fast.now, slow.now) { fast, slow in
            "no cross (sma20 \(Indicators.format(fast)) sma50 \(Indicators.format(slow)))"
        }
    }
}
