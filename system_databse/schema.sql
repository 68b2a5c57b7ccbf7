-- Generated from the migrations (schema version 11); a test checks it.
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
CREATE TABLE sqlite_sequence(name,seq);
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
CREATE INDEX transactions_by_algorithm ON transactions (algorithm_id, timestamp, id);
CREATE INDEX algorithm_instances_by_status ON algorithm_instances (status, id);
CREATE INDEX transactions_by_algorithm_and_id ON transactions (algorithm_id, id);
CREATE TABLE service_heartbeats (
    service TEXT PRIMARY KEY,           -- "streamer", "executor", "api"
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,           -- UTC
    last_heartbeat TEXT NOT NULL,       -- UTC, wall clock
    state TEXT NOT NULL,                -- "starting", "running", "degraded", "stopping", "stopped"
    detail TEXT NOT NULL DEFAULT '{}'   -- JSON: what the service wants seen (tickers, newest bar …)
);
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
    closed_at TEXT, limit_price TEXT,                     -- UTC, NULL while open
    UNIQUE (algorithm_id, minute)       -- at most one order per card per minute
);
CREATE INDEX order_intents_open ON order_intents (state) WHERE closed_at IS NULL;
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
CREATE TABLE stop_requests (
    algorithm_id INTEGER PRIMARY KEY REFERENCES algorithm_instances(id),
    requested_at TEXT NOT NULL,         -- UTC
    state TEXT NOT NULL DEFAULT 'pending' CHECK(state IN ('pending', 'done')),
    detail TEXT NOT NULL DEFAULT '',
    done_at TEXT
);
CREATE TABLE pin_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,                   -- UTC
    client TEXT NOT NULL,               -- the address it came from
    outcome TEXT NOT NULL CHECK(outcome IN ('right', 'wrong'))
);
CREATE INDEX pin_attempts_by_time ON pin_attempts (at);
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
CREATE INDEX order_intents_closed_unsent ON order_intents (created_at)
    WHERE state IN ('unsent', 'failed') AND transaction_id IS NULL;
