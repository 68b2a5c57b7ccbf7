import GRDB

/// stocks.db's migrations: minute bars and the NYSE calendar with every market minute.
public enum StocksSchema {
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "minute bars and the market calendar") { db in
            // WITHOUT ROWID clusters each ticker's bars by time, so "the last N bars of
            // TICKER before T" and "the latest price of TICKER" are one index range read.
            try db.execute(sql: """
                CREATE TABLE minute_bars (
                    ticker TEXT NOT NULL,           -- "NVDA"
                    timestamp TEXT NOT NULL,        -- start of the minute, "2024-06-04T14:30:00Z" (UTC)
                    open REAL NOT NULL CHECK(open > 0),
                    high REAL NOT NULL CHECK(high > 0),
                    low REAL NOT NULL CHECK(low > 0),
                    close REAL NOT NULL CHECK(close > 0),
                    volume INTEGER NOT NULL CHECK(volume >= 0),
                    trade_count INTEGER,            -- NULL where the feed gives none
                    vwap REAL,                      -- NULL where the feed gives none
                    PRIMARY KEY (ticker, timestamp)
                ) WITHOUT ROWID;
                CREATE TABLE market_sessions (
                    date TEXT PRIMARY KEY,          -- New York trading day, "2024-06-04"
                    open_utc TEXT NOT NULL,         -- first market minute, "2024-06-04T13:30:00Z"
                    close_utc TEXT NOT NULL         -- end of the last minute (16:00 or 13:00 New York)
                ) WITHOUT ROWID;
                CREATE TABLE market_minutes (
                    minute TEXT PRIMARY KEY         -- every minute start from open (included) to close (excluded)
                ) WITHOUT ROWID;
                """)
            try fillCalendar(db)
        },
    ]

    public static let schema: DatabaseSchema = {
        var schema = DatabaseSchema(name: "stocks.db", migrations: migrations, synchronous: "NORMAL", writerCacheKiB: 131_072)
        // Lookups of recent bars touch a few pages each across a file of hundreds of MB:
        // mapped, they cost no system call. (Address space only; a 64-bit Pi has plenty.)
        schema.mmapBytes = 1 << 31
        return schema
    }()

    /// Writes the sessions from `MarketCalendar` and derives every market minute from them in SQL.
    static func fillCalendar(_ db: Database) throws {
        let calendar = try MarketCalendar()
        let insert = try db.makeStatement(sql: "INSERT INTO market_sessions (date, open_utc, close_utc) VALUES (?, ?, ?)")
        for session in calendar.allSessions() {
            try insert.execute(arguments: [session.date.text, session.open.text, session.close.text])
        }
        try db.execute(sql: """
            INSERT INTO market_minutes (minute)
            WITH RECURSIVE minutes(at, close) AS (
                SELECT CAST(strftime('%s', open_utc) AS INTEGER), CAST(strftime('%s', close_utc) AS INTEGER)
                FROM market_sessions
                UNION ALL
                SELECT at + 60, close FROM minutes WHERE at + 60 < close
            )
            SELECT strftime('%Y-%m-%dT%H:%M:%SZ', at, 'unixepoch') FROM minutes ORDER BY at
            """)
    }
}
