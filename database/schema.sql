-- Generated from the migrations (schema version 1); a test checks it.
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
