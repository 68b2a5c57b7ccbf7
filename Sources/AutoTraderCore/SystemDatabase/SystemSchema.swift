import GRDB

/// system.db's migrations, all in one place. The first is the original design's
/// schema, written exactly as users of that design know it (SQLite keeps the
/// statement text, so `.schema` shows it as written). Later steps only add.
public enum SystemSchema {
    public static let defaultPIN = "2020"

    public static let originalTables = """
        CREATE TABLE algorithm_instances (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            display_name TEXT NOT NULL,         -- "NVDA_sma_crossover_20240604_143022"
            algorithm_type TEXT NOT NULL,       -- "sma_crossover" (the algorithm's file name)
            ticker TEXT NOT NULL,               -- "NVDA"
            initial_capital REAL NOT NULL CHECK(initial_capital > 0),
            status TEXT NOT NULL DEFAULT 'running' CHECK(status IN ('running', 'stopped')),
            created_at TEXT NOT NULL,           -- "2024-06-04T14:30:22Z" (UTC)
            stopped_at TEXT                     -- NULL until stopped (UTC)
        );
        CREATE TABLE transactions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            algorithm_id INTEGER NOT NULL,
            type TEXT NOT NULL CHECK(type IN ('buy', 'sell')),
            shares INTEGER NOT NULL CHECK(shares > 0),
            price REAL NOT NULL CHECK(price > 0),
            timestamp TEXT NOT NULL,            -- "2024-06-04T14:30:00Z" (UTC)
            FOREIGN KEY (algorithm_id) REFERENCES algorithm_instances(id)
        );
        CREATE TABLE system_config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """

