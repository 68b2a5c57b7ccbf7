import Foundation
import GRDB

/// Where a queued backtest is: waiting, being run by the executor, finished with a result, or failed with an error.
public enum BacktestJobState: String, Codable, Sendable, CaseIterable {
    case queued
    case running
    case done
    case failed
}

/// A row of `backtests`: one backtest asked for through the api, and what became of it.
public struct BacktestJob: Hashable, Sendable {
    public let id: Int64
    public let ticker: String
    /// An algorithm's name, or `all` for every backtestable algorithm ranked.
    public let algorithm: String
    public let capital: Decimal
    public let sessions: Int
    public let state: BacktestJobState
    /// The JSON `autotrader backtest --json` prints for the same inputs (state done).
    public let result: String?
    public let error: String?
    public let attempts: Int
    public let client: String
    public let createdAt: Timestamp
    public let startedAt: Timestamp?
    public let finishedAt: Timestamp?

    init(row: Row) {
        id = row["id"]
        ticker = row["ticker"]
        algorithm = row["algorithm"]
        capital = Decimal(string: row["capital"] as String, locale: Locale(identifier: "en_US_POSIX")) ?? 0
        sessions = row["sessions"]
        state = BacktestJobState(rawValue: row["state"]) ?? .failed
        result = row["result"]
        error = row["error"]
        attempts = row["attempts"]
        client = row["client"]
        createdAt = row.time("created_at")
        startedAt = row.optionalTime("started_at")
        finishedAt = row.optionalTime("finished_at")
    }
}

/// How big the backtest queue may grow and how long its rows live.
public struct BacktestQueueLimits: Sendable, Hashable {
    /// Queued and running backtests at most, from all clients together.
    public var maxWaiting = 20
    /// Of those, at most this many from one client.
    public var maxWaitingPerClient = 5
    /// An identical request (ticker, algorithm, capital, sessions) made this recently gets the earlier row
    /// unless that one failed.
    public var reuseWithin: Int64 = 600
    /// Rows older than this are deleted.
    public var keepFor: Int64 = 7 * 86_400
    /// Runs a row may start; one interrupted this often (its runner killed each time) fails instead.
    public var maxAttempts = 3

    public init() {}
}

/// The backtest queue is full (all clients together, or this client's share): try again later.
public struct BacktestQueueFull: Error, Equatable, Sendable, CustomStringConvertible {
    public let waiting: Int
    public let limit: Int
    /// True when it is this client's share that is used up.
    public let perClient: Bool

    public var description: String {
        perClient
            ? "you have \(waiting) backtests waiting (at most \(limit)): wait for them to finish"
            : "\(waiting) backtests are waiting (at most \(limit)): try again shortly"
    }
}

// backtests: the queue between the api (which writes requests) and the executor (which runs them).
extension SystemDatabase {
    /// Queues a backtest, or returns an identical recent one that has not failed (`reused` true). Prunes old
    /// rows, and refuses with `BacktestQueueFull` when too many wait; all in one IMMEDIATE transaction.
    public func enqueueBacktest(
        ticker: String, algorithm: String, capital: Decimal, sessions: Int, client: String,
        limits: BacktestQueueLimits = BacktestQueueLimits(), now: Timestamp = .now()
    ) throws -> (job: BacktestJob, reused: Bool) {
        guard Validation.isValidTicker(ticker) else { throw AutoTraderError.invalidTicker(ticker) }
        guard Validation.isValidCapital(capital) else { throw AutoTraderError.invalidCapital(capital.plainString) }
        let capitalText = capital.plainString
        return try pool.writeWithoutTransaction { db in
            var answer: (BacktestJob, Bool)?
            try db.inTransaction(.immediate) {
                try db.execute(
                    sql: "DELETE FROM backtests WHERE created_at < ? AND state IN ('done', 'failed')",
                    arguments: [now.adding(seconds: -limits.keepFor).text])
                if let earlier = try Self.recentBacktest(
                    db, ticker: ticker, algorithm: algorithm, capital: capitalText, sessions: sessions,
                    since: now.adding(seconds: -limits.reuseWithin))
                {
                    answer = (earlier, true)
                    return .commit
                }
                let waiting = try Int.fetchOne(db, sql: "SELECT count(*) FROM backtests WHERE state IN ('queued', 'running')") ?? 0
                guard waiting < limits.maxWaiting else {
                    throw BacktestQueueFull(waiting: waiting, limit: limits.maxWaiting, perClient: false)
                }
                let mine = try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM backtests WHERE state IN ('queued', 'running') AND client = ?", arguments: [client]) ?? 0
                guard mine < limits.maxWaitingPerClient else {
                    throw BacktestQueueFull(waiting: mine, limit: limits.maxWaitingPerClient, perClient: true)
                }
                try db.execute(
                    sql: """
                        INSERT INTO backtests (ticker, algorithm, capital, sessions, state, client, created_at)
                        VALUES (?, ?, ?, ?, 'queued', ?, ?)
                        """,
                    arguments: [ticker, algorithm, capitalText, sessions, client, now.text])
                answer = (try Self.fetchBacktest(db, id: db.lastInsertedRowID)!, false)
                return .commit
            }
            return answer!
        }
    }

