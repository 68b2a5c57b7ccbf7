import Foundation
import GRDB
import Testing
@testable import AutoTraderCore

/// The `autotrader` executable, run as a user runs it.
@Suite struct CLITests {
    let directory = TemporaryDirectory("cli")
    var paths: [String] { ["--system-db", directory.file("s/system.db"), "--stocks-db", directory.file("d/stocks.db")] }

    @discardableResult
    func cli(_ arguments: [String], input: String? = nil, environment: [String: String] = [:]) async throws -> ProcessResult {
        try await Executables.run("autotrader", arguments, environment: environment, input: input, directory: directory)
    }

    /// The CLI asks the broker before it creates a card: a simulator, and the environment that points at it.
    func broker() async throws -> (sim: SimulatorProcess, environment: [String: String]) {
        let sim = try await SimulatorProcess()
        return (sim, ["AUTOTRADER_SIM_URL": sim.baseURL.absoluteString])
    }

    func initialized() async throws {
        let result = try await cli(["init"] + paths)
        try #require(result.status == 0, "\(result.stderr)")
    }

    @Test func initCreatesBothDatabasesAndASecondRunChangesNothing() async throws {
        let first = try await cli(["init"] + paths)
        #expect(first.status == 0)
        #expect(first.stdout.contains("system.db: created"))
        #expect(first.stdout.contains("stocks.db: created"))
        let (sim, broker) = try await broker()
        defer { _ = sim }
        try await cli(["algorithms", "create", "--ticker", "NVDA", "--type", "sma_crossover", "--capital", "1000"] + paths, environment: broker)
        let system = try SystemDatabase.open(path: directory.file("s/system.db"))
        try system.recordTrade(algorithmId: 1, side: .buy, shares: 2, price: 100, at: .at("2024-06-04T14:30:00Z"))
        let before = try system.pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM transactions") }
        let second = try await cli(["init"] + paths)
        #expect(second.status == 0)
        #expect(second.stdout.contains("system.db: up to date"))
        #expect(second.stdout.contains("(schema version \(SystemSchema.schema.latestVersion))"))
        #expect(try system.pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM transactions") } == before)
        #expect(try system.algorithms().count == 1)
    }

    @Test func createStatusAndStopThroughTheCLI() async throws {
        try await initialized()
        let (sim, broker) = try await broker()
        defer { _ = sim }
        let created = try await cli(["algorithms", "create", "--ticker", "AAPL", "--type", "rsi_bounce", "--capital", "2500.50", "--json"] + paths, environment: broker)
        #expect(created.status == 0, "\(created.stderr)")
        let card = try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as! [String: Any]
        #expect(card["ticker"] as? String == "AAPL")
        #expect((card["initial_capital"] as? NSNumber)?.description == "2500.5")
        #expect((card["display_name"] as? String)?.hasPrefix("AAPL_rsi_bounce_") == true)

        let status = try await cli(["status", "--json"] + paths)
        let cards = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [[String: Any]]
        #expect(cards.count == 1)
        for key in ["current_shares", "trade_count", "current_value", "pnl", "current_price", "last_update"] {
            #expect(cards[0].keys.contains(key))
        }
        let table = try await cli(["status"] + paths)
        #expect(table.stdout.contains("AAPL"))
        #expect(table.stdout.contains("2500.50"))

        let stopped = try await cli(["algorithms", "stop", "1"] + paths)
        #expect(stopped.status == 0)
        let again = try await cli(["algorithms", "stop", "1"] + paths)
        #expect(again.status == 1)
        #expect(again.stderr.contains("algorithm 1 is already stopped"))
        #expect(try await cli(["status", "--json"] + paths).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]")
        let stoppedList = try await cli(["algorithms", "list", "--status", "stopped", "--json"] + paths)
        #expect((try JSONSerialization.jsonObject(with: Data(stoppedList.stdout.utf8)) as! [[String: Any]]).count == 1)
    }

