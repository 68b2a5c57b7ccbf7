import Foundation
import GRDB

/// Notices new bars in stocks.db quickly and cheaply, on a connection of its own.
///
/// `PRAGMA data_version` changes when another connection commits to the file, so polling it
/// every few milliseconds costs a few microseconds and no disk reads. The latest-bar lookups
/// use the same dedicated connection, avoiding the pool's checkout on the executor's hot path.
public final class BarWatch: @unchecked Sendable {
    private let queue: DatabaseQueue
    private var lastVersion: Int64 = -1

    public init(path: String) throws {
        var configuration = Configuration()
        // Not read-only: a read-only connection can't open a WAL file whose -shm is missing.
        configuration.busyMode = .timeout(5)
        configuration.label = "bar-watch"
        queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Whether stocks.db changed since the last call (true the first time).
    public func changed() throws -> Bool {
        let version = try queue.inDatabase { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
        defer { lastVersion = version }
        return version != lastVersion
    }

    /// The newest bar's minute of each ticker (absent: no bar at all).
    public func latestMinutes(tickers: some Sequence<String>) throws -> [String: Timestamp] {
        try queue.inDatabase { db in
            let statement = try db.cachedStatement(sql: "SELECT MAX(timestamp) FROM minute_bars WHERE ticker = ?")
            var result: [String: Timestamp] = [:]
            for ticker in tickers {
                if let text = try String.fetchOne(statement, arguments: [ticker]), let minute = Timestamp(text) {
                    result[ticker] = minute
                }
            }
            return result
        }
    }

    /// The last `count` bars of a ticker strictly before `before`, oldest first.
    public func bars(ticker: String, before: Timestamp, count: Int) throws -> [MinuteBar] {
        try queue.inDatabase { db in try StocksDatabase.bars(db, ticker: ticker, before: before, count: count) }
    }
}
