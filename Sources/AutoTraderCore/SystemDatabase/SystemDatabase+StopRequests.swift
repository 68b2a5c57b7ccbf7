import Foundation
import GRDB

// stop_requests: "sell everything, then stop", carried out by the executor.
extension SystemDatabase {
    /// Asks the executor to sell the card's shares at the next market minute and then stop it.
    /// Asking again while a request is pending changes nothing.
    @discardableResult
    public func requestLiquidation(algorithmId: Int64, now: Timestamp = .now()) throws -> StopRequest {
        try pool.write { db in
            let algorithm = try Self.fetchAlgorithm(db, id: algorithmId)
            guard algorithm.status == .running else { throw AutoTraderError.algorithmAlreadyStopped(id: algorithmId) }
            try db.execute(
                sql: """
                    INSERT INTO stop_requests (algorithm_id, requested_at, state) VALUES (?, ?, 'pending')
                    ON CONFLICT(algorithm_id) DO NOTHING
                    """,
                arguments: [algorithmId, now.text])
            return try StopRequest(row: Row.fetchOne(
                db, sql: "SELECT * FROM stop_requests WHERE algorithm_id = ?", arguments: [algorithmId])!)
        }
    }

    /// Withdraws a sell-and-stop that the executor has not finished: the card goes on trading. An order
    /// already sent for it still fills (and is recorded) as any order does.
    public func cancelLiquidation(algorithmId: Int64) throws {
        try pool.write { db in
            _ = try Self.fetchAlgorithm(db, id: algorithmId)
            try db.execute(sql: "DELETE FROM stop_requests WHERE algorithm_id = ? AND state = 'pending'", arguments: [algorithmId])
            guard db.changesCount == 1 else { throw AutoTraderError.noPendingLiquidation(id: algorithmId) }
        }
    }

    /// Pending sell-and-stop requests of running cards.
    public func pendingStopRequests() throws -> [StopRequest] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM stop_requests WHERE state = 'pending' ORDER BY requested_at")
                .map(StopRequest.init(row:))
        }
    }

    static func stoppingAlgorithmIDs(_ db: Database) throws -> Set<Int64> {
        Set(try Int64.fetchAll(db, sql: "SELECT algorithm_id FROM stop_requests WHERE state = 'pending'"))
    }

    /// Stops a card whose liquidation is pending once it holds no shares. Returns whether it stopped.
    public func finishLiquidationIfFlat(algorithmId: Int64, now: Timestamp = .now()) throws -> Bool {
        try pool.write { db in try Self.finishLiquidationIfFlat(db, algorithmId: algorithmId, now: now) }
    }

    static func finishLiquidationIfFlat(_ db: Database, algorithmId: Int64, now: Timestamp) throws -> Bool {
        guard try Bool.fetchOne(
            db, sql: "SELECT 1 FROM stop_requests WHERE algorithm_id = ? AND state = 'pending'", arguments: [algorithmId]) == true
        else { return false }
        let held = try PositionSums.read(db, algorithmId: algorithmId, afterID: 0).shares
        guard held == 0 else { return false }
        try markStopped(db, id: algorithmId, now: now, detail: "sold everything and stopped")
        return true
    }

    /// Stops a running card and closes its pending sell-and-stop (if any) with `detail`.
    static func markStopped(_ db: Database, id: Int64, now: Timestamp, detail: String) throws {
        try db.execute(
            sql: "UPDATE algorithm_instances SET status = 'stopped', stopped_at = ? WHERE id = ? AND status = 'running'",
            arguments: [now.text, id])
        try db.execute(
            sql: "UPDATE stop_requests SET state = 'done', done_at = ?, detail = ? WHERE algorithm_id = ? AND state = 'pending'",
            arguments: [now.text, detail, id])
    }
}
