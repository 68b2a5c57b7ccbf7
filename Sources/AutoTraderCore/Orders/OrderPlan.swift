import Foundation

/// What an algorithm's answer asks the broker for, before the guards: the one mapping from a
/// decision to an order that the executor and the backtest share, so both trade the same way.
public struct OrderPlan: Hashable, Sendable {
    public let side: TradeSide
    public let shares: Int
    /// The latest close: what the buy guard prices the order at (a market order fills at the next price).
    public let price: Decimal
    /// The decision's reason, written when first read (a backtest reads only its fills').
    public var reason: String { decision.reason }
    let decision: AlgorithmDecision

    /// The order a decision asks for, nil for a hold. `lastPrice` is the input's latest close (0 when none:
    /// the guards then refuse a buy for want of a price).
    public init?(_ decision: AlgorithmDecision, lastPrice: Decimal?) {
        switch decision.action {
        case .hold:
            return nil
        case .buy(let count):
            side = .buy
            shares = count
        case .sell(let count):
            side = .sell
            shares = count
        }
        price = lastPrice ?? 0
        self.decision = decision
    }

    /// Why the executor's guards refuse this order for a card with `position`, nil when they allow it.
    public func refusal(initialCapital: Decimal, position: Position) -> OrderRefusal? {
        OrderGuards.check(side: side, shares: shares, price: price, initialCapital: initialCapital, position: position)
    }
}
