import Foundation
import GRDB

/// A row of `notification_outbox`: a message waiting for (or done with) delivery.
public struct OutboxEntry: Hashable, Sendable {
    /// Where a message stands.
    public enum State: String, Sendable, CaseIterable {
        case pending, sent
        /// Given up on (undeliverable for too long).
        case failed
        /// No notification URL was configured when it came due.
        case skipped
    }

    public let id: Int64
    public let notification: OwnerNotification
    public let state: State
    public let attempts: Int
    public let nextAttemptAt: Timestamp
    public let lastError: String?
    public let sentAt: Timestamp?

    init(row: Row) {
        id = row["id"]
        let tags = (row["tags"] as String).split(separator: ",").map(String.init)
        let data = ((try? JSONSerialization.jsonObject(with: Data((row["data"] as String).utf8))) as? [String: String]) ?? [:]
        notification = OwnerNotification(
            eventID: row["event_id"], kind: OwnerNotification.Kind(rawValue: row["kind"]) ?? .test, title: row["title"],
            body: row["body"], priority: row["priority"], tags: tags, data: data,
            createdAt: row.time("created_at"))
        state = State(rawValue: row["state"]) ?? .pending
        attempts = row["attempts"]
        nextAttemptAt = row.time("next_attempt_at")
        lastError = row["last_error"]
        sentAt = row.optionalTime("sent_at")
    }
}

/// How many messages stand where, for the doctor and `autotrader notify status`.
public struct OutboxSummary: Hashable, Sendable {
    public var pending = 0
    public var sent = 0
    public var failed = 0
    public var skipped = 0
    public var oldestPending: Timestamp?
    public var lastError: String?
    public var lastSent: Timestamp?
}

// notification_outbox: every statement on it. Messages are added inside the transaction that writes the fact
// they report (a caller's `db`), and are sent by the api's `NotificationSender`, one at a time, oldest first.
extension SystemDatabase {
    /// Adds a message unless one with its event id exists (a repeated event is the same message). Returns
    /// whether it was added. Due at once (`created_at`'s wall clock is `now`).
    @discardableResult
    static func enqueueNotification(_ db: Database, _ notification: OwnerNotification, now: Timestamp = .now()) throws -> Bool {
        let data = try JSONSerialization.data(withJSONObject: notification.data, options: [.sortedKeys])
        try db.execute(
            sql: """
                INSERT INTO notification_outbox (event_id, kind, title, body, priority, tags, data, created_at, next_attempt_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(event_id) DO NOTHING
                """,
            arguments: [
                notification.eventID, notification.kind.rawValue, notification.title, notification.body, notification.priority,
                notification.tags.joined(separator: ","), String(decoding: data, as: UTF8.self), now.text, now.text,
            ])
        return db.changesCount == 1
    }

    /// Adds a message in a transaction of its own (events that report nothing else written: halted, resumed,
    /// the close summary). Returns whether it was added (false: that event id was already there).
    @discardableResult
    public func enqueueNotification(_ notification: OwnerNotification, now: Timestamp = .now()) throws -> Bool {
        try pool.write { db in try Self.enqueueNotification(db, notification, now: now) }
    }