    @Test func badInputGetsAClearMessageANonZeroExitAndChangesNothing() async throws {
        try await initialized()
        let (sim, broker) = try await broker()
        defer { _ = sim }
        for (arguments, message) in [
            (["algorithms", "create", "--ticker", "nv$a", "--type", "sma_crossover", "--capital", "100"], "invalid ticker"),
            (["algorithms", "create", "--ticker", "NVDA", "--type", "get_rich", "--capital", "100"], "unknown algorithm_type"),
            (["algorithms", "create", "--ticker", "ZZZZQ", "--type", "sma_crossover", "--capital", "100"], "doesn't know the ticker ZZZZQ"),
            (["algorithms", "create", "--ticker", "TWTR", "--type", "sma_crossover", "--capital", "100"], "can't be traded"),
            // The simulator's account has 100,000: the CLI can't over-allocate it any more than the dashboard can.
            (["algorithms", "create", "--ticker", "NVDA", "--type", "sma_crossover", "--capital", "100000.01"], "available"),
            (["algorithms", "create", "--ticker", "NVDA", "--type", "sma_crossover", "--capital", "-100"], "capital"),
            (["algorithms", "create", "--ticker", "NVDA", "--type", "sma_crossover", "--capital", "12.345"], "two decimals"),
            (["algorithms", "create", "--ticker", "NVDA", "--type", "sma_crossover", "--capital", "lots"], "capital"),
            (["algorithms", "stop", "42"], "no algorithm with id 42"),
            (["algorithms", "stop", "x"], "x"),
            (["transactions", "42"], "no algorithm with id 42"),
            (["algorithms", "list", "--status", "paused"], "--status"),
        ] {
            let result = try await cli(arguments + paths, environment: broker)
            #expect(result.status != 0, "\(arguments) should fail")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        // No broker to ask: said plainly, and nothing is created.
        let unreachable = try await cli(
            ["algorithms", "create", "--ticker", "NVDA", "--type", "sma_crossover", "--capital", "100"] + paths,
            environment: ["AUTOTRADER_SIM_URL": "http://127.0.0.1:9"])
        #expect(unreachable.status == 1 && unreachable.stderr.contains("could not be asked, so nothing was created"), "\(unreachable.stderr)")
        #expect(try SystemDatabase.open(path: directory.file("s/system.db")).algorithms().isEmpty)
        let missing = try await cli(["status", "--system-db", directory.file("nowhere/system.db"), "--stocks-db", directory.file("d/stocks.db")])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("autotrader init"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("nowhere/system.db")))
    }

    @Test func stoppingACardThatHoldsSharesIsAnExplicitChoice() async throws {
        try await initialized()
        let (sim, broker) = try await broker()
        defer { _ = sim }
        try await cli(["algorithms", "create", "--ticker", "AMD", "--type", "macd_signal", "--capital", "1000"] + paths, environment: broker)
        let system = try SystemDatabase.open(path: directory.file("s/system.db"))
        try system.recordTrade(algorithmId: 1, side: .buy, shares: 3, price: 150, at: .at("2024-06-04T14:30:00Z"))
        let refused = try await cli(["algorithms", "stop", "1"] + paths)
        #expect(refused.status == 1 && refused.stderr.contains("holds 3 shares of AMD"), "\(refused.stderr)")
        #expect(try system.algorithm(id: 1).status == .running)
        let kept = try await cli(["algorithms", "stop", "1", "--keep-shares"] + paths)
        #expect(kept.status == 0 && kept.stdout.contains("still holds 3 shares"))
        #expect(try system.algorithm(id: 1).status == .stopped)
    }

    @Test func transactionsAreListedNewestFirst() async throws {
        try await initialized()
        let (sim, broker) = try await broker()
        defer { _ = sim }
        try await cli(["algorithms", "create", "--ticker", "AMD", "--type", "macd_signal", "--capital", "1000"] + paths, environment: broker)
        let system = try SystemDatabase.open(path: directory.file("s/system.db"))
        try system.recordTrade(algorithmId: 1, side: .buy, shares: 3, price: Decimal(string: "150.25")!, at: .at("2024-06-04T14:30:00Z"))
        try system.recordTrade(algorithmId: 1, side: .sell, shares: 1, price: Decimal(string: "151")!, at: .at("2024-06-04T15:30:00Z"))
        let result = try await cli(["transactions", "1", "--json"] + paths)
        let trades = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [[String: Any]]
        #expect(trades.map { $0["type"] as? String } == ["sell", "buy"])
        #expect(trades.map { $0["timestamp"] as? String } == ["2024-06-04T15:30:00Z", "2024-06-04T14:30:00Z"])
        let table = try await cli(["transactions", "1"] + paths)
        #expect(table.stdout.contains("450.75")) // 3 × 150.25
    }

    @Test func setPINReadsStandardInputAndRefusesBadPINs() async throws {
        try await initialized()
        let system = try SystemDatabase.open(path: directory.file("s/system.db"))
        let good = try await cli(["set-pin"] + paths, input: "731946\n")
        #expect(good.status == 0)
        #expect(try system.pin() == "731946")
        #expect(!good.stdout.contains("731946") && !good.stderr.contains("731946"))
        for weak in ["12ab", "7319", "222222", "345678"] {
            let bad = try await cli(["set-pin"] + paths, input: "\(weak)\n")
            #expect(bad.status != 0)
            #expect(bad.stderr.contains("6 to 12 digits"), "\(bad.stderr)")
        }
        #expect(try system.pin() == "731946")
    }

