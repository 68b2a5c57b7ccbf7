import Foundation

/// How a backtest fills the orders its decisions send.
public enum BacktestFillRule: String, Sendable, CaseIterable, Codable {
    /// As a market order fills live against the simulator (and the executor follows it): the decision on
    /// minute M's bar is made once that bar is in, during minute M+1, so the order reaches the broker during
    /// M+1 and fills at the open of the first bar that begins after it arrived, M+2's. When the ticker has
    /// no bar at M+2 the executor cancels the order as minute M+1 begins (nothing fills), and an order sent
    /// in the session's last minute waits for the next session's first bar.
    case nextOpen = "next-open"
    /// At the decision bar's close, at once (the simulator's `--fill-price last-close`).
    case close
}

/// What a backtest is asked to do besides the algorithm and the bars: the card's capital and the fill model.
public struct BacktestSettings: Sendable, Hashable {
    /// The card's initial capital (what the algorithm sizes its buys with).
    public var capital: Decimal
    public var fill: BacktestFillRule
    /// Basis points added to a buy's fill price and taken off a sell's (rounded to micro-dollars).
    public var slippageBps: Decimal
    /// Dollars per fill, charged to the result's equity. The card's own books have no fees, so the
    /// algorithm sizes its buys without them, as it does live.
    public var commission: Decimal

    public init(capital: Decimal, fill: BacktestFillRule = .nextOpen, slippageBps: Decimal = 0, commission: Decimal = 0) {
        self.capital = capital
        self.fill = fill
        self.slippageBps = slippageBps
        self.commission = commission
    }

    /// Why these settings can't be run, or nil.
    public var problem: String? {
        if capital <= 0 { return "capital must be above 0 (got \(capital.plainString))" }
        if Money.decimalPlaces(capital) > 2 { return "capital must be whole cents (got \(capital.plainString))" }
        if slippageBps < 0 || slippageBps >= 10_000 { return "slippage must be 0 or more basis points and under 10000 (got \(slippageBps.plainString))" }
        if commission < 0 { return "commission must not be negative (got \(commission.plainString))" }
        if Money.decimalPlaces(commission) > Money.priceScale { return "commission has more than 6 decimals" }
        return nil
    }
}
