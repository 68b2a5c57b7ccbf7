import Foundation
import GRDB

/// system.db: algorithms, their transactions and the PIN — the state that is money.
///
/// Every check-then-write runs inside one IMMEDIATE transaction, so a refused
/// request changes nothing and two processes can't both pass a check that only
/// one of them should (selling the same shares twice, say).
public struct SystemDatabase: Sendable {
    /// Only this type's extensions (the files beside it) run SQL on it: everyone else calls named methods.
    let pool: DatabasePool
    /// The pool itself, for benchmarks that measure SQLite (pool checkout, bulk loads, pragmas); nothing else.
    @_spi(Benchmarks) public var benchmarkPool: DatabasePool { pool }
    public let path: String
    /// Running sums per algorithm (nil: every position is summed from all its rows).
    let ledger: PositionLedger?

    /// Opens (and with `create`, creates) system.db and brings its schema up to date.
    /// - Parameter cachePositions: keep running sums so cards add up only new transactions.
    /// Bounds the writer's page cache for the executor, which writes the decision log every minute for
    /// months (the schema's 8 MB fills slowly with the log's pages as it turns over).
    public func limitWriterCache(kibibytes: Int = 2048) throws {
        try DatabaseFile.limitWriterCache(pool, kibibytes: kibibytes)
    }

    public static func open(path: String, create: Bool = false, cachePositions: Bool = true) throws -> SystemDatabase {
        SystemDatabase(
            pool: try DatabaseFile.open(path: path, schema: SystemSchema.schema, create: create), path: path,
            ledger: cachePositions ? PositionLedger() : nil)
    }

    /// The schema version the file is at.
    public func schemaVersion() throws -> Int { try pool.read { try DatabaseFile.userVersion($0) } }

    /// "ok", or what is wrong (a schema the program doesn't expect, an unreadable table).
    public func status() throws -> String {
        try DatabaseFile.status(pool, expected: SystemSchema.schema.latestVersion, table: "algorithm_instances")
    }

    // MARK: - Algorithms

    /// What every new card must be: a valid ticker, a known-looking algorithm name, a positive capital in cents.
    static func checkNewCard(ticker: String, algorithmType: String, initialCapital: Decimal) throws {
        guard Validation.isValidTicker(ticker) else { throw AutoTraderError.invalidTicker(ticker) }
        guard Validation.isValidAlgorithmType(algorithmType) else {
            throw AutoTraderError.invalidAlgorithmType(algorithmType)
        }
        guard Validation.isValidCapital(initialCapital) else {
            throw AutoTraderError.invalidCapital(initialCapital.plainString)
        }
    }

