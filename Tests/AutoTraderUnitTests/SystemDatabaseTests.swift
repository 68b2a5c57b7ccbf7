import Foundation
import GRDB
import Testing
@testable import AutoTraderCore

@Suite struct SystemDatabaseTests {
    let directory = TemporaryDirectory("systemdb")
    let database: SystemDatabase

    init() throws {
        database = try SystemDatabase.open(path: directory.file("system.db"), create: true)
    }

    /// Everything in the file, to prove a refused request changed nothing.
    func snapshot() throws -> String {
        try database.pool.read { db throws in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM algorithm_instances ORDER BY id")
                + Row.fetchAll(db, sql: "SELECT * FROM transactions ORDER BY id")
                + Row.fetchAll(db, sql: "SELECT * FROM system_config ORDER BY key")
            return rows.map(\.description).joined(separator: "\n")
        }
    }

    @Test func connectionsUseWALFullSyncForeignKeysAndABusyTimeout() throws {
        try database.pool.read { db throws in
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
            #expect(try Int.fetchOne(db, sql: "PRAGMA foreign_keys") == 1)
            #expect(try Int.fetchOne(db, sql: "PRAGMA busy_timeout")! >= 10_000)
        }
        try database.pool.write { db throws in
            #expect(try Int.fetchOne(db, sql: "PRAGMA busy_timeout") == Int(DatabaseFile.busyTimeout * 1000))
            #expect(try Int.fetchOne(db, sql: "PRAGMA foreign_keys") == 1)
            #expect(try Int.fetchOne(db, sql: "PRAGMA synchronous") == 2) // FULL: this file is money
            #expect(try DatabaseFile.userVersion(db) == SystemSchema.schema.latestVersion)
        }
    }

