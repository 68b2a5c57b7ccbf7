import ArgumentParser
@_spi(Benchmarks) import AutoTraderCore
import Foundation
import GRDB

extension BenchBarOrder: ExpressibleByArgument {}

/// Bulk insert rate into stocks.db, against the sqlite3 shell putting the same rows into the same table.
struct InsertBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "insert",
        abstract: "Bulk insert rate into stocks.db, compared with the sqlite3 shell importing the same rows.",
        discussion: """
            Generates deterministic bars (real NYSE market minutes, a random walk per ticker, fixed seed) \
            and writes them as CSV. Then times (a) StocksDatabase.insert(_:) putting them, batch by batch, \
            into a fresh stocks.db, and (b) the sqlite3 shell importing the CSV (.import --csv in one \
            transaction) into a fresh database holding the identical minute_bars table, with the same \
            pragmas (WAL, synchronous=NORMAL, the writer's cache_size). Only the insert work is timed: \
            for both it ends with every row checkpointed into the database file (the shell checkpoints \
            when it closes; AutoTrader's figure includes a final wal_checkpoint(TRUNCATE)). \
            Without --order both orders run.
            """)

    @Option(help: "Number of bars.")
    var bars = 5_000_000

    @Option(help: "Number of tickers.")
    var tickers = 100

    @Option(help: "Row order: time (all tickers per minute, like a live stream) or ticker (like a backfill). Default: both.")
    var order: BenchBarOrder?

    @Option(help: "Bars per insert(_:) call (one transaction each).")
    var batchSize = 10_000

    @OptionGroup var scratchOptions: ScratchOptions

    @Option(help: "The sqlite3 shell to compare with.")
    var sqlite3 = "/usr/bin/sqlite3"

    @Flag(help: "Skip the row-by-row comparison of the two databases.")
    var skipCheck = false

    struct Result {
        let order: BenchBarOrder
        let ours: Double
        let shell: Double?
    }

    func run() throws {
        BenchSupport.warnIfDebugBuild()
        guard bars > 0, tickers > 0, batchSize > 0 else { throw BenchFailure("--bars, --tickers and --batch-size must be positive") }
        let orders = order.map { [$0] } ?? BenchBarOrder.allCases
        let shellAvailable = FileManager.default.isExecutableFile(atPath: sqlite3)
        let scratch = try scratchOptions.make(label: "insert")
        defer { scratch.cleanUp() }

        BenchSupport.say("""
            autotrader-bench insert (\(BenchSupport.buildKind) build)
              \(BenchSupport.grouped(bars)) bars, \(tickers) tickers, batches of \(BenchSupport.grouped(batchSize)), \
            orders: \(orders.map(\.rawValue).joined(separator: ", ")), folder \(scratch.directory)
            """)
        if shellAvailable {
            BenchSupport.say("  sqlite3 shell: \(sqlite3) \(Self.shellVersion(sqlite3)); AutoTrader links SQLite \(try Self.linkedSQLiteVersion())")
        } else {
            BenchSupport.say("""
                  !! sqlite3 shell NOT FOUND at \(sqlite3): only AutoTrader's rate is measured, no ratio. \
                Install it with `apt-get install sqlite3` (Debian package sqlite3) or pass --sqlite3 PATH.
                """)
        }

        let clock = ContinuousClock()
        let setupStart = clock.now
        let generator = try BenchBarGenerator(barCount: bars, tickerCount: tickers, calendar: try MarketCalendar())
        BenchSupport.say("  market minutes \(generator.minutes.first!) … \(generator.minutes.last!) (\(BenchSupport.grouped(generator.minutes.count)) per ticker), prepared in \(BenchSupport.format(BenchSupport.seconds(clock.now - setupStart), decimals: 2)) s (not timed)")

        var results: [Result] = []
        for order in orders {
            results.append(try runOrder(order, generator: generator, scratch: scratch, shellAvailable: shellAvailable))
        }

        BenchSupport.say("")
        BenchSupport.say("Summary (\(BenchSupport.grouped(bars)) bars, \(tickers) tickers, batches of \(BenchSupport.grouped(batchSize)), \(BenchSupport.buildKind) build):")
        BenchSupport.say("  order   AutoTrader rows/s   sqlite3 shell rows/s   ratio    target ≥ 80 %")
        for result in results {
            let ours = BenchSupport.grouped(Int(result.ours.rounded()))
            if let shell = result.shell {
                let ratio = result.ours / shell * 100
                BenchSupport.say(
                    "  \(result.order.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0))  "
                        + "\(ours.leftPadded(17))   \(BenchSupport.grouped(Int(shell.rounded())).leftPadded(20))   "
                        + "\((BenchSupport.format(ratio) + " %").leftPadded(7))  \(ratio >= 80 ? "PASS" : "FAIL")")
            } else {
                BenchSupport.say("  \(result.order.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0))  \(ours.leftPadded(17))   (no sqlite3 shell)")
            }
        }
    }

    private func runOrder(
        _ order: BenchBarOrder, generator: BenchBarGenerator, scratch: BenchScratch, shellAvailable: Bool
    ) throws -> Result {
        let clock = ContinuousClock()
        let description = order == .time
            ? "all tickers per minute, like a live stream" : "all minutes of a ticker, then the next, like a backfill"
        BenchSupport.say("")
        BenchSupport.say("== order \(order.rawValue) (\(description)) ==")

        // Untimed preparation: the CSV, the bars in memory, both fresh databases.
        let csvPath = scratch.file("bars-\(order.rawValue).csv")
        var start = clock.now
        let rows = try generator.writeCSV(order: order, to: csvPath)
        let csvSize = (try? FileManager.default.attributesOfItem(atPath: csvPath)[.size] as? Int) ?? 0
        BenchSupport.say("  CSV \(csvPath): \(BenchSupport.grouped(rows)) rows, \(BenchSupport.format(Double(csvSize) / 1e6)) MB, written in \(BenchSupport.format(BenchSupport.seconds(clock.now - start), decimals: 2)) s (not timed)")
        start = clock.now
        let batches = generator.batches(order: order, batchSize: batchSize)
        BenchSupport.say("  \(batches.count) batches of MinuteBar in memory in \(BenchSupport.format(BenchSupport.seconds(clock.now - start), decimals: 2)) s (not timed)")

        let ourPath = scratch.database("stocks-\(order.rawValue)-autotrader.db")
        BenchSupport.removeDatabase(at: ourPath)
        start = clock.now
        let stocks = try StocksDatabase.open(path: ourPath, create: true)
        let (createSQL, cacheSize, journalMode, synchronous) = try stocks.benchmarkPool.writeWithoutTransaction { db in
            (
                try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'minute_bars'") ?? "",
                try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? 0,
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "?",
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
        guard !createSQL.isEmpty else { throw BenchFailure("the fresh stocks.db has no minute_bars table") }
        BenchSupport.say("  fresh stocks.db (schema and calendar) created in \(BenchSupport.format(BenchSupport.seconds(clock.now - start), decimals: 2)) s (not timed); writer: journal_mode=\(journalMode), synchronous=\(synchronous) (1 = NORMAL), cache_size=\(cacheSize)")
        sync()

        // (a) AutoTrader.
        BenchSupport.say("  AutoTrader: StocksDatabase.insert(_:) × \(batches.count) …")
        let ourLoad = BenchSupport.loadAverage()
        let ourCPUStart = BenchSupport.processCPUSeconds()
        start = clock.now
        var inserted = 0
        var nextReport = 1_000_000
        for batch in batches {
            try stocks.insert(batch)
            inserted += batch.count
            if inserted >= nextReport {
                BenchSupport.say("    \(BenchSupport.grouped(inserted)) rows, \(BenchSupport.format(BenchSupport.seconds(clock.now - start), decimals: 1)) s")
                nextReport += 1_000_000
            }
        }
        let insertsDone = clock.now
        try stocks.benchmarkPool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        let ourEnd = clock.now
        let ourCPU = BenchSupport.processCPUSeconds() - ourCPUStart
        let ourSeconds = BenchSupport.seconds(ourEnd - start)
        let ourRate = Double(rows) / ourSeconds
        BenchSupport.say("""
              AutoTrader insert:   \(BenchSupport.grouped(rows)) rows in \(BenchSupport.format(ourSeconds, decimals: 2)) s \
            (insert calls \(BenchSupport.format(BenchSupport.seconds(insertsDone - start), decimals: 2)) s + final checkpoint \
            \(BenchSupport.format(BenchSupport.seconds(ourEnd - insertsDone), decimals: 2)) s) = \(BenchSupport.grouped(Int(ourRate.rounded()))) rows/s
                (CPU time \(BenchSupport.format(ourCPU, decimals: 2)) s; load average at start \(ourLoad))
            """)
        let ourCount = try stocks.barCount()
        guard ourCount == rows else { throw BenchFailure("stocks.db holds \(ourCount) bars, expected \(rows)") }

        // (b) The sqlite3 shell.
        var shellRate: Double?
        if shellAvailable {
            let shellPath = scratch.database("stocks-\(order.rawValue)-sqlite3.db")
            BenchSupport.removeDatabase(at: shellPath)
            try runShell(database: shellPath, script: "PRAGMA journal_mode=WAL;\n\(createSQL);\n")
            let script = """
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=NORMAL;
                PRAGMA cache_size=\(cacheSize);
                BEGIN;
                .import --csv '\(csvPath)' minute_bars
                COMMIT;

                """
            sync()
            BenchSupport.say("  sqlite3 shell: .import --csv in one transaction …")
            let shellLoad = BenchSupport.loadAverage()
            let shellCPUStart = BenchSupport.childrenCPUSeconds()
            start = clock.now
            try runShell(database: shellPath, script: script)
            let shellSeconds = BenchSupport.seconds(clock.now - start)
            let shellCPU = BenchSupport.childrenCPUSeconds() - shellCPUStart
            let rate = Double(rows) / shellSeconds
            shellRate = rate
            BenchSupport.say("    sqlite3 shell import: \(BenchSupport.grouped(rows)) rows in \(BenchSupport.format(shellSeconds, decimals: 2)) s = \(BenchSupport.grouped(Int(rate.rounded()))) rows/s (whole shell run, including its closing checkpoint)")
            BenchSupport.say("      (CPU time \(BenchSupport.format(shellCPU, decimals: 2)) s; load average at start \(shellLoad))")
            let ratio = ourRate / rate * 100
            BenchSupport.say("    ratio AutoTrader / sqlite3 shell (order \(order.rawValue)): \(BenchSupport.format(ratio)) %  → \(ratio >= 80 ? "PASS" : "FAIL") (target ≥ 80 %)")
            BenchSupport.say("      (by CPU time instead of wall time, less sensitive to other programs: \(BenchSupport.format(shellCPU / ourCPU * 100)) %)")

            if !skipCheck {
                start = clock.now
                try compare(ourPath, shellPath, rows: rows)
                BenchSupport.say("    check: both databases hold the same \(BenchSupport.grouped(rows)) rows, column by column (\(BenchSupport.format(BenchSupport.seconds(clock.now - start), decimals: 1)) s)")
            }
            if !scratch.keep { BenchSupport.removeDatabase(at: shellPath) }
        }
        try? stocks.benchmarkPool.close()
        if !scratch.keep {
            BenchSupport.removeDatabase(at: ourPath)
            try? FileManager.default.removeItem(atPath: csvPath)
        }
        return Result(order: order, ours: ourRate, shell: shellRate)
    }

    /// Runs the sqlite3 shell on `database` with `script` on standard input; any error output fails the run.
    private func runShell(database: String, script: String) throws {
        let scriptPath = database + ".sql"
        try Data(script.utf8).write(to: URL(fileURLWithPath: scriptPath))
        defer { try? FileManager.default.removeItem(atPath: scriptPath) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: sqlite3)
        process.arguments = ["-bail", database]
        process.standardInput = FileHandle(forReadingAtPath: scriptPath)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0, errorText.isEmpty else {
            throw BenchFailure("sqlite3 failed (status \(process.terminationStatus)): \(errorText)")
        }
    }

    static func linkedSQLiteVersion() throws -> String {
        try DatabaseQueue().read { db in try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "?" }
    }

    static func shellVersion(_ path: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--version"]
        let output = Pipe()
        process.standardOutput = output
        guard (try? process.run()) != nil else { return "(version unknown)" }
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: " ").first.map(String.init) ?? "(version unknown)"
    }

    /// Walks both tables in key order and compares every column of every row.
    private func compare(_ ours: String, _ theirs: String, rows: Int) throws {
        var configuration = Configuration()
        configuration.readonly = true
        let a = try DatabaseQueue(path: ours, configuration: configuration)
        let b = try DatabaseQueue(path: theirs, configuration: configuration)
        let sql = "SELECT ticker, timestamp, open, high, low, close, volume, trade_count, vwap FROM minute_bars ORDER BY ticker, timestamp"
        try a.read { da in
            try b.read { db in
                let left = try Row.fetchCursor(da, sql: sql)
                let right = try Row.fetchCursor(db, sql: sql)
                var count = 0
                while let l = try left.next() {
                    guard let r = try right.next() else { throw BenchFailure("the shell's table has fewer rows (\(count))") }
                    for index in 0..<9 where l[index] as DatabaseValue != r[index] as DatabaseValue {
                        throw BenchFailure("row \(count + 1) differs: AutoTrader \(l), shell \(r)")
                    }
                    count += 1
                }
                guard try right.next() == nil else { throw BenchFailure("the shell's table has more rows") }
                guard count == rows else { throw BenchFailure("compared \(count) rows, expected \(rows)") }
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
