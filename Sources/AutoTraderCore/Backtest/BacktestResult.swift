import Foundation

/// One fill of a backtest, as the card's transaction log would have it.
public struct BacktestFill: Hashable, Sendable {
    /// The minute of the bar that filled it.
    public let time: Timestamp
    /// The minute of the bar the decision was made on.
    public let decidedAt: Timestamp
    public let side: TradeSide
    public let shares: Int
    /// The fill price (slippage included).
    public let price: Decimal
    public let commission: Decimal
    /// The decision's reason, written when first read: a leaderboard never reads thousands of them.
    public var reason: String { explanation.text }
    let explanation: AlgorithmDecision.Explanation

    public init(time: Timestamp, decidedAt: Timestamp, side: TradeSide, shares: Int, price: Decimal, commission: Decimal, reason: String) {
        self.init(time: time, decidedAt: decidedAt, side: side, shares: shares, price: price, commission: commission, explanation: .text(reason))
    }

    init(
        time: Timestamp, decidedAt: Timestamp, side: TradeSide, shares: Int, price: Decimal, commission: Decimal,
        explanation: AlgorithmDecision.Explanation
    ) {
        self.time = time
        self.decidedAt = decidedAt
        self.side = side
        self.shares = shares
        self.price = price
        self.commission = commission
        self.explanation = explanation
    }

    public static func == (lhs: BacktestFill, rhs: BacktestFill) -> Bool {
        lhs.time == rhs.time && lhs.decidedAt == rhs.decidedAt && lhs.side == rhs.side && lhs.shares == rhs.shares
            && lhs.price == rhs.price && lhs.commission == rhs.commission && lhs.reason == rhs.reason
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(time)
        hasher.combine(decidedAt)
        hasher.combine(side)
        hasher.combine(shares)
        hasher.combine(price)
        hasher.combine(commission)
        hasher.combine(reason)
    }
}

/// The equity at one instant (a session's last bar in the summary curve).
public struct EquityPoint: Hashable, Sendable {
    public let time: Timestamp
    public let equity: Decimal
}

/// What one algorithm did over one ticker's bars: every fill and the figures a person compares algorithms by.
public struct BacktestResult: Sendable {
    public let algorithm: String
    public let ticker: String
    public let settings: BacktestSettings
    /// The first and last bar of the range (nil when the range had none).
    public let firstBar: Timestamp?
    public let lastBar: Timestamp?
    /// Bars in the range (decisions made).
    public let bars: Int
    public let fills: [BacktestFill]
    /// Decisions the executor's guards would have refused.
    public let refused: Int
    /// Orders that ended without a fill (no bar to fill at: canceled live), or were still waiting when the range ended.
    public let unfilled: Int
    /// Decisions on which the algorithm threw (logged as errors live; no order).
    public let errors: Int
    /// Uninvested cash + shares × the last close − commissions.
    public let finalEquity: Decimal
    public let sharesHeld: Int
    public let roundTrips: Int
    public let wins: Int
    /// The deepest fall of the equity from its running peak, and the two points.
    public let maxDrawdown: Decimal
    /// The ticker's own move over the range: the first bar's open to the last bar's close.
    public let buyAndHoldReturn: Decimal
    /// Bars at whose close the card held shares.
    public let barsHolding: Int
    /// The equity at the start and at each session's last bar.
    public let equityCurve: [EquityPoint]
    /// Every bar's time and the equity at its close (micro-dollars), for `--equity`.
    public let minuteEquity: MinuteEquity

    /// (final − capital) / capital.
    public var totalReturn: Decimal { Self.ratio(finalEquity - settings.capital, settings.capital) }
    /// Round trips that ended with more than they cost (commissions included), nil without round trips.
    public var winRate: Decimal? { roundTrips == 0 ? nil : Self.ratio(Decimal(wins), Decimal(roundTrips)) }
    /// The share of the range's minutes (bars) at whose close the card held shares.
    public var exposure: Decimal { bars == 0 ? 0 : Self.ratio(Decimal(barsHolding), Decimal(bars)) }

    /// A ratio rounded to six decimals (half away from zero), as every ratio is reported.
    static func ratio(_ numerator: Decimal, _ denominator: Decimal) -> Decimal {
        denominator == 0 ? 0 : Money.rounded(numerator / denominator, scale: 6)
    }
}

/// The equity at every bar's close, kept as integers (micro-dollars: exact, since every amount in a
/// backtest has at most six decimals) so a million bars cost 16 MB and no `Decimal` arithmetic.
public struct MinuteEquity: Sendable {
    public internal(set) var times: [Int64] = []
    public internal(set) var micros: [Int64] = []

    public var count: Int { times.count }

    public subscript(index: Int) -> EquityPoint {
        EquityPoint(time: Timestamp(secondsSinceEpoch: times[index]), equity: Money.decimal(micros: micros[index]))
    }
}
