import Foundation

/// One message for the owner's phone, rendered when the fact it reports is written (so every attempt to
/// deliver it sends the same bytes) and identified by a stable `eventID` a receiver can deduplicate by.
public struct OwnerNotification: Hashable, Sendable {
    /// What happened; the outbox's `kind` column and the JSON's `kind` field.
    public enum Kind: String, Sendable, CaseIterable {
        case fill, rejected, refused, halted, resumed
        case pinLockout = "pin_lockout"
        case closeSummary = "close_summary"
        case test
    }

    public let eventID: String
    public let kind: Kind
    public let title: String
    public let body: String
    /// ntfy's 1 (min) … 5 (max); 3 is the default.
    public let priority: Int
    /// ntfy's tags (emoji short codes among them), in order.
    public let tags: [String]
    /// The event's fields for a JSON webhook (strings, so money stays exact decimal text).
    public let data: [String: String]
    public let createdAt: Timestamp

    public init(
        eventID: String, kind: Kind, title: String, body: String, priority: Int = 3, tags: [String] = [],
        data: [String: String] = [:], createdAt: Timestamp
    ) {
        self.eventID = eventID
        self.kind = kind
        self.title = title
        self.body = body
        self.priority = min(5, max(1, priority))
        self.tags = tags
        self.data = data
        self.createdAt = createdAt
    }
}

// The messages, one builder per event. Nothing here reads a key or the PIN: they are built only from the
// card, the trade, the broker's verdict and counts, so neither can reach a message.
extension OwnerNotification {
    /// A fill recorded as a transaction (`fill-<transaction id>`).
    public static func fill(_ trade: Trade, card: AlgorithmInstance) -> OwnerNotification {
        let side = trade.side == .buy ? "BUY" : "SELL"
        let price = Money.centsText(trade.price)
        let total = Money.centsText(trade.price * Decimal(trade.shares))
        return OwnerNotification(
            eventID: "fill-\(trade.id)", kind: .fill,
            title: "\(side) \(trade.shares) \(card.ticker) at \(price)",
            body: "Card #\(card.id) \(card.ticker) \(card.algorithmType): \(trade.side.rawValue) \(trade.shares) shares at \(price) (\(total)) at \(trade.timestamp.text).",
            priority: 3, tags: [trade.side == .buy ? "chart_with_upwards_trend" : "chart_with_downwards_trend", "fill"],
            data: [
                "card_id": "\(card.id)", "ticker": card.ticker, "algorithm": card.algorithmType, "side": trade.side.rawValue,
                "shares": "\(trade.shares)", "price": trade.price.plainString, "transaction_id": "\(trade.id)",
                "filled_at": trade.timestamp.text,
            ],
            createdAt: trade.timestamp)
    }

    /// An order the broker refused (`rejected-<client order id>`).
    public static func rejected(_ intent: OrderIntent, card: AlgorithmInstance, reason: String, at now: Timestamp) -> OwnerNotification {
        OwnerNotification(
            eventID: "rejected-\(intent.clientOrderId)", kind: .rejected,
            title: "Order rejected: \(intent.side.rawValue) \(intent.shares) \(card.ticker)",
            body: "Card #\(card.id) \(card.ticker) \(card.algorithmType): the broker rejected \(intent.side.rawValue) \(intent.shares) shares (order \(intent.clientOrderId))\(reason.isEmpty ? "" : ": \(clipped(reason))").",
            priority: 4, tags: ["warning", "rejected"],
            data: [
                "card_id": "\(card.id)", "ticker": card.ticker, "algorithm": card.algorithmType, "side": intent.side.rawValue,
                "shares": "\(intent.shares)", "client_order_id": intent.clientOrderId, "reason": clipped(reason),
            ],
            createdAt: now)
    }

    /// A decision the guards refused. One a card a day (`refused-<card>-<UTC date>`): a card refused every
    /// minute must not buzz the phone every minute; the decision log has them all.
    public static func refused(_ entry: DecisionEntry, card: AlgorithmInstance, at now: Timestamp) -> OwnerNotification {
        OwnerNotification(
            eventID: "refused-\(card.id)-\(entry.minute.utcDate)", kind: .refused,
            title: "Order refused: \(card.ticker) card #\(card.id)",
            body: "Card #\(card.id) \(card.ticker) \(card.algorithmType) asked to \(clipped(entry.reason)) at \(entry.minute.text); refused: \(clipped(entry.outcome)). Further refusals of this card today are only in its decision log.",
            priority: 3, tags: ["no_entry", "refused"],
            data: [
                "card_id": "\(card.id)", "ticker": card.ticker, "algorithm": card.algorithmType, "minute": entry.minute.text,
                "request": clipped(entry.reason), "reason": clipped(entry.outcome),
            ],
            createdAt: now)
    }

