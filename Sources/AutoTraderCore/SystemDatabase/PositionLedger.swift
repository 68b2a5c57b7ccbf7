import Foundation
import GRDB
import Synchronization

/// The sums of an algorithm's transactions up to some transaction id: mergeable, so
/// a later batch of rows can be added to an earlier total.
struct PositionSums: Sendable, Equatable {
    var tradeCount = 0
    var shares = 0
    var investedMicros: Int64 = 0
    /// The newest trade by (timestamp, id), and its price.
    var lastTradeAt: Timestamp?
    var lastTradeID: Int64 = 0
    var lastTradePrice: Decimal?
    /// The highest transaction id counted.
    var maxID: Int64 = 0

    mutating func add(_ later: PositionSums) {
        tradeCount += later.tradeCount
        shares += later.shares
        investedMicros += later.investedMicros
        maxID = max(maxID, later.maxID)
        if let at = later.lastTradeAt,
           lastTradeAt.map({ ($0, lastTradeID) < (at, later.lastTradeID) }) ?? true {
            lastTradeAt = at
            lastTradeID = later.lastTradeID
            lastTradePrice = later.lastTradePrice
        }
    }

    var position: Position {
        Position(
            tradeCount: tradeCount, shares: shares, invested: Money.decimal(micros: investedMicros),
            lastTradeAt: lastTradeAt, lastTradePrice: lastTradePrice)
    }

    /// The sums of an algorithm's transactions with an id above `afterID`, read in SQL
    /// in integer micro-dollars (exact; SQLite's integer SUM errors out rather than overflow).
    static func read(_ db: Database, algorithmId: Int64, afterID: Int64) throws -> PositionSums {
        let row = try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT COUNT(*) AS trade_count,
                       COALESCE(SUM(CASE type WHEN 'buy' THEN shares ELSE -shares END), 0) AS shares,
                       COALESCE(SUM(CASE type WHEN 'buy' THEN 1 ELSE -1 END * shares
                                    * CAST(ROUND(price * 1000000) AS INTEGER)), 0) AS invested_micros,
                       COALESCE(MAX(id), 0) AS max_id
                FROM transactions WHERE algorithm_id = ? AND id > ?
                """),
            arguments: [algorithmId, afterID])!
        var sums = PositionSums(
            tradeCount: row["trade_count"], shares: row["shares"], investedMicros: row["invested_micros"], maxID: row["max_id"])
        guard sums.tradeCount > 0 else { return sums }
        if let last = try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT id, timestamp, price FROM transactions WHERE algorithm_id = ? AND id > ?
                ORDER BY timestamp DESC, id DESC LIMIT 1
                """),
            arguments: [algorithmId, afterID]) {
            sums.lastTradeID = last["id"]
            sums.lastTradeAt = Timestamp(last["timestamp"] as String)
            sums.lastTradePrice = Money.decimal(fromStored: last["price"])
        }
        return sums
    }
}

/// Each process's running sums of every algorithm's transactions, so a card adds up only
/// the rows committed since it was last shown instead of all of them (10,000 rows take
/// milliseconds to sum on a Pi; the new ones, microseconds).
///
/// Sound because transactions are immutable and SQLite's single writer hands out
/// AUTOINCREMENT ids in commit order: every row a later snapshot sees that an earlier one
/// didn't has a higher id. Only totals read outside a write transaction are kept, so a
/// rolled-back write can never leave a trace. Nothing is stored in the database:
/// "calculate, don't store" still holds. (A replaced system.db file, as after a restore,
/// needs the processes restarted, as any restore does.)
///
/// A mutex rather than an actor: the database API is synchronous, and the critical
/// sections are a dictionary lookup and store.
final class PositionLedger: Sendable {
    private let totals = Mutex<[Int64: PositionSums]>([:])

    func position(_ db: Database, algorithmId: Int64) throws -> Position {
        let base = totals.withLock { $0[algorithmId] } ?? PositionSums()
        var total = base
        total.add(try PositionSums.read(db, algorithmId: algorithmId, afterID: base.maxID))
        // Pool readers are read-only connections; a write connection's view may still be rolled back.
        if db.configuration.readonly, total.maxID > base.maxID {
            totals.withLock { totals in
                if (totals[algorithmId]?.maxID ?? 0) < total.maxID { totals[algorithmId] = total }
            }
        }
        return total.position
    }
}
