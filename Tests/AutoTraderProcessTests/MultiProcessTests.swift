import Foundation
import GRDB
import Testing
@testable import AutoTraderCore

/// Real OS processes (the `autotrader-bench concurrent-writer` load generator)
/// sharing the same system.db and stocks.db, as the services do.
@Suite(.serialized) struct MultiProcessTests {
    struct Report: Decodable {
        let trades: Int
        let bars: Int
        let reads: Int
        let systemVersion: Int
        let stocksVersion: Int
    }

    /// A start instant a little ahead, so that every process opens the files at the same moment.
    func barrier(after milliseconds: Int64 = 1500) -> String {
        String(Int64(Date().timeIntervalSince1970 * 1000) + milliseconds)
    }

    func decode(_ result: ProcessResult) throws -> Report {
        try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
    }

    @Test func writersInSeveralProcessesLoseNothingAndNeverSeeLockedWhileAnotherReads() async throws {
        let directory = TemporaryDirectory("multiprocess")
        let systemPath = directory.file("system_databse/system.db"), stocksPath = directory.file("database/stocks.db")
        let initRun = try await Executables.run(
            "autotrader", ["init", "--system-db", systemPath, "--stocks-db", stocksPath], directory: directory)
        #expect(initRun.status == 0, "\(initRun.stderr)")
        let system = try SystemDatabase.open(path: systemPath)
        let writers = 4
        let algorithms = try (0..<writers).map {
            try system.createAlgorithm(ticker: "MP\(["A", "B", "C", "D"][$0])", algorithmType: "sma_crossover", initialCapital: 1_000_000)
        }
        let start = barrier()
        var processes = try algorithms.map { algorithm in
            try Executables.start("autotrader-bench", [
                "concurrent-writer", "--system-db", systemPath, "--stocks-db", stocksPath, "--mode", "write",
                "--algorithm-id", String(algorithm.id), "--ticker", algorithm.ticker, "--seconds", "4", "--start-at", start,
            ], directory: directory)
        }
        processes.append(try Executables.start("autotrader-bench", [
            "concurrent-writer", "--system-db", systemPath, "--stocks-db", stocksPath, "--mode", "read",
            "--seconds", "4", "--start-at", start,
        ], directory: directory))
        var results: [ProcessResult] = []
        for process in processes { results.append(await process.wait()) }
        for result in results {
            #expect(result.status == 0, "a process failed: \(result.stderr)")
            #expect(!result.stderr.localizedCaseInsensitiveContains("locked"))
        }
        let reports = try results.map(decode)
        let stocks = try StocksDatabase.open(path: stocksPath)
        for (algorithm, report) in zip(algorithms, reports) {
            // Under load SQLite's busy handler is not fair, so one writer may get few turns; each gets some.
            #expect(report.trades >= 1, "each writer should get work done")
            // Every trade each process was told succeeded is in system.db, and nothing else.
            #expect(try system.position(algorithmId: algorithm.id).tradeCount == report.trades)
            #expect(try stocks.barCount(ticker: algorithm.ticker) == report.bars)
        }
        #expect(reports.prefix(writers).reduce(0) { $0 + $1.trades } > 40, "the writers together should get real work done")
        #expect(reports[writers].reads > 10)
        let integrity = try await system.pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        #expect(integrity == "ok")
    }

    @Test(arguments: 1...3)
    func processesOpeningBrandNewDatabasesAtTheSameInstantAllSucceed(round: Int) async throws {
        let directory = TemporaryDirectory("firstopen")
        let systemPath = directory.file("fresh/system.db"), stocksPath = directory.file("fresh/stocks.db")
        let start = barrier(after: 800)
        let processes = try (0..<6).map { _ in
            try Executables.start("autotrader-bench", [
                "concurrent-writer", "--system-db", systemPath, "--stocks-db", stocksPath, "--seconds", "0", "--start-at", start,
            ], directory: directory)
        }
        var results: [ProcessResult] = []
        for process in processes { results.append(await process.wait()) }
        for result in results {
            #expect(result.status == 0, "round \(round): \(result.stderr)")
        }
        for report in try results.map(decode) {
            #expect(report.systemVersion == SystemSchema.schema.latestVersion)
            #expect(report.stocksVersion == StocksSchema.schema.latestVersion)
        }
        let system = try SystemDatabase.open(path: systemPath)
        try await system.pool.read { db throws in
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
            // Migrated exactly once: one default PIN row, one calendar.
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM system_config") == 1)
        }
        let stocks = try StocksDatabase.open(path: stocksPath)
        let sessions = try MarketCalendar().allSessions()
        #expect(try stocks.marketMinuteCount() == sessions.reduce(0) { $0 + $1.minuteCount })
    }
}