    public static let migrations: [Migration] = [
        Migration(version: 1, name: "original schema and default PIN") { db in
            try db.execute(sql: originalTables)
            try db.execute(sql: "INSERT INTO system_config (key, value) VALUES ('pin', ?)", arguments: [defaultPIN])
        },
        Migration(version: 2, name: "indexes for cards and status lists") { db in
            // A card sums one algorithm's transactions; without this it scans them all.
            try db.execute(sql: """
                CREATE INDEX transactions_by_algorithm ON transactions (algorithm_id, timestamp, id);
                CREATE INDEX algorithm_instances_by_status ON algorithm_instances (status, id);
                """)
        },
        Migration(version: 3, name: "index for running card sums") { db in
            // A card adds only the rows newer than the last one it counted: a range read by id.
            try db.execute(sql: "CREATE INDEX transactions_by_algorithm_and_id ON transactions (algorithm_id, id)")
        },
        Migration(version: 4, name: "service heartbeats") { db in
            // One row per service, rewritten every few seconds: who runs (pid), since when, and how it is.
            try db.execute(sql: """
                CREATE TABLE service_heartbeats (
                    service TEXT PRIMARY KEY,           -- "streamer", "executor", "api"
                    pid INTEGER NOT NULL,
                    started_at TEXT NOT NULL,           -- UTC
                    last_heartbeat TEXT NOT NULL,       -- UTC, wall clock
                    state TEXT NOT NULL,                -- "starting", "running", "degraded", "stopping", "stopped"
                    detail TEXT NOT NULL DEFAULT '{}'   -- JSON: what the service wants seen (tickers, newest bar …)
                )
                """)
        },
        Migration(version: 5, name: "order intents, decision log, stop requests") { db in
            try db.execute(sql: """
                -- An order is written down here before it is sent, so a crash at any instant can be
                -- reconciled with the broker by client_order_id: never sent twice, never a lost fill.
                CREATE TABLE order_intents (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    algorithm_id INTEGER NOT NULL REFERENCES algorithm_instances(id),
                    minute TEXT NOT NULL,               -- the market minute (UTC) whose bar led to it
                    side TEXT NOT NULL CHECK(side IN ('buy', 'sell')),
                    shares INTEGER NOT NULL CHECK(shares > 0),
                    purpose TEXT NOT NULL DEFAULT 'algorithm' CHECK(purpose IN ('algorithm', 'liquidate')),
                    client_order_id TEXT NOT NULL UNIQUE,
                    state TEXT NOT NULL DEFAULT 'pending'
                        CHECK(state IN ('pending', 'sent', 'filled', 'canceled', 'rejected', 'failed', 'unsent')),
                    broker_order_id TEXT,
                    filled_shares INTEGER NOT NULL DEFAULT 0,
                    fill_price REAL,                    -- average fill price of filled_shares
                    transaction_id INTEGER REFERENCES transactions(id),
                    detail TEXT NOT NULL DEFAULT '',
                    created_at TEXT NOT NULL,           -- UTC
                    sent_at TEXT,                       -- UTC, when the submit was first attempted
                    closed_at TEXT,                     -- UTC, NULL while open
                    UNIQUE (algorithm_id, minute)       -- at most one order per card per minute
                );
                CREATE INDEX order_intents_open ON order_intents (state) WHERE closed_at IS NULL;

                -- Why a card did or did not trade, one row per card and minute it was considered.
                CREATE TABLE decisions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    algorithm_id INTEGER NOT NULL REFERENCES algorithm_instances(id),
                    minute TEXT NOT NULL,               -- UTC
                    decision TEXT NOT NULL CHECK(decision IN ('buy', 'sell', 'hold', 'skip', 'refused', 'error')),
                    shares INTEGER,
                    reason TEXT NOT NULL,
                    outcome TEXT NOT NULL DEFAULT '',
                    created_at TEXT NOT NULL            -- UTC
                );
                CREATE INDEX decisions_by_algorithm ON decisions (algorithm_id, id);

                -- "Sell everything, then stop": written by the api or the CLI, carried out by the
                -- executor at the next market minute (the api never trades).
                CREATE TABLE stop_requests (
                    algorithm_id INTEGER PRIMARY KEY REFERENCES algorithm_instances(id),
                    requested_at TEXT NOT NULL,         -- UTC
                    state TEXT NOT NULL DEFAULT 'pending' CHECK(state IN ('pending', 'done')),
                    detail TEXT NOT NULL DEFAULT '',
                    done_at TEXT
                );
                """)
        },
        Migration(version: 6, name: "PIN attempts") { db in
            try db.execute(sql: """
                -- Every PIN the api checked, right or wrong, from any client: wrong ones are counted
                -- across all clients and restarts (at most a few guesses an hour in total), and the
                -- owner is shown how many there were. Never the PIN itself.
                CREATE TABLE pin_attempts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at TEXT NOT NULL,                   -- UTC
                    client TEXT NOT NULL,               -- the address it came from
                    outcome TEXT NOT NULL CHECK(outcome IN ('right', 'wrong'))
                );
                CREATE INDEX pin_attempts_by_time ON pin_attempts (at);
                """)
        },
        Migration(version: 7, name: "algorithm catalog") { db in
            try db.execute(sql: """
                -- What the executor can run: its compiled Swift algorithms and the scripts in the algorithm
                -- folder, with each one's status. Written by the executor only; the api and the CLI read it.
                CREATE TABLE algorithm_catalog (
                    name TEXT NOT NULL,                 -- the algorithm_type a card names
                    kind TEXT NOT NULL CHECK(kind IN ('swift', 'script')),
                    summary TEXT NOT NULL DEFAULT '',
                    bars_needed INTEGER,
                    status TEXT NOT NULL CHECK(status IN ('ok', 'error')),
                    error TEXT,                         -- why it can't run (status 'error')
                    path TEXT,                          -- the script's file
                    file_hash TEXT,                     -- FNV-1a 64 of the file, hex
                    updated_at TEXT NOT NULL,           -- UTC, when the row last changed
                    PRIMARY KEY (name, kind)
                );
                """)
        },
        Migration(version: 8, name: "buy limits") { db in
            try db.execute(sql: """
                -- A buy goes out as a limit order at the price it was sized at plus the cushion, never
                -- more than the card's cash allows (decimal text): a gap past it leaves the order unfilled
                -- instead of overspending. NULL for market orders (sells; intents written before).
                ALTER TABLE order_intents ADD COLUMN limit_price TEXT;
                """)
        },
        Migration(version: 9, name: "notification outbox") { db in
            try db.execute(sql: """
                -- What the owner's phone is told, written in the same transaction as the fact it reports (a fill,
                -- a refusal, a lockout), so a crash can't lose one; sent later by the api's one sender, oldest first.
                CREATE TABLE notification_outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    event_id TEXT NOT NULL UNIQUE,      -- stable, sent with every attempt: "fill-42", "close-2024-06-04"
                    kind TEXT NOT NULL,                 -- fill, rejected, refused, halted, resumed, pin_lockout, close_summary
                    title TEXT NOT NULL,
                    body TEXT NOT NULL,
                    priority INTEGER NOT NULL DEFAULT 3 CHECK(priority BETWEEN 1 AND 5),
                    tags TEXT NOT NULL DEFAULT '',      -- comma-separated (ntfy's tags)
                    data TEXT NOT NULL DEFAULT '{}',    -- JSON: the event's fields, for webhooks
                    created_at TEXT NOT NULL,           -- UTC
                    state TEXT NOT NULL DEFAULT 'pending' CHECK(state IN ('pending', 'sent', 'failed', 'skipped')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at TEXT NOT NULL,      -- UTC (wall clock)
                    last_error TEXT,
                    sent_at TEXT                        -- UTC
                );
                CREATE INDEX notification_outbox_pending ON notification_outbox (id) WHERE state = 'pending';
                """)
        },
        Migration(version: 10, name: "backtest queue") { db in
            try db.execute(sql: """
                -- Backtests asked for through the api (which never runs algorithm code), run one at a time by
                -- the executor at low priority. A row the executor was running when it died goes back to
                -- queued when it starts again; old rows are pruned.
                CREATE TABLE backtests (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    ticker TEXT NOT NULL,
                    algorithm TEXT NOT NULL,            -- an algorithm's name, or 'all' for the ranking
                    capital TEXT NOT NULL,              -- decimal text, whole cents
                    sessions INTEGER NOT NULL CHECK(sessions BETWEEN 1 AND 260),
                    state TEXT NOT NULL DEFAULT 'queued' CHECK(state IN ('queued', 'running', 'done', 'failed')),
                    result TEXT,                        -- JSON exactly as `autotrader backtest --json` prints it
                    error TEXT,                         -- why it failed
                    attempts INTEGER NOT NULL DEFAULT 0,-- runs started (a row that kills its runner stops being retried)
                    client TEXT NOT NULL,               -- the address that asked
                    created_at TEXT NOT NULL,           -- UTC
                    started_at TEXT,                    -- UTC, the latest run's start
                    finished_at TEXT                    -- UTC
                );
                CREATE INDEX backtests_by_state ON backtests (state, id);
                CREATE INDEX backtests_by_request ON backtests (ticker, algorithm, capital, sessions, id);
                CREATE INDEX backtests_by_client ON backtests (client, created_at);
                """)
        },
        Migration(version: 11, name: "index for intents closed unsent") { db in
            try db.execute(sql: """
                -- Intents closed as never sent stay watched for a session in case their order turns up late
                -- (SystemDatabase.unsentIntents, once a minute): only those rows, by time.
                CREATE INDEX order_intents_closed_unsent ON order_intents (created_at)
                    WHERE state IN ('unsent', 'failed') AND transaction_id IS NULL;
                """)
        },
    ]

    public static let schema = DatabaseSchema(
        name: "system.db", migrations: migrations, synchronous: "FULL", writerCacheKiB: 8192)
}