    /// The executor asks once a minute for intents closed unsent; that must not read the whole order history.
    @Test func theLookForLateOrdersUsesItsIndex() throws {
        let plan = try database.pool.read { db throws in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SystemDatabase.unsentIntentsSQL,
                             arguments: [SystemDatabase.notReceivedDetail, "2024-06-04T13:30:00Z"])
                .map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("USING INDEX order_intents_closed_unsent") }, "plan: \(plan)")
        #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "plan: \(plan)")
    }

    @Test func defaultPINIs2020AndChangesAreValidated() throws {
        #expect(try database.pin() == "2020")
        try database.setPIN("48213907")
        #expect(try database.pin() == "48213907")
        let before = try snapshot()
        for bad in ["123", "1234", "12345", "123456789", "1234567890123", "12a4", "", " 123456", "１２３４５６", "12.456", "444444"] {
            #expect(throws: AutoTraderError.invalidPIN) { try database.setPIN(bad) }
        }
        #expect(try snapshot() == before)
    }

    @Test func createNamesTheAlgorithmFromTickerTypeAndUTCTime() throws {
        let algorithm = try database.createAlgorithm(
            ticker: "NVDA", algorithmType: "sma_crossover", initialCapital: Decimal(string: "1000.50")!,
            now: .at("2024-06-04T14:30:22Z"))
        #expect(algorithm.displayName == "NVDA_sma_crossover_20240604_143022")
        #expect(algorithm.status == .running)
        #expect(algorithm.createdAt == .at("2024-06-04T14:30:22Z"))
        #expect(algorithm.stoppedAt == nil)
        #expect(algorithm.initialCapital == Decimal(string: "1000.50")!)
        let stored = try database.pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM algorithm_instances")! }
        #expect(stored["created_at"] as String == "2024-06-04T14:30:22Z")
        #expect(stored["status"] as String == "running")
        #expect(stored["stopped_at"] as String? == nil)
        #expect(try database.algorithm(id: algorithm.id) == algorithm)
        let dotted = try database.createAlgorithm(ticker: "BRK.B", algorithmType: "rsi_bounce", initialCapital: 250)
        #expect(dotted.ticker == "BRK.B")
    }

    @Test func badAlgorithmsAreRefusedAndNothingIsWritten() throws {
        let before = try snapshot()
        for ticker in ["", "nvda", "TOOLONGTICKR", ".AB", "NV DA", "NVDA1", "ÄBC"] {
            #expect(throws: AutoTraderError.invalidTicker(ticker)) {
                try database.createAlgorithm(ticker: ticker, algorithmType: "sma_crossover", initialCapital: 100)
            }
        }
        for capital in ["0", "-5", "10.001", "1000000000000.01"] {
            #expect(throws: AutoTraderError.invalidCapital(Decimal(string: capital)!.plainString)) {
                try database.createAlgorithm(ticker: "NVDA", algorithmType: "sma_crossover", initialCapital: Decimal(string: capital)!)
            }
        }
        for type in ["", "SMA", "sma-crossover", "../etc", "9lives"] {
            #expect(throws: AutoTraderError.invalidAlgorithmType(type)) {
                try database.createAlgorithm(ticker: "NVDA", algorithmType: type, initialCapital: 100)
            }
        }
        #expect(try snapshot() == before)
    }

    @Test func listsAllOrByStatusAndStopIsASoftDelete() throws {
        let first = try database.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 100)
        let second = try database.createAlgorithm(ticker: "MSFT", algorithmType: "macd_signal", initialCapital: 200)
        try database.recordTrade(algorithmId: first.id, side: .buy, shares: 1, price: 10, at: .at("2024-06-04T14:31:00Z"))
        // It holds a share: stopping it must say so (its share would be managed by nothing).
        #expect(throws: AutoTraderError.holdsShares(id: first.id, ticker: "AAPL", shares: 1)) { try database.stopAlgorithm(id: first.id) }
        let stopped = try database.stopAlgorithm(id: first.id, keepingShares: true, now: .at("2024-06-05T15:00:00Z"))
        #expect(stopped.status == .stopped)
        #expect(stopped.stoppedAt == .at("2024-06-05T15:00:00Z"))
        #expect(try database.algorithms().map(\.id) == [first.id, second.id])
        #expect(try database.algorithms(status: .running).map(\.id) == [second.id])
        #expect(try database.algorithms(status: .stopped).map(\.id) == [first.id])
        #expect(try database.trades(algorithmId: first.id).count == 1) // history stays
        let before = try snapshot()
        #expect(throws: AutoTraderError.algorithmAlreadyStopped(id: first.id)) { try database.stopAlgorithm(id: first.id) }
        #expect(throws: AutoTraderError.unknownAlgorithm(id: 999)) { try database.stopAlgorithm(id: 999) }
        #expect(throws: AutoTraderError.unknownAlgorithm(id: 999)) { try database.algorithm(id: 999) }
        #expect(try snapshot() == before)
        #expect(try database.allocatedCapital() == 200)
    }

    @Test func tradesAreListedNewestFirst() throws {
        let algorithm = try database.createAlgorithm(ticker: "AMD", algorithmType: "rsi_bounce", initialCapital: 5000)
        try database.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 10, price: Decimal(string: "101.25")!, at: .at("2024-06-04T14:31:00Z"))
        try database.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 5, price: Decimal(string: "99.10")!, at: .at("2024-06-04T15:02:00Z"))
        try database.recordTrade(algorithmId: algorithm.id, side: .sell, shares: 12, price: Decimal(string: "103.333")!, at: .at("2024-06-05T13:45:00Z"))
        let trades = try database.trades(algorithmId: algorithm.id)
        #expect(trades.map(\.timestamp.text) == ["2024-06-05T13:45:00Z", "2024-06-04T15:02:00Z", "2024-06-04T14:31:00Z"])
        #expect(trades.map(\.side) == [.sell, .buy, .buy])
        #expect(trades.map(\.shares) == [12, 5, 10])
        #expect(trades[0].price == Decimal(string: "103.333")!)
        #expect(try database.trades(algorithmId: algorithm.id, limit: 1).map(\.shares) == [12])
        #expect(throws: AutoTraderError.unknownAlgorithm(id: 77)) { try database.trades(algorithmId: 77) }
    }

    @Test func badTradesAreRefusedAndNothingIsWritten() throws {
        let algorithm = try database.createAlgorithm(ticker: "TSLA", algorithmType: "macd_signal", initialCapital: 1000)
        try database.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 3, price: 100, at: .at("2024-06-04T14:31:00Z"))
        let before = try snapshot()
        let at = Timestamp.at("2024-06-04T14:32:00Z")
        #expect(throws: AutoTraderError.invalidShares(0)) { try database.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 0, price: 1, at: at) }
        #expect(throws: AutoTraderError.invalidShares(-2)) { try database.recordTrade(algorithmId: algorithm.id, side: .sell, shares: -2, price: 1, at: at) }
        #expect(throws: AutoTraderError.invalidPrice("0")) { try database.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 1, price: 0, at: at) }
        #expect(throws: AutoTraderError.invalidPrice("-1.5")) { try database.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 1, price: Decimal(string: "-1.5")!, at: at) }
        #expect(throws: AutoTraderError.unknownAlgorithm(id: 4242)) { try database.recordTrade(algorithmId: 4242, side: .buy, shares: 1, price: 1, at: at) }
        #expect(throws: AutoTraderError.insufficientShares(id: algorithm.id, held: 3, requested: 4)) {
            try database.recordTrade(algorithmId: algorithm.id, side: .sell, shares: 4, price: 100, at: at)
        }
        #expect(try snapshot() == before)
        try database.recordTrade(algorithmId: algorithm.id, side: .sell, shares: 3, price: 100, at: at)
        #expect(try database.position(algorithmId: algorithm.id).shares == 0)
    }

    @Test func aStoppedAlgorithmTakesOnlyFillsOfOrdersSentBeforeItStopped() throws {
        let algorithm = try database.createAlgorithm(ticker: "NFLX", algorithmType: "sma_crossover", initialCapital: 10_000)
        try database.stopAlgorithm(id: algorithm.id, now: .at("2024-06-04T15:00:30Z"))
        let before = try snapshot()
        #expect(throws: AutoTraderError.algorithmStopped(id: algorithm.id)) {
            try database.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 1, price: 600, at: .at("2024-06-04T15:01:00Z"))
        }
        #expect(throws: AutoTraderError.algorithmStopped(id: algorithm.id)) {
            try database.recordTrade(
                algorithmId: algorithm.id, side: .buy, shares: 1, price: 600, at: .at("2024-06-04T15:01:00Z"),
                orderSentAt: .at("2024-06-04T15:00:31Z"))
        }
        #expect(try snapshot() == before)
        // The order went out before the stop and filled after it: the fill is recorded.
        let fill = try database.recordTrade(
            algorithmId: algorithm.id, side: .buy, shares: 2, price: 601, at: .at("2024-06-04T15:01:00Z"),
            orderSentAt: .at("2024-06-04T15:00:00Z"))
        #expect(fill.shares == 2)
        #expect(try database.position(algorithmId: algorithm.id).shares == 2)
    }

    @Test func twoWritersCannotSellTheSameSharesTwice() async throws {
        let algorithm = try database.createAlgorithm(ticker: "IBM", algorithmType: "sma_crossover", initialCapital: 10_000)
        try database.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 10, price: 100, at: .at("2024-06-04T14:31:00Z"))
        let other = try SystemDatabase.open(path: directory.file("system.db"))
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for connection in [database, other, database, other] {
                group.addTask {
                    (try? connection.recordTrade(
                        algorithmId: algorithm.id, side: .sell, shares: 4, price: 101, at: .at("2024-06-04T14:32:00Z"))) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 2)
        #expect(try database.position(algorithmId: algorithm.id).shares == 2)
    }

    @Test func openingWithoutCreateNeedsAnExistingFile() {
        #expect(throws: DatabaseFileError.self) {
            try SystemDatabase.open(path: directory.file("missing/system.db"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("missing/system.db")))
    }

    @Test func aDatabaseFromANewerProgramIsRefused() throws {
        try database.pool.write { db in try db.execute(sql: "PRAGMA user_version = 99") }
        #expect(throws: AutoTraderError.databaseNewerThanProgram(
            path: directory.file("system.db"), version: 99, known: SystemSchema.schema.latestVersion)) {
            try SystemDatabase.open(path: directory.file("system.db"))
        }
    }

    @Test func reopeningChangesNothingAndKeepsEveryRow() throws {
        let algorithm = try database.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 100)
        try database.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 1, price: Decimal(string: "10.01")!, at: .at("2024-06-04T14:31:00Z"))
        try database.setPIN("555123")
        let before = try snapshot()
        let schemaBefore = try database.pool.read { db in try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name") }
        let reopened = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        let schemaAfter = try reopened.pool.read { db in try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name") }
        #expect(try snapshot() == before)
        #expect(schemaAfter == schemaBefore)
        #expect(try reopened.pin() == "555123")
    }
}