    /// The oldest pending message (delivery keeps the order the facts happened in), or nil.
    public func nextPendingNotification() throws -> OutboxEntry? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM notification_outbox WHERE state = 'pending' ORDER BY id LIMIT 1")
                .map(OutboxEntry.init(row:))
        }
    }

    /// The receiver took it (a 2xx).
    public func markNotificationSent(id: Int64, now: Timestamp = .now()) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    UPDATE notification_outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL
                    WHERE id = ? AND state = 'pending'
                    """,
                arguments: [now.text, id])
        }
    }

    /// An attempt failed: counted, tried again at `nextAttempt` (or given up on with `giveUp`).
    public func markNotificationFailedAttempt(id: Int64, error: String, nextAttempt: Timestamp, giveUp: Bool) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    UPDATE notification_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
                        state = CASE WHEN ? THEN 'failed' ELSE state END
                    WHERE id = ? AND state = 'pending'
                    """,
                arguments: [String(error.prefix(500)), nextAttempt.text, giveUp, id])
        }
    }

    /// Without a notification URL nothing can be sent: pending messages are closed as skipped (so setting a
    /// URL later doesn't flood the phone with old news). Returns how many.
    @discardableResult
    public func skipPendingNotifications(reason: String) throws -> Int {
        try pool.write { db in
            try db.execute(
                sql: "UPDATE notification_outbox SET state = 'skipped', last_error = ? WHERE state = 'pending'",
                arguments: [String(reason.prefix(500))])
            return db.changesCount
        }
    }

    /// Deletes delivered, failed and skipped messages older than `before`: the outbox stays small.
    @discardableResult
    public func pruneNotifications(before cutoff: Timestamp) throws -> Int {
        try pool.write { db in
            try db.execute(
                sql: "DELETE FROM notification_outbox WHERE state != 'pending' AND created_at < ?", arguments: [cutoff.text])
            return db.changesCount
        }
    }

    /// Every message, oldest first (tests, `notify status`).
    public func notifications(limit: Int? = nil) throws -> [OutboxEntry] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM notification_outbox ORDER BY id LIMIT ?", arguments: [limit ?? -1])
                .map(OutboxEntry.init(row:))
        }
    }

    /// The newest halted or resumed message: whether the owner was last told trading stopped, and when.
    public func lastTradingAlert() throws -> OutboxEntry? {
        try pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT * FROM notification_outbox WHERE kind IN ('halted', 'resumed') ORDER BY id DESC LIMIT 1
                """).map(OutboxEntry.init(row:))
        }
    }

    /// Whether a message with this event id was ever written.
    public func hasNotification(eventID: String) throws -> Bool {
        try pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM notification_outbox WHERE event_id = ?", arguments: [eventID]) ?? false
        }
    }

    public func outboxSummary() throws -> OutboxSummary {
        try pool.read { db in try Self.outboxSummary(db) }
    }

    static func outboxSummary(_ db: Database) throws -> OutboxSummary {
        var summary = OutboxSummary()
        for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM notification_outbox GROUP BY state") {
            let count: Int = row["n"]
            switch OutboxEntry.State(rawValue: row["state"]) {
            case .pending: summary.pending = count
            case .sent: summary.sent = count
            case .failed: summary.failed = count
            case .skipped: summary.skipped = count
            case nil: break
            }
        }
        summary.oldestPending = try String.fetchOne(
            db, sql: "SELECT created_at FROM notification_outbox WHERE state = 'pending' ORDER BY id LIMIT 1"
        ).flatMap { Timestamp($0) }
        summary.lastError = try String.fetchOne(
            db, sql: "SELECT last_error FROM notification_outbox WHERE last_error IS NOT NULL AND state IN ('pending', 'failed') ORDER BY id DESC LIMIT 1")
        summary.lastSent = try String.fetchOne(db, sql: "SELECT MAX(sent_at) FROM notification_outbox").flatMap { Timestamp($0) }
        return summary
    }

    /// The outbox's counts on a read-only connection of its own, for the doctor (nil before migration 9).
    public static func inspectOutbox(path: String) throws -> OutboxSummary? {
        let queue = try DatabaseFile.readOnly(path)
        defer { try? queue.close() }
        return try queue.read { db in
            guard try db.tableExists("notification_outbox") else { return nil }
            return try outboxSummary(db)
        }
    }

    // MARK: - The facts that tell the owner (called inside the transactions that write them)

    /// A fill was recorded: tell the owner, in the same transaction.
    static func notifyFill(_ db: Database, trade: Trade) throws {
        try enqueueNotification(db, .fill(trade, card: try fetchAlgorithm(db, id: trade.algorithmId)))
    }

    /// The broker refused an order.
    static func notifyRejected(_ db: Database, intent: OrderIntent, reason: String, now: Timestamp) throws {
        try enqueueNotification(db, .rejected(intent, card: try fetchAlgorithm(db, id: intent.algorithmId), reason: reason, at: now), now: now)
    }

    /// The guards refused decisions (the first of each card each day is sent; see `OwnerNotification.refused`).
    static func notifyRefusals(_ db: Database, _ entries: [DecisionEntry], now: Timestamp) throws {
        for entry in entries where entry.decision == .refused {
            try enqueueNotification(db, .refused(entry, card: try fetchAlgorithm(db, id: entry.algorithmId), at: now), now: now)
        }
    }

    /// Wrong PINs that lock changes out for a while: the third of the hour (someone is guessing, not mistyping)
    /// and the one that uses up the hour.
    static func notifyPINLockout(
        _ db: Database, failures: [Timestamp], policy: PINGuessPolicy, client: String, now: Timestamp
    ) throws {
        let count = failures.count
        guard count == PINGuessPolicy.notifyAfter || count == policy.perHour, let first = failures.first else { return }
        let wait = policy.wait(failures: failures, now: now) ?? 0
        try enqueueNotification(
            db, .pinLockout(wrongPINs: count, lockedForSeconds: wait, client: client, firstWrong: first, at: now), now: now)
    }
}

extension PINGuessPolicy {
    /// The wrong PIN of the hour that first tells the owner (one or two are a typo; three are someone guessing).
    public static let notifyAfter = 3
}
