import Foundation
import GRDB
import GRDBSQLite

/// stocks.db: minute bars for the tickers in use, and the NYSE calendar with every market minute.
///
/// Written by the streamer (and `bars import`), read by everyone. The two hot
/// paths — bulk insert and "the last N bars before T" — talk to SQLite's C API
/// through GRDB's cached statements, skipping per-row argument boxing.
public struct StocksDatabase: Sendable {
    /// Only this type's extensions (the files beside it) run SQL on it: everyone else calls named methods.
    let pool: DatabasePool
    /// The pool itself, for benchmarks that measure SQLite (pool checkout, bulk loads, pragmas); nothing else.
    @_spi(Benchmarks) public var benchmarkPool: DatabasePool { pool }
    public let path: String

    public static func open(path: String, create: Bool = false) throws -> StocksDatabase {
        StocksDatabase(pool: try DatabaseFile.open(path: path, schema: StocksSchema.schema, create: create), path: path)
    }

    /// Bounds the writer's page cache for a process that writes a minute's bars at a time for months (the
    /// streamer). The schema's 128 MB suits bulk imports; kept by a long-running writer it fills with every
    /// page ever written, and the process's memory grows with the data (the 30-day soak saw ~0.35 MB a
    /// day). A minute's upserts touch one leaf page per ticker and a few interior ones: 4 MB is plenty.
    public func limitWriterCache(kibibytes: Int = 4096) throws {
        try DatabaseFile.limitWriterCache(pool, kibibytes: kibibytes)
    }

    static let upsertSQL = """
        INSERT INTO minute_bars (ticker, timestamp, open, high, low, close, volume, trade_count, vwap)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (ticker, timestamp) DO UPDATE SET
            open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
            volume = excluded.volume, trade_count = excluded.trade_count, vwap = excluded.vwap
        """

    // MARK: - Writing

    /// Inserts bars in one transaction; a corrected bar (same ticker and minute) replaces the old one.
    /// Every bar is checked first: one unsound bar refuses the whole batch and writes nothing.
    public func insert(_ bars: [MinuteBar]) throws {
        for (index, bar) in bars.enumerated() {
            if let problem = bar.problem {
                throw AutoTraderError.invalidBar("bar \(index + 1) (\(bar.ticker) \(bar.timestamp)): \(problem)")
            }
        }
        guard !bars.isEmpty else { return }
        try pool.write { db in try Self.insertValidated(db, bars) }
    }