    /// The newest identical request made in the last `within` seconds that has not failed, if any.
    public func recentBacktest(
        ticker: String, algorithm: String, capital: Decimal, sessions: Int, within: Int64, now: Timestamp = .now()
    ) throws -> BacktestJob? {
        try pool.read { db in
            try Self.recentBacktest(
                db, ticker: ticker, algorithm: algorithm, capital: capital.plainString, sessions: sessions, since: now.adding(seconds: -within))
        }
    }

    static func recentBacktest(
        _ db: Database, ticker: String, algorithm: String, capital: String, sessions: Int, since: Timestamp
    ) throws -> BacktestJob? {
        try Row.fetchOne(
            db,
            sql: """
                SELECT * FROM backtests
                WHERE ticker = ? AND algorithm = ? AND capital = ? AND sessions = ? AND created_at >= ? AND state <> 'failed'
                ORDER BY id DESC LIMIT 1
                """,
            arguments: [ticker, algorithm, capital, sessions, since.text]
        ).map(BacktestJob.init(row:))
    }

    /// One backtest, nil when there is no such row (never was, or pruned).
    public func backtest(id: Int64) throws -> BacktestJob? {
        try pool.read { db in try Self.fetchBacktest(db, id: id) }
    }

    static func fetchBacktest(_ db: Database, id: Int64) throws -> BacktestJob? {
        try Row.fetchOne(db, sql: "SELECT * FROM backtests WHERE id = ?", arguments: [id]).map(BacktestJob.init(row:))
    }

    /// The oldest queued backtest, now marked running (its attempts counted), or nil when none waits.
    public func claimNextBacktest(now: Timestamp = .now()) throws -> BacktestJob? {
        // Polled every second: an empty queue costs one read, never a write transaction.
        guard try pool.read({ db in try Bool.fetchOne(db, sql: "SELECT 1 FROM backtests WHERE state = 'queued' LIMIT 1") }) == true else {
            return nil
        }
        return try pool.write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM backtests WHERE state = 'queued' ORDER BY id LIMIT 1") else {
                return nil
            }
            try db.execute(
                sql: "UPDATE backtests SET state = 'running', started_at = ?, attempts = attempts + 1 WHERE id = ?",
                arguments: [now.text, id])
            return try Self.fetchBacktest(db, id: id)
        }
    }

    /// Records a running backtest's result (the report's JSON).
    public func finishBacktest(id: Int64, result: String, now: Timestamp = .now()) throws {
        try pool.write { db in
            try db.execute(
                sql: "UPDATE backtests SET state = 'done', result = ?, error = NULL, finished_at = ? WHERE id = ? AND state = 'running'",
                arguments: [result, now.text, id])
        }
    }

    /// Records why a running backtest could not be run.
    public func failBacktest(id: Int64, error: String, now: Timestamp = .now()) throws {
        try pool.write { db in
            try db.execute(
                sql: "UPDATE backtests SET state = 'failed', error = ?, finished_at = ? WHERE id = ? AND state = 'running'",
                arguments: [error, now.text, id])
        }
    }

    /// For the executor as it starts: backtests a previous run was running (it was killed) are queued again,
    /// or failed once they have been started `maxAttempts` times. Returns (requeued, failed).
    @discardableResult
    public func requeueInterruptedBacktests(maxAttempts: Int = BacktestQueueLimits().maxAttempts, now: Timestamp = .now()) throws
        -> (requeued: Int, failed: Int)
    {
        try pool.write { db in
            try db.execute(
                sql: """
                    UPDATE backtests SET state = 'failed', finished_at = ?,
                        error = 'the executor stopped during this backtest ' || attempts || ' times; not tried again'
                    WHERE state = 'running' AND attempts >= ?
                    """,
                arguments: [now.text, maxAttempts])
            let failed = db.changesCount
            try db.execute(sql: "UPDATE backtests SET state = 'queued' WHERE state = 'running'")
            return (db.changesCount, failed)
        }
    }
}