    @Test func calendarCommands() async throws {
        let sessions = try await cli(["calendar", "sessions", "2025-07-01", "2025-07-08"])
        #expect(sessions.status == 0)
        #expect(sessions.stdout == """
            2025-07-01 2025-07-01T13:30:00Z 2025-07-01T20:00:00Z
            2025-07-02 2025-07-02T13:30:00Z 2025-07-02T20:00:00Z
            2025-07-03 2025-07-03T13:30:00Z 2025-07-03T17:00:00Z
            2025-07-07 2025-07-07T13:30:00Z 2025-07-07T20:00:00Z
            2025-07-08 2025-07-08T13:30:00Z 2025-07-08T20:00:00Z

            """)
        #expect(try await cli(["calendar", "is-open", "2025-01-09T15:00:00Z"]).stdout.hasPrefix("closed"))
        #expect(try await cli(["calendar", "is-open", "2025-01-10T15:00:00Z"]).stdout.hasPrefix("open"))
        let json = try await cli(["calendar", "is-open", "2024-12-24T17:59:00Z", "--json"])
        let answer = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect(answer["open"] as? Bool == true)
        for bad in [["calendar", "is-open", "2025-01-09 15:00"], ["calendar", "is-open", "2040-01-09T15:00:00Z"],
                    ["calendar", "sessions", "2025-07-08", "2025-07-01"], ["calendar", "sessions", "2025-13-01", "2025-07-01"]] {
            let result = try await cli(bad)
            #expect(result.status != 0, "\(bad)")
            #expect(!result.stderr.isEmpty)
        }
    }

    @Test func barsImportIsAllOrNothing() async throws {
        try await initialized()
        let good = directory.file("good.csv"), bad = directory.file("bad.csv")
        try """
            ticker,timestamp,open,high,low,close,volume
            NVDA,2024-06-04T13:30:00Z,10,11,9,10.5,1000
            NVDA,2024-06-04T13:31:00Z,10.5,11,10,10.75,900
            AMD,2024-06-04T13:30:00Z,150,151,149,150.5,300
            """.write(toFile: good, atomically: true, encoding: .utf8)
        try """
            ticker,timestamp,open,high,low,close,volume
            NVDA,2024-06-04T13:32:00Z,10,11,9,10.5,1000
            NVDA,2024-06-04T13:33:00Z,10,11,9,ten,1000
            NVDA,2024-06-04T13:34:00Z,10,11,9,10.5,1000
            NVDA,2024-06-04T03:00:00Z,10,11,9,10.5,1000
            """.write(toFile: bad, atomically: true, encoding: .utf8)
        let imported = try await cli(["bars", "import", good] + paths)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("Imported 3 bar(s) for 2 ticker(s)"))
        let refused = try await cli(["bars", "import", bad] + paths)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("bad.csv:3:"))
        #expect(refused.stderr.contains("bad.csv:5:"))
        #expect(refused.stderr.contains("nothing was imported"))
        let stocks = try StocksDatabase.open(path: directory.file("d/stocks.db"))
        #expect(try stocks.barCount() == 3)
        #expect(try await cli(["bars", "import", directory.file("absent.csv")] + paths).status != 0)
    }

    @Test func pathsComeFromTheEnvironmentWhenNoFlagIsGiven() async throws {
        let environment = ["AUTOTRADER_SYSTEM_DB": directory.file("env/system.db"), "AUTOTRADER_STOCKS_DB": directory.file("env/stocks.db")]
        #expect(try await cli(["init"], environment: environment).status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.file("env/system.db")))
        #expect(FileManager.default.fileExists(atPath: directory.file("env/stocks.db")))
        let home = try await cli(["init"], environment: ["AUTOTRADER_HOME": directory.file("home")])
        #expect(home.status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.file("home/system_databse/system.db")))
        #expect(FileManager.default.fileExists(atPath: directory.file("home/database/stocks.db")))
    }

    @Test func everyCommandHasHelp() async throws {
        for command in [[], ["init"], ["status"], ["algorithms"], ["algorithms", "list"], ["algorithms", "create"],
                        ["algorithms", "stop"], ["transactions"], ["set-pin"], ["calendar"], ["calendar", "is-open"],
                        ["calendar", "sessions"], ["bars"], ["bars", "import"]] {
            let result = try await cli(command + ["--help"])
            #expect(result.status == 0, "\(command) --help")
            #expect(result.stdout.contains("USAGE"), "\(command) --help")
        }
    }
}