    /// Creates a running algorithm named `TICKER_algotype_YYYYMMDD_HHMMSS`, without asking about cash: for
    /// tests' fixtures only. People's cards go through `CardCreation` (the broker's ticker and cash rules).
    func createAlgorithm(
        ticker: String, algorithmType: String, initialCapital: Decimal, now: Timestamp = .now()
    ) throws -> AlgorithmInstance {
        try Self.checkNewCard(ticker: ticker, algorithmType: algorithmType, initialCapital: initialCapital)
        let displayName = AlgorithmInstance.displayName(ticker: ticker, algorithmType: algorithmType, createdAt: now)
        return try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO algorithm_instances (display_name, algorithm_type, ticker, initial_capital, status, created_at)
                    VALUES (?, ?, ?, ?, 'running', ?)
                    """,
                arguments: [displayName, algorithmType, ticker, Money.stored(initialCapital), now.text])
            return try Self.fetchAlgorithm(db, id: db.lastInsertedRowID)
        }
    }

    /// Stops a running algorithm for good (soft delete: the row and its history stay).
    @discardableResult
    public func stopAlgorithm(id: Int64, keepingShares: Bool = false, now: Timestamp = .now()) throws -> AlgorithmInstance {
        try pool.write { db in
            let algorithm = try Self.fetchAlgorithm(db, id: id)
            guard algorithm.status == .running else { throw AutoTraderError.algorithmAlreadyStopped(id: id) }
            // A stopped card's shares are managed by nothing: stopping one that holds shares must be asked for.
            let held = try PositionSums.read(db, algorithmId: id, afterID: 0).shares
            guard held == 0 || keepingShares else { throw AutoTraderError.holdsShares(id: id, ticker: algorithm.ticker, shares: held) }
            // A pending "sell, then stop" is overtaken: the user chose to keep the shares.
            try Self.markStopped(db, id: id, now: now, detail: "stopped without selling")
            return try Self.fetchAlgorithm(db, id: id)
        }
    }

    public func algorithm(id: Int64) throws -> AlgorithmInstance {
        try pool.read { db in try Self.fetchAlgorithm(db, id: id) }
    }

    /// All algorithms, or those with one status, oldest first.
    public func algorithms(status: AlgorithmStatus? = nil) throws -> [AlgorithmInstance] {
        try pool.read { db in try Self.fetchAlgorithms(db, status: status) }
    }

    /// Σ initial_capital of running algorithms: the money already promised to cards.
    public func allocatedCapital() throws -> Decimal {
        try pool.read { db in try Self.allocatedCapital(db) }
    }

    static func allocatedCapital(_ db: Database) throws -> Decimal {
        let cents = try Int64.fetchOne(db, sql: """
            SELECT COALESCE(SUM(CAST(ROUND(initial_capital * 100) AS INTEGER)), 0)
            FROM algorithm_instances WHERE status = 'running'
            """) ?? 0
        return Decimal(cents) / 100
    }

    // MARK: - Transactions

    /// Records a buy or a sell.
    ///
    /// A stopped algorithm takes no new trades, except the fill of an order sent
    /// before it stopped (`orderSentAt` ≤ its `stopped_at`): a fill is never lost.
    @discardableResult
    public func recordTrade(
        algorithmId: Int64, side: TradeSide, shares: Int, price: Decimal, at timestamp: Timestamp,
        orderSentAt: Timestamp? = nil
    ) throws -> Trade {
        try pool.write { db in
            try Self.recordTrade(
                db, algorithmId: algorithmId, side: side, shares: shares, price: price, at: timestamp,
                orderSentAt: orderSentAt)
        }
    }

    /// The same, inside a caller's transaction (the executor closes an order intent in the same one).
    public static func recordTrade(
        _ db: Database, algorithmId: Int64, side: TradeSide, shares: Int, price: Decimal, at timestamp: Timestamp,
        orderSentAt: Timestamp? = nil
    ) throws -> Trade {
        guard shares > 0 else { throw AutoTraderError.invalidShares(shares) }
        guard Validation.isValidPrice(price) else { throw AutoTraderError.invalidPrice(price.plainString) }
        let algorithm = try fetchAlgorithm(db, id: algorithmId)
        if algorithm.status == .stopped {
            guard let orderSentAt, let stoppedAt = algorithm.stoppedAt, orderSentAt <= stoppedAt else {
                throw AutoTraderError.algorithmStopped(id: algorithmId)
            }
        }
        if side == .sell {
            let held = try PositionSums.read(db, algorithmId: algorithmId, afterID: 0).shares
            guard held >= shares else {
                throw AutoTraderError.insufficientShares(id: algorithmId, held: held, requested: shares)
            }
        }
        let storedPrice = Money.rounded(price, scale: Money.priceScale)
        try db.execute(
            sql: "INSERT INTO transactions (algorithm_id, type, shares, price, timestamp) VALUES (?, ?, ?, ?, ?)",
            arguments: [algorithmId, side.rawValue, shares, Money.stored(storedPrice), timestamp.text])
        return Trade(
            id: db.lastInsertedRowID, algorithmId: algorithmId, side: side, shares: shares, price: storedPrice,
            timestamp: timestamp)
    }

    /// An algorithm's transactions, newest first.
    /// A transaction as running sums need it: whole micro-dollars and epoch seconds, no Decimal.
    public struct TradeStep: Sendable {
        public let id: Int64
        public let time: Int64
        public let shares: Int64
        public let priceMicros: Int64
        public let isSell: Bool
    }

    /// An algorithm's transactions with an id above `afterID`, by id.
    public func tradeSteps(algorithmId: Int64, afterID: Int64) throws -> [TradeStep] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, type, shares, price, timestamp FROM transactions WHERE algorithm_id = ? AND id > ? ORDER BY id",
                arguments: [algorithmId, afterID]
            ).map { row in
                TradeStep(
                    id: row["id"], time: row.time("timestamp").secondsSinceEpoch, shares: row["shares"],
                    priceMicros: Int64(((row["price"] as Double) * 1_000_000).rounded()), isSell: (row["type"] as String) == "sell")
            }
        }
    }

    public func trades(algorithmId: Int64, limit: Int? = nil) throws -> [Trade] {
        try pool.read { db in
            _ = try Self.fetchAlgorithm(db, id: algorithmId)
            return try Row.fetchAll(
                // Read for every card every minute by the executor: prepared once per connection.
                db.cachedStatement(sql: "SELECT * FROM transactions WHERE algorithm_id = ? ORDER BY timestamp DESC, id DESC LIMIT ?"),
                arguments: [algorithmId, limit ?? -1]
            ).map(Trade.init(row:))
        }
    }

    /// What an algorithm's transactions add up to.
    public func position(algorithmId: Int64) throws -> Position {
        try pool.read { db in
            _ = try Self.fetchAlgorithm(db, id: algorithmId)
            return try position(db, algorithmId: algorithmId)
        }
    }

    func position(_ db: Database, algorithmId: Int64) throws -> Position {
        if let ledger { return try ledger.position(db, algorithmId: algorithmId) }
        return try PositionSums.read(db, algorithmId: algorithmId, afterID: 0).position
    }

    // MARK: -

    static func fetchAlgorithms(_ db: Database, status: AlgorithmStatus?) throws -> [AlgorithmInstance] {
        let rows: [Row]
        if let status {
            rows = try Row.fetchAll(
                db, sql: "SELECT * FROM algorithm_instances WHERE status = ? ORDER BY id", arguments: [status.rawValue])
        } else {
            rows = try Row.fetchAll(db, sql: "SELECT * FROM algorithm_instances ORDER BY id")
        }
        return rows.map(AlgorithmInstance.init(row:))
    }

    static func fetchAlgorithm(_ db: Database, id: Int64) throws -> AlgorithmInstance {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM algorithm_instances WHERE id = ?"), arguments: [id]) else {
            throw AutoTraderError.unknownAlgorithm(id: id)
        }
        return AlgorithmInstance(row: row)
    }
}

/// An algorithm's holdings as its transactions add up: shares and the net money put in.
public struct Position: Hashable, Sendable {
    public let tradeCount: Int
    public let shares: Int
    /// Σ buys × price − Σ sells × price.
    public let invested: Decimal
    public let lastTradeAt: Timestamp?
    public let lastTradePrice: Decimal?

    public static let empty = Position(tradeCount: 0, shares: 0, invested: 0, lastTradeAt: nil, lastTradePrice: nil)

    public init(tradeCount: Int, shares: Int, invested: Decimal, lastTradeAt: Timestamp?, lastTradePrice: Decimal?) {
        self.tradeCount = tradeCount
        self.shares = shares
        self.invested = invested
        self.lastTradeAt = lastTradeAt
        self.lastTradePrice = lastTradePrice
    }
}
