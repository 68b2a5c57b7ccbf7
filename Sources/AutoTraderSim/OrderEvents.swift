import AutoTraderCore
import Foundation

/// One change of an order's state, as the trade-updates stream reports it (Alpaca's `trade_updates` events).
/// The exchange yields one into `Exchange.orderEvents` at every change, in the order they happen.
public struct OrderEvent: Sendable {
    /// Alpaca's event names (docs `trading-api/streaming.md`).
    public enum Kind: String, Sendable {
        case new, fill, canceled, rejected, expired, replaced
        case partialFill = "partial_fill"
    }

    public var kind: Kind
    /// The order as it is after the change.
    public var order: SimOrder
    /// When the change happened (simulated time): the fill's time for fills.
    public var timestamp: Date
    /// Fills only: the price of this execution, its shares, and the position's size after it (negative when short).
    public var price: Decimal?
    public var qty: String?
    public var positionQty: String?
    /// A stable id of this execution (derived from the order, the event and its time).
    public var executionID: String
}

extension Exchange {
    /// Reports an order's state change to the trade-updates stream. `qty` and `position` (fills only) are
    /// written as plain numbers (`"5"`, `"-3"`, `"0.5"`).
    func emitOrderEvent(
        _ kind: OrderEvent.Kind, _ order: SimOrder, at time: Date, price: Decimal? = nil,
        qty: (any CustomStringConvertible)? = nil, position: (any CustomStringConvertible)? = nil
    ) {
        let micros = UInt64(bitPattern: Int64((time.timeIntervalSince1970 * 1e6).rounded()))
        let execution = StableHash.uuid(StableHash.mix(StableHash.of(order.id), StableHash.of(kind.rawValue), micros))
        orderEvents.continuation.yield(OrderEvent(
            kind: kind, order: order, timestamp: time, price: price, qty: qty.map { "\($0)" },
            positionQty: position.map { "\($0)" }, executionID: execution))
    }
}