    /// Inserts bars already checked, inside the caller's transaction.
    static func insertValidated(_ db: Database, _ bars: [MinuteBar]) throws {
        let statement = try db.cachedStatement(sql: upsertSQL).sqliteStatement
        let connection = db.sqliteConnection
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for bar in bars {
            sqlite3_reset(statement)
            bar.ticker.withCString { _ = sqlite3_bind_text(statement, 1, $0, -1, sqliteTransient) }
            bar.timestamp.withUTF8Text { text in
                text.withMemoryRebound(to: CChar.self) {
                    _ = sqlite3_bind_text(statement, 2, $0.baseAddress, 20, sqliteTransient)
                }
            }
            sqlite3_bind_double(statement, 3, bar.open)
            sqlite3_bind_double(statement, 4, bar.high)
            sqlite3_bind_double(statement, 5, bar.low)
            sqlite3_bind_double(statement, 6, bar.close)
            sqlite3_bind_int64(statement, 7, bar.volume)
            if let tradeCount = bar.tradeCount { sqlite3_bind_int64(statement, 8, tradeCount) } else { sqlite3_bind_null(statement, 8) }
            if let vwap = bar.vwap { sqlite3_bind_double(statement, 9, vwap) } else { sqlite3_bind_null(statement, 9) }
            let code = sqlite3_step(statement)
            guard code == SQLITE_DONE else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)))
            }
        }
    }

    // MARK: - Reading bars

    /// The last `count` bars of a ticker strictly before `before`, oldest first.
    public func bars(ticker: String, before: Timestamp, count: Int) throws -> [MinuteBar] {
        // One SELECT reads one consistent snapshot by itself (SQLite's implicit read transaction
        // lasts for the statement), so the explicit BEGIN/COMMIT of `read` would only add cost:
        // two more SQL statements parsed and run per lookup (about 10–20 µs of a 50–100 µs lookup
        // on the 2-core machine, `autotrader-bench lookup`).
        try pool.unsafeRead { db in
            try Self.bars(db, ticker: ticker, before: before, count: count)
        }
    }

    static func bars(_ db: Database, ticker: String, before: Timestamp, count: Int) throws -> [MinuteBar] {
        let statement = try db.cachedStatement(sql: """
            SELECT timestamp, open, high, low, close, volume, trade_count, vwap FROM minute_bars
            WHERE ticker = ? AND timestamp < ? ORDER BY timestamp DESC LIMIT ?
            """).sqliteStatement
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        ticker.withCString { _ = sqlite3_bind_text(statement, 1, $0, -1, sqliteTransient) }
        before.withUTF8Text { text in
            text.withMemoryRebound(to: CChar.self) {
                _ = sqlite3_bind_text(statement, 2, $0.baseAddress, 20, sqliteTransient)
            }
        }
        sqlite3_bind_int64(statement, 3, Int64(max(0, count)))
        var result: [MinuteBar] = []
        result.reserveCapacity(max(0, count))
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            result.append(MinuteBar(
                ticker: ticker,
                timestamp: columnTimestamp(statement, 0),
                open: sqlite3_column_double(statement, 1),
                high: sqlite3_column_double(statement, 2),
                low: sqlite3_column_double(statement, 3),
                close: sqlite3_column_double(statement, 4),
                volume: sqlite3_column_int64(statement, 5),
                tradeCount: sqlite3_column_type(statement, 6) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, 6),
                vwap: sqlite3_column_type(statement, 7) == SQLITE_NULL ? nil : sqlite3_column_double(statement, 7)))
        }
        result.reverse()
        return result
    }

    /// Bars of a ticker with `from <= timestamp < to`, oldest first.
    public func bars(ticker: String, from: Timestamp, to: Timestamp) throws -> [MinuteBar] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM minute_bars WHERE ticker = ? AND timestamp >= ? AND timestamp < ?
                    ORDER BY timestamp
                    """,
                arguments: [ticker, from.text, to.text]
            ).map(Self.bar(row:))
        }
    }

    /// The newest bar of a ticker, if any.
    public func latestBar(ticker: String) throws -> MinuteBar? {
        try pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM minute_bars WHERE ticker = ? ORDER BY timestamp DESC LIMIT 1", arguments: [ticker]
            ).map(Self.bar(row:))
        }
    }

    /// The latest close of a ticker (as an exact decimal) and its minute.
    public func latestPrice(ticker: String) throws -> LatestPrice? {
        try latestBar(ticker: ticker).map {
            LatestPrice(close: Money.decimal(fromStored: $0.close), timestamp: $0.timestamp)
        }
    }

    public func barCount(ticker: String? = nil) throws -> Int {
        try pool.read { db in
            if let ticker {
                return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM minute_bars WHERE ticker = ?", arguments: [ticker]) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM minute_bars") ?? 0
        }
    }

    // MARK: - Calendar

    /// Whether `instant` falls in a regular-hours session.
    public func isMarketOpen(at instant: Timestamp) throws -> Bool {
        try pool.read { db in
            try checkCovered(db, instant)
            return try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM market_minutes WHERE minute = ?)",
                arguments: [instant.minuteStart.text]) ?? false
        }
    }

    /// The first market minute after `instant`'s minute.
    public func nextMarketMinute(after instant: Timestamp) throws -> Timestamp {
        try neighbouringMarketMinute(of: instant, sql: "SELECT minute FROM market_minutes WHERE minute > ? ORDER BY minute LIMIT 1")
    }

    /// The last market minute before `instant`'s minute.
    public func previousMarketMinute(before instant: Timestamp) throws -> Timestamp {
        try neighbouringMarketMinute(of: instant, sql: "SELECT minute FROM market_minutes WHERE minute < ? ORDER BY minute DESC LIMIT 1")
    }

    /// The market minute `sql` picks relative to `instant`'s minute; an error outside the calendar.
    private func neighbouringMarketMinute(of instant: Timestamp, sql: String) throws -> Timestamp {
        try pool.read { db in
            try checkCovered(db, instant)
            guard let text = try String.fetchOne(db, sql: sql, arguments: [instant.minuteStart.text]), let minute = Timestamp(text)
            else { throw AutoTraderError.outsideCalendar(instant) }
            return minute
        }
    }

    /// The market minutes in `from..<to` for which stocks.db has no bar of `ticker`.
    public func missingMinutes(ticker: String, from: Timestamp, to: Timestamp) throws -> [Timestamp] {
        guard from < to else { throw AutoTraderError.invalidRange(from: from, to: to) }
        return try pool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT minute FROM market_minutes
                    WHERE minute >= ? AND minute < ?
                      AND NOT EXISTS (SELECT 1 FROM minute_bars WHERE ticker = ? AND timestamp = minute)
                    ORDER BY minute
                    """,
                arguments: [from.text, to.text, ticker]
            ).compactMap { Timestamp($0) }
        }
    }

    /// The sessions whose New York date lies in `from...through`.
    public func sessions(from: CivilDate, through: CivilDate) throws -> [MarketSession] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM market_sessions WHERE date >= ? AND date <= ? ORDER BY date",
                arguments: [from.text, through.text]
            ).compactMap { row in
                guard let date = CivilDate(row["date"] as String), let open = Timestamp(row["open_utc"] as String),
                      let close = Timestamp(row["close_utc"] as String) else { return nil }
                return MarketSession(date: date, open: open, close: close)
            }
        }
    }

    public func marketMinuteCount() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM market_minutes") ?? 0 }
    }

    // MARK: -

    /// The calendar's span in stocks.db: an instant outside it has no answer rather than a wrong one.
    private func checkCovered(_ db: Database, _ instant: Timestamp) throws {
        let row = try Row.fetchOne(db, sql: "SELECT MIN(date) AS first, MAX(date) AS last FROM market_sessions")
        guard let first = (row?["first"] as String?).flatMap(CivilDate.init),
              let last = (row?["last"] as String?).flatMap(CivilDate.init),
              instant >= first.utcMidnight, instant < last.adding(days: 2).utcMidnight
        else { throw AutoTraderError.outsideCalendar(instant) }
    }

    static func bar(row: Row) -> MinuteBar {
        MinuteBar(
            ticker: row["ticker"], timestamp: row.time("timestamp"),
            open: row["open"], high: row["high"], low: row["low"], close: row["close"], volume: row["volume"],
            tradeCount: row["trade_count"], vwap: row["vwap"])
    }

    private static func columnTimestamp(_ statement: SQLiteStatement, _ column: Int32) -> Timestamp {
        guard let text = sqlite3_column_text(statement, column) else { return Timestamp(secondsSinceEpoch: 0) }
        let count = Int(sqlite3_column_bytes(statement, column))
        return Timestamp(utf8: UnsafeBufferPointer(start: text, count: count)) ?? Timestamp(secondsSinceEpoch: 0)
    }
}

