import Foundation


/// Why the executor's guards refused a decision (logged as the decision's outcome).
public enum OrderRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case notPositive(Int)
    case sellsMoreThanHeld(held: Int, requested: Int)
    case costsMoreThanCash(cost: Decimal, cash: Decimal)
    case alreadyOrderedThisMinute
    case previousOrderOpen(clientOrderId: String)
    case notRunning
    case noPrice

    public var description: String {
        switch self {
        case .notPositive(let shares):
            return "share count \(shares) is not a whole number above 0"
        case .sellsMoreThanHeld(let held, let requested):
            return "asked to sell \(requested) shares but the card holds \(held)"
        case .costsMoreThanCash(let cost, let cash):
            return "buying costs \(Money.centsText(cost)) at the current price but the card has \(Money.centsText(cash)) uninvested"
        case .alreadyOrderedThisMinute:
            return "the card already has an order for this minute"
        case .previousOrderOpen(let id):
            return "the card's previous order \(id) is still open"
        case .notRunning:
            return "the card is not running"
        case .noPrice:
            return "no current price for the ticker"
        }
    }
}

/// The executor's guards, applied to every decision whatever the algorithm answered.
public enum OrderGuards {
    /// What a buy's limit may exceed the price it was sized at by: the room `affordableShares` keeps back.
    public static let cushion = Decimal(string: "0.005")!

    /// The limit of a buy of `shares` sized at `price` by a card with `cash` uninvested: the price plus the
    /// cushion, but never more than the cash allows, rounded down to a price the broker takes (cents from
    /// $1, four decimals below). Whatever the next price does, the order can't cost more than `cash`.
    public static func buyLimit(shares: Int, price: Decimal, cash: Decimal) -> Decimal {
        guard shares > 0 else { return 0 }
        let ceiling = min(price * (1 + cushion), cash / Decimal(shares))
        return Money.roundedDown(ceiling, scale: ceiling >= 1 ? 2 : 4)
    }

    /// Checks one order against the card's position at `price` (the latest close).
    public static func check(
        side: TradeSide, shares: Int, price: Decimal, initialCapital: Decimal, position: Position
    ) -> OrderRefusal? {
        guard shares > 0 else { return .notPositive(shares) }
        switch side {
        case .sell:
            if shares > position.shares { return .sellsMoreThanHeld(held: position.shares, requested: shares) }
        case .buy:
            guard price > 0 else { return .noPrice }
            let cost = Decimal(shares) * price
            let cash = initialCapital - position.invested
            if cost > cash { return .costsMoreThanCash(cost: cost, cash: cash) }
        }
        return nil
    }
}