    /// Trading stopped during market hours (`halted-<broker time>`).
    public static func halted(reason: String, brokerTime: Timestamp, at now: Timestamp) -> OwnerNotification {
        OwnerNotification(
            eventID: "halted-\(brokerTime.text)", kind: .halted,
            title: "TRADING HALTED",
            body: "Trading halted at \(brokerTime.text): \(clipped(reason)).",
            priority: 5, tags: ["rotating_light", "halted"],
            data: ["reason": clipped(reason), "broker_time": brokerTime.text],
            createdAt: now)
    }

    /// Trading goes on again (`resumed-<broker time>`).
    public static func resumed(haltedSince: Timestamp?, brokerTime: Timestamp, at now: Timestamp) -> OwnerNotification {
        OwnerNotification(
            eventID: "resumed-\(brokerTime.text)", kind: .resumed,
            title: "Trading resumed",
            body: "Trading resumed at \(brokerTime.text)\(haltedSince.map { " (halted since \($0.text))" } ?? "").",
            priority: 4, tags: ["white_check_mark", "resumed"],
            data: ["broker_time": brokerTime.text, "halted_since": haltedSince?.text ?? ""],
            createdAt: now)
    }

    /// Wrong PINs locked the dashboard's changes (`pin-lockout-<first wrong PIN's time>-<count>`). The PIN
    /// tried is never kept anywhere, so it can't be in here; the address it came from is.
    public static func pinLockout(wrongPINs: Int, lockedForSeconds: Int64, client: String, firstWrong: Timestamp, at now: Timestamp) -> OwnerNotification {
        OwnerNotification(
            eventID: "pin-lockout-\(firstWrong.text)-\(wrongPINs)", kind: .pinLockout,
            title: "PIN locked: \(wrongPINs) wrong PINs",
            body: "\(wrongPINs) wrong PINs within the hour, the last from \(clipped(client)) at \(now.text). Changes need the PIN and wait \(lockedForSeconds) s before the next try is checked. Not you? Change the PIN.",
            priority: 5, tags: ["lock", "pin_lockout"],
            data: [
                "wrong_pins": "\(wrongPINs)", "locked_for_seconds": "\(lockedForSeconds)", "client": clipped(client),
                "first_wrong_at": firstWrong.text,
            ],
            createdAt: now)
    }

    /// One card's line in the close summary.
    public struct CardResult: Hashable, Sendable {
        public let card: AlgorithmInstance
        public let value: Decimal
        public let pnl: Decimal

        public init(card: AlgorithmInstance, value: Decimal, pnl: Decimal) {
            self.card = card
            self.value = value
            self.pnl = pnl
        }
    }

    /// The day's summary at the close (`close-<New York date>`): each card's P&L since it started, and the total.
    public static func closeSummary(session: MarketSession, cards: [CardResult], at now: Timestamp) -> OwnerNotification {
        let total = cards.reduce(Decimal(0)) { $0 + $1.pnl }
        let lines = cards.map { result in
            "#\(result.card.id) \(result.card.ticker) \(result.card.algorithmType): \(signed(result.pnl))"
                + (result.card.status == .stopped ? " (stopped)" : "")
        }
        var data: [String: String] = ["session": session.date.description, "close": session.close.text, "total_pnl": Money.rounded(total).plainString]
        for result in cards { data["card_\(result.card.id)_pnl"] = Money.rounded(result.pnl).plainString }
        return OwnerNotification(
            eventID: "close-\(session.date)", kind: .closeSummary,
            title: "Close \(session.date): total \(signed(total))",
            body: (lines + ["Total P&L \(signed(total)) over \(cards.count) card\(cards.count == 1 ? "" : "s")."]).joined(separator: "\n"),
            priority: 3, tags: [total >= 0 ? "moneybag" : "small_red_triangle_down", "close_summary"],
            data: data, createdAt: now)
    }

    /// `autotrader notify test`.
    public static func test(at now: Timestamp, id: String = String(UUID().uuidString.prefix(8)).lowercased()) -> OwnerNotification {
        OwnerNotification(
            eventID: "test-\(now.text)-\(id)", kind: .test, title: "AutoTrader test",
            body: "A test message from `autotrader notify test` at \(now.text): notifications reach this phone.",
            priority: 3, tags: ["test_tube", "test"], data: [:], createdAt: now)
    }

    /// "+12.34" or "-5.00".
    static func signed(_ amount: Decimal) -> String {
        let text = Money.centsText(amount)
        return text.hasPrefix("-") ? text : "+" + text
    }

    static func clipped(_ text: String) -> String { String(text.prefix(300)) }
}