/// SQLite copies the bound bytes (the buffers handed to it live on the stack).
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

extension StocksDatabase {
    /// For each instant, the close of the ticker's last bar at or before it (nil for a nil instant or no bar).
    public func closes(ticker: String, atOrBefore instants: [Timestamp?]) throws -> [Double?] {
        try pool.read { db in
            let statement = try db.cachedStatement(
                sql: "SELECT close FROM minute_bars WHERE ticker = ? AND timestamp <= ? ORDER BY timestamp DESC LIMIT 1")
            return try instants.map { instant -> Double? in
                guard let instant else { return nil }
                return try Double.fetchOne(statement, arguments: [ticker, instant.text])
            }
        }
    }

    /// Writes bars already checked (`BarIngest`) in one transaction.
    public func insertValidated(_ bars: [MinuteBar]) async throws {
        try await pool.write { db in try Self.insertValidated(db, bars) }
    }

    /// Writes the bars `keep` accepts, deciding inside the write transaction (on SQLite's single writer);
    /// returns how many were written.
    public func insertValidated(_ bars: [MinuteBar], keep: @escaping @Sendable (MinuteBar) -> Bool) async throws -> Int {
        try await pool.write { db in
            let kept = bars.filter(keep)
            try Self.insertValidated(db, kept)
            return kept.count
        }
    }
}

extension StocksDatabase {
    /// The schema version the file is at.
    public func schemaVersion() throws -> Int { try pool.read { try DatabaseFile.userVersion($0) } }

    /// "ok", or what is wrong (a schema the program doesn't expect, an unreadable table).
    public func status() throws -> String {
        try DatabaseFile.status(pool, expected: StocksSchema.schema.latestVersion, table: "market_sessions")
    }
}
