import Foundation
import GRDB

// decisions: why a card did or did not trade, one row per card and minute.
extension SystemDatabase {
    /// Logs what was decided for a card in a minute; returns the row id so the outcome can follow.
    @discardableResult
    public func logDecision(
        algorithmId: Int64, minute: Timestamp, decision: DecisionRecord.Kind, shares: Int?, reason: String,
        outcome: String = "", now: Timestamp = .now()
    ) throws -> Int64 {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO decisions (algorithm_id, minute, decision, shares, reason, outcome, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [algorithmId, minute.text, decision.rawValue, shares, String(reason.prefix(500)), outcome, now.text])
            let id = db.lastInsertedRowID
            try Self.notifyRefusals(
                db, [DecisionEntry(algorithmId: algorithmId, minute: minute, decision: decision, shares: shares, reason: reason, outcome: outcome)],
                now: now)
            return id
        }
    }

    /// Writes a minute's decisions (holds, skips, refusals) in one transaction: one fsync, not one per card.
    public func logDecisions(_ entries: [DecisionEntry], now: Timestamp = .now()) throws {
        guard !entries.isEmpty else { return }
        try pool.write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO decisions (algorithm_id, minute, decision, shares, reason, outcome, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            for entry in entries {
                try statement.execute(arguments: [
                    entry.algorithmId, entry.minute.text, entry.decision.rawValue, entry.shares,
                    String(entry.reason.prefix(500)), String(entry.outcome.prefix(500)), now.text,
                ])
            }
            try Self.notifyRefusals(db, entries, now: now)
        }
    }

    /// Deletes the decision log's `hold` rows for minutes before `cutoff`, a batch per transaction so the
    /// api and the executor's own writes are never held up for long. Holds are nearly all of the log (one
    /// per card per minute); orders, refusals, skips and errors are kept for good. SQLite reuses the freed
    /// pages, so system.db stops growing with the minutes and grows only with the trading.
    @discardableResult
    public func pruneHoldDecisions(before cutoff: Timestamp, batch: Int = 5_000) throws -> Int {
        var deleted = 0
        while true {
            let count = try pool.write { db in
                try db.execute(
                    sql: """
                        DELETE FROM decisions WHERE id IN (
                            SELECT id FROM decisions WHERE decision = 'hold' AND minute < ? LIMIT ?)
                        """,
                    arguments: [cutoff.text, batch])
                return db.changesCount
            }
            deleted += count
            if count < batch { return deleted }
        }
    }

    /// An algorithm's decisions, newest first.
    public func decisions(algorithmId: Int64, limit: Int? = nil) throws -> [DecisionRecord] {
        try pool.read { db in
            _ = try Self.fetchAlgorithm(db, id: algorithmId)
            return try Row.fetchAll(
                db, sql: "SELECT * FROM decisions WHERE algorithm_id = ? ORDER BY id DESC LIMIT ?",
                arguments: [algorithmId, limit ?? -1]
            ).map(DecisionRecord.init(row:))
        }
    }

    /// The newest minute each algorithm was considered for, so a restart doesn't decide a minute twice.
    public func lastDecidedMinutes() throws -> [Int64: Timestamp] {
        try pool.read { db in
            var result: [Int64: Timestamp] = [:]
            // Intents too: an order's decision row is written with it, but be sure.
            for row in try Row.fetchAll(db, sql: """
                SELECT algorithm_id, MAX(minute) AS minute FROM (
                    SELECT algorithm_id, minute FROM decisions UNION ALL SELECT algorithm_id, minute FROM order_intents
                ) GROUP BY algorithm_id
                """) {
                if let minute = Timestamp(row["minute"] as String) { result[row["algorithm_id"]] = minute }
            }
            return result
        }
    }
}
