import Foundation
import GRDB

// order_intents: an order written down before it is sent, reconciled by client_order_id.
extension SystemDatabase {
    /// Writes an order intent, after checking the guards and "one open order per card" inside
    /// the same IMMEDIATE transaction, so nothing changed between the check and the write. The
    /// decision that led to it is logged in the same transaction (`reason`).
    public func createIntent(
        algorithmId: Int64, minute: Timestamp, side: TradeSide, shares: Int, price: Decimal,
        purpose: OrderIntent.Purpose = .algorithm, reason: String, now: Timestamp = .now()
    ) throws -> Result<OrderIntent, OrderRefusal> {
        try pool.write { db in
            try Self.createIntent(
                db, algorithmId: algorithmId, minute: minute, side: side, shares: shares, price: price, purpose: purpose,
                reason: reason, now: now)
        }
    }

    /// One order a card asked for in a minute (see `createIntents`).
    public struct IntentRequest: Sendable {
        public let algorithmId: Int64
        public let minute: Timestamp
        public let side: TradeSide
        public let shares: Int
        public let price: Decimal
        public let reason: String
    }

    /// Writes a minute's intents in ONE transaction: one fsync for all the cards that trade in the
    /// minute rather than one each (100 fsyncs in a row are most of a second on a Pi's SD card).
    /// Each request is checked on its own, exactly as `createIntent` checks it.
    public func createIntents(_ requests: [IntentRequest], now: Timestamp = .now()) throws -> [Result<OrderIntent, OrderRefusal>] {
        guard !requests.isEmpty else { return [] }
        return try pool.write { db in
            try requests.map { request in
                try Self.createIntent(
                    db, algorithmId: request.algorithmId, minute: request.minute, side: request.side, shares: request.shares,
                    price: request.price, purpose: .algorithm, reason: request.reason, now: now)
            }
        }
    }

