import Foundation
import GRDB

/// An order the executor decided to send, written down before it is sent (`order_intents`).
///
/// Its client order id is derived from the card and the minute, so whatever happens between
/// writing it and hearing back, the broker can be asked about it by that id.
public struct OrderIntent: Hashable, Sendable {
    /// Where an intent is in its life. Open states are `pending` (written, maybe sent) and `sent`.
    public enum State: String, Sendable, Codable, CaseIterable {
        /// Written; the submit may or may not have reached the broker.
        case pending
        /// The broker acknowledged it.
        case sent
        /// Filled completely.
        case filled
        /// Canceled (by us or the broker), possibly after a partial fill.
        case canceled
        /// Refused by the broker.
        case rejected
        /// The submit failed for good (the broker never took it).
        case failed
        /// Found unsent after a restart and deliberately not sent late.
        case unsent

        public var isOpen: Bool { self == .pending || self == .sent }
    }

    /// Why the order exists: an algorithm's decision, or a sell-everything-then-stop request.
    public enum Purpose: String, Sendable, Codable {
        case algorithm
        case liquidate
    }

    public let id: Int64
    public let algorithmId: Int64
    public let minute: Timestamp
    public let side: TradeSide
    public let shares: Int
    /// A buy's limit (it never costs more); nil for a market order.
    public let limitPrice: Decimal?
    public let purpose: Purpose
    public let clientOrderId: String
    public let state: State
    @ExplicitNull public private(set) var brokerOrderId: String?
    public let filledShares: Int
    @ExplicitNull public private(set) var fillPrice: Decimal?
    @ExplicitNull public private(set) var transactionId: Int64?
    public let detail: String
    public let createdAt: Timestamp
    @ExplicitNull public private(set) var sentAt: Timestamp?
    @ExplicitNull public private(set) var closedAt: Timestamp?

    init(row: Row) {
        id = row["id"]
        algorithmId = row["algorithm_id"]
        minute = row.time("minute")
        side = TradeSide(rawValue: row["side"]) ?? .buy
        shares = row["shares"]
        limitPrice = (row["limit_price"] as String?).flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) }
        purpose = Purpose(rawValue: row["purpose"]) ?? .algorithm
        clientOrderId = row["client_order_id"]
        state = State(rawValue: row["state"]) ?? .pending
        brokerOrderId = row["broker_order_id"]
        filledShares = row["filled_shares"]
        fillPrice = (row["fill_price"] as Double?).map(Money.decimal(fromStored:))
        transactionId = row["transaction_id"]
        detail = row["detail"]
        createdAt = row.time("created_at")
        sentAt = row.optionalTime("sent_at")
        closedAt = row.optionalTime("closed_at")
    }

    /// `at-<card>-<minute as YYYYMMDDHHMM>`: unique per card and minute, and readable in the broker's UI.
    public static func clientOrderId(algorithmId: Int64, minute: Timestamp) -> String {
        let digits = minute.text.filter(\.isNumber).prefix(12)
        return "at-\(algorithmId)-\(digits)"
    }
}

/// A decision to log: what a card decided (or the executor decided for it) in one minute.
public struct DecisionEntry: Hashable, Sendable {
    public let algorithmId: Int64
    public let minute: Timestamp
    public let decision: DecisionRecord.Kind
    public var shares: Int? = nil
    public let reason: String
    /// What became of it ("" until known).
    public var outcome = ""
}

/// A row of `decisions`: why a card did or did not trade in one minute.
public struct DecisionRecord: Hashable, Sendable {
    /// What was decided, including the executor's own verdicts (skip, refused, error).
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case buy, sell, hold, skip, refused, error
    }

    public let id: Int64
    public let algorithmId: Int64
    public let minute: Timestamp
    public let decision: Kind
    @ExplicitNull public private(set) var shares: Int?
    public let reason: String
    public let outcome: String
    public let createdAt: Timestamp

    init(row: Row) {
        id = row["id"]
        algorithmId = row["algorithm_id"]
        minute = row.time("minute")
        decision = Kind(rawValue: row["decision"]) ?? .error
        shares = row["shares"]
        reason = row["reason"]
        outcome = row["outcome"]
        createdAt = row.time("created_at")
    }
}

extension DecisionRecord: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, algorithmId = "algorithm_id", minute, decision, shares, reason, outcome, createdAt = "created_at"
    }
}

extension OrderIntent: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, algorithmId = "algorithm_id", minute, side, shares, purpose, clientOrderId = "client_order_id"
        case state, brokerOrderId = "broker_order_id", filledShares = "filled_shares", fillPrice = "fill_price"
        case transactionId = "transaction_id", detail, createdAt = "created_at", sentAt = "sent_at", closedAt = "closed_at"
    }
}

/// A pending or carried-out "sell everything, then stop" request (`stop_requests`).
public struct StopRequest: Hashable, Sendable {
    public let algorithmId: Int64
    public let requestedAt: Timestamp
    public let isDone: Bool
    public let detail: String

    init(row: Row) {
        algorithmId = row["algorithm_id"]
        requestedAt = row.time("requested_at")
        isDone = (row["state"] as String) == "done"
        detail = row["detail"]
    }
}