    static func createIntent(
        _ db: Database, algorithmId: Int64, minute: Timestamp, side: TradeSide, shares: Int, price: Decimal,
        purpose: OrderIntent.Purpose, reason: String, now: Timestamp
    ) throws -> Result<OrderIntent, OrderRefusal> {
        do {
            let algorithm = try Self.fetchAlgorithm(db, id: algorithmId)
            guard algorithm.status == .running else { return .failure(.notRunning) }
            if let open = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT client_order_id FROM order_intents WHERE algorithm_id = ? AND closed_at IS NULL LIMIT 1"),
                arguments: [algorithmId])
            {
                return .failure(.previousOrderOpen(clientOrderId: open["client_order_id"]))
            }
            let clientOrderId = OrderIntent.clientOrderId(algorithmId: algorithmId, minute: minute)
            if try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM order_intents WHERE algorithm_id = ? AND minute = ?"),
                arguments: [algorithmId, minute.text]) == true
            {
                return .failure(.alreadyOrderedThisMinute)
            }
            let position = try PositionSums.read(db, algorithmId: algorithmId, afterID: 0).position
            if let refusal = OrderGuards.check(
                side: side, shares: shares, price: price, initialCapital: algorithm.initialCapital, position: position)
            {
                return .failure(refusal)
            }
            // A buy's limit is fixed here, from the same position the guard read: the hard cap on its cost.
            let limit = side == .buy
                ? OrderGuards.buyLimit(shares: shares, price: price, cash: algorithm.initialCapital - position.invested) : nil
            try db.cachedStatement(sql: """
                    INSERT INTO order_intents (algorithm_id, minute, side, shares, limit_price, purpose, client_order_id, state, created_at, sent_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                    """).execute(
                arguments: [
                    algorithmId, minute.text, side.rawValue, shares, limit?.plainString, purpose.rawValue, clientOrderId,
                    now.text, now.text,
                ])
            let intent = try Self.fetchIntent(db, id: db.lastInsertedRowID)
            try db.cachedStatement(sql: """
                    INSERT INTO decisions (algorithm_id, minute, decision, shares, reason, outcome, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """).execute(
                arguments: [
                    algorithmId, minute.text, side.rawValue, shares, String(reason.prefix(500)),
                    "order \(clientOrderId) written\(limit.map { ", limit \($0.plainString)" } ?? ""), sending", now.text,
                ])
            return .success(intent)
        }
    }

    /// The broker took the order.
    public func markIntentSent(id: Int64, brokerOrderId: String) throws {
        try writeRecoverable { db in // a lost mark is redone by reconciling (see writeRecoverable)
            try db.execute(
                sql: "UPDATE order_intents SET state = 'sent', broker_order_id = ? WHERE id = ? AND closed_at IS NULL",
                arguments: [brokerOrderId, id])
        }
    }

    /// What closing an intent did.
    public struct IntentClosing: Sendable {
        public let intent: OrderIntent
        /// The transaction recorded for the filled shares (nil: nothing filled, or closed before).
        public let trade: Trade?
        /// A liquidation left the card with no shares, so the card was stopped.
        public let stoppedAlgorithm: Bool
        /// The intent was already closed: nothing was done (a second close never records twice).
        public let wasAlreadyClosed: Bool
    }

    /// Closes an intent and, in the same transaction, records what filled as a transaction.
    ///
    /// Idempotent: closing a closed intent records nothing, so a crash between the broker's
    /// answer and this write, followed by a reconcile, can never record a fill twice. A closed
    /// liquidation that leaves the card without shares stops the card in the same transaction.
    public func closeIntent(
        id: Int64, state: OrderIntent.State, filledShares: Int, fillPrice: Decimal?, filledAt: Timestamp?,
        brokerOrderId: String?, detail: String, now: Timestamp = .now()
    ) throws -> IntentClosing {
        precondition(!state.isOpen, "closeIntent needs a closed state")
        // No fsync of its own: a close a power cut drops is redone, once, by reconciling (see writeRecoverable).
        return try writeRecoverable { db in
            let intent = try Self.fetchIntent(db, id: id)
            guard intent.closedAt == nil else {
                return IntentClosing(intent: intent, trade: nil, stoppedAlgorithm: false, wasAlreadyClosed: true)
            }
            var trade: Trade?
            if filledShares > 0, let fillPrice {
                trade = try Self.recordTrade(
                    db, algorithmId: intent.algorithmId, side: intent.side, shares: filledShares, price: fillPrice,
                    at: filledAt ?? now, orderSentAt: intent.sentAt ?? intent.createdAt)
                // The owner's phone hears of the fill from this same transaction: it can't be lost or invented.
                if let trade { try Self.notifyFill(db, trade: trade) }
            }
            if state == .rejected { try Self.notifyRejected(db, intent: intent, reason: detail, now: now) }
            try db.execute(
                sql: """
                    UPDATE order_intents SET state = ?, broker_order_id = COALESCE(?, broker_order_id), filled_shares = ?,
                        fill_price = ?, transaction_id = ?, detail = ?, closed_at = ?
                    WHERE id = ?
                    """,
                arguments: [
                    state.rawValue, brokerOrderId, trade == nil ? 0 : filledShares,
                    trade.map { Money.stored($0.price) }, trade?.id, detail, now.text, id,
                ])
            let late = detail.hasPrefix(Self.arrivedLateDetail) ? " (\(Self.arrivedLateDetail))" : ""
            let outcome = trade.map { "\(state.rawValue): \($0.shares) shares at \(Money.centsText($0.price))\(late)" }
                ?? "\(state.rawValue), nothing filled\(detail.isEmpty ? "" : ": \(detail)")"
            try db.execute(
                sql: "UPDATE decisions SET outcome = ? WHERE algorithm_id = ? AND minute = ? AND decision IN ('buy', 'sell')",
                arguments: [String(outcome.prefix(500)), intent.algorithmId, intent.minute.text])
            var stopped = false
            if intent.purpose == .liquidate {
                stopped = try Self.finishLiquidationIfFlat(db, algorithmId: intent.algorithmId, now: now)
            }
            return IntentClosing(
                intent: try Self.fetchIntent(db, id: id), trade: trade, stoppedAlgorithm: stopped, wasAlreadyClosed: false)
        }
    }

    /// Why an intent was closed unsent: the broker had no order with its client order id.
    public static let notReceivedDetail = "the broker has no order with this client_order_id"
    /// An intent closed unsent whose order the broker turned out to have.
    public static let arrivedLateDetail = "arrived late, after being closed unsent"

    /// Intents closed unsent (nothing recorded) written since `since`: still watched for a late order.
    public func unsentIntents(since: Timestamp) throws -> [OrderIntent] {
        try pool.read { db in
            try Row.fetchAll(db, sql: Self.unsentIntentsSQL, arguments: [Self.notReceivedDetail, since.text])
                .map(OrderIntent.init(row:))
        }
    }

    /// Read once a minute: served by the partial index `order_intents_closed_unsent` (ordered by its key, so
    /// SQLite has no reason to prefer scanning the whole table in id order).
    static let unsentIntentsSQL = """
        SELECT * FROM order_intents
        WHERE state IN ('unsent', 'failed') AND transaction_id IS NULL AND detail = ? AND created_at >= ?
        ORDER BY created_at, id
        """

    /// Re-opens an intent closed unsent whose order the broker has after all, so it is followed like any
    /// other and its fill recorded once. Nil when it is no longer an unsent intent (another look got there first).
    public func reopenLateIntent(id: Int64, brokerOrderId: String, now: Timestamp = .now()) throws -> OrderIntent? {
        try pool.write { db in
            try db.execute(
                sql: """
                    UPDATE order_intents SET state = 'sent', closed_at = NULL, broker_order_id = ?, sent_at = COALESCE(sent_at, ?),
                        detail = ?
                    WHERE id = ? AND state IN ('unsent', 'failed') AND transaction_id IS NULL AND detail = ?
                    """,
                arguments: [brokerOrderId, now.text, Self.arrivedLateDetail, id, Self.notReceivedDetail])
            guard db.changesCount == 1 else { return nil }
            let intent = try Self.fetchIntent(db, id: id)
            try db.execute(
                sql: "UPDATE decisions SET outcome = ? WHERE algorithm_id = ? AND minute = ? AND decision IN ('buy', 'sell')",
                arguments: ["the order \(intent.clientOrderId) \(Self.arrivedLateDetail); following it", intent.algorithmId, intent.minute.text])
            return intent
        }
    }

    /// Intents not yet closed, oldest first: what a restart must reconcile with the broker.
    public func openIntents() throws -> [OrderIntent] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM order_intents WHERE closed_at IS NULL ORDER BY id").map(OrderIntent.init(row:))
        }
    }

    /// An algorithm's intents, newest first.
    public func intents(algorithmId: Int64? = nil, limit: Int? = nil) throws -> [OrderIntent] {
        try pool.read { db in
            if let algorithmId {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM order_intents WHERE algorithm_id = ? ORDER BY id DESC LIMIT ?",
                    arguments: [algorithmId, limit ?? -1]
                ).map(OrderIntent.init(row:))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM order_intents ORDER BY id DESC LIMIT ?", arguments: [limit ?? -1])
                .map(OrderIntent.init(row:))
        }
    }

    static func fetchIntent(_ db: Database, id: Int64) throws -> OrderIntent {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM order_intents WHERE id = ?"), arguments: [id]) else {
            throw AutoTraderError.unknownIntent(id: id)
        }
        return OrderIntent(row: row)
    }
}
