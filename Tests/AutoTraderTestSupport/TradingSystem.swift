import Foundation
import Testing
import GRDB
@testable import AutoTraderCore
#if canImport(Glibc)
import Glibc
#endif

/// The whole trading path for tests, as real processes: `autotrader-sim` (the broker),
/// `autotrader-streamer` (bars into stocks.db) and `autotrader-executor`, on databases in a temporary folder.
final class TradingSystem: @unchecked Sendable {
    let directory = TemporaryDirectory("trading")
    let systemPath: String
    let stocksPath: String
    let system: SystemDatabase
    let sim: SimulatorProcess
    private let lock = NSLock()
    private var processes: [RunningProcess] = []
    private(set) var executor: RunningProcess?
    private(set) var executorLogs: [String] = []

    init(simArguments: [String]) async throws {
        systemPath = directory.file("system_databse/system.db")
        stocksPath = directory.file("database/stocks.db")
        let initRun = try await Executables.run(
            "autotrader", ["init", "--system-db", systemPath, "--stocks-db", stocksPath], directory: directory)
        guard initRun.status == 0 else { throw SimulatorProcessError("autotrader init failed: \(initRun.stderr)") }
        system = try SystemDatabase.open(path: systemPath)
        sim = try await SimulatorProcess(simArguments)
    }

    deinit {
        for process in lock.withLock({ processes }) { process.process.stopInBackground(signal: SIGKILL) }
    }

    var environment: [String: String] { ["AUTOTRADER_SIM_URL": sim.baseURL.absoluteString] }

    func startStreamer(lookbackMinutes: Int = 200) throws {
        let running = try Executables.start(
            "autotrader-streamer",
            ["--system-db", systemPath, "--stocks-db", stocksPath, "--poll-interval", "0.2", "--heartbeat-interval", "1",
             "--lookback-minutes", String(lookbackMinutes)],
            environment: environment, directory: directory)
        lock.withLock { processes.append(running) }
    }

    func startExecutor(_ extra: [String] = []) throws {
        let running = try Executables.start(
            "autotrader-executor",
            ["--system-db", systemPath, "--stocks-db", stocksPath, "--heartbeat-interval", "1", "--not-found-grace", "2"] + extra,
            environment: environment, directory: directory)
        lock.withLock {
            processes.append(running)
            executor = running
        }
    }

    /// SIGKILL: the executor dies at whatever it was doing.
    func killExecutor() async {
        guard let executor else { return }
        executor.process.send(SIGKILL)
        let result = await executor.wait()
        executorLogs.append(result.stderr)
    }

    /// SIGTERM and the exit status.
    func stopExecutor() async -> ProcessResult? {
        guard let executor, executor.process.isRunning else { return nil }
        let result = await executor.terminate()
        executorLogs.append(result.stderr)
        return result
    }

    var executorStderr: String {
        guard let executor else { return "" }
        return (try? String(contentsOfFile: executor.stderrPath, encoding: .utf8)) ?? ""
    }

    /// The simulator's clock, in epoch seconds.
    func simNow() async throws -> Double {
        let object = try await sim.request("GET", "/sim/clock", authorized: false).object()
        return (object["epoch"] as? Double) ?? 0
    }

    func waitForSimTime(_ instant: Timestamp, timeout: TimeInterval) async throws {
        _ = try await sim.waitFor(timeout: timeout) { () async throws -> Bool? in
            try await self.simNow() >= Double(instant.secondsSinceEpoch) ? true : nil
        }
    }

    /// Waits until no order intent is open (every order closed and recorded).
    func waitForNoOpenIntents(timeout: TimeInterval = 90) async throws { // a deadline, not a stopwatch: generous under load
        _ = try await sim.waitFor(timeout: timeout) { () async throws -> Bool? in
            try self.system.openIntents().isEmpty ? true : nil
        }
    }

    /// One fill as the simulator made it.
    struct Fill: Decodable, Hashable {
        let clientOrderID: String
        let symbol: String
        let side: String
        let qty: Int
        let price: Decimal

        enum CodingKeys: String, CodingKey {
            case clientOrderID = "client_order_id", symbol, side, qty, price
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            clientOrderID = try c.decode(String.self, forKey: .clientOrderID)
            symbol = try c.decode(String.self, forKey: .symbol)
            side = try c.decode(String.self, forKey: .side)
            // Alpaca-style: quantities and prices as strings.
            let qtyText = try (try? c.decode(String.self, forKey: .qty)) ?? String(c.decode(Int.self, forKey: .qty))
            let priceText = try (try? c.decode(String.self, forKey: .price)) ?? "\(c.decode(Decimal.self, forKey: .price))"
            guard let qty = Int(qtyText), let price = Decimal(string: priceText) else {
                throw DecodingError.dataCorruptedError(forKey: .qty, in: c, debugDescription: "qty \(qtyText) price \(priceText)")
            }
            self.qty = qty
            self.price = price
        }
    }

    func simFills() async throws -> [Fill] {
        try await sim.request("GET", "/sim/fills", authorized: false).decode([Fill].self)
    }

    /// Compares the simulator's fills with system.db: every fill must be exactly one transaction (same card
    /// by its client order id, side, shares and price) and every transaction a fill. Returns the problems.
    func fillsVersusTransactions() async throws -> (fills: Int, problems: [String]) {
        let fills = try await simFills()
        var problems: [String] = []
        let rows = try await system.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT t.id, t.algorithm_id, t.type, t.shares, t.price, i.client_order_id
                FROM transactions t LEFT JOIN order_intents i ON i.transaction_id = t.id
                """)
        }
        var byOrder: [String: [Row]] = [:]
        for row in rows {
            guard let id = row["client_order_id"] as String? else {
                problems.append("transaction \(row["id"] as Int64) has no order intent")
                continue
            }
            byOrder[id, default: []].append(row)
        }
        var seen: Set<String> = []
        for fill in fills {
            guard seen.insert(fill.clientOrderID).inserted else {
                problems.append("the simulator filled \(fill.clientOrderID) twice")
                continue
            }
            guard let matches = byOrder[fill.clientOrderID], matches.count == 1, let row = matches.first else {
                problems.append("fill \(fill.clientOrderID) (\(fill.side) \(fill.qty) \(fill.symbol) at \(fill.price)) has \(byOrder[fill.clientOrderID]?.count ?? 0) transactions")
                continue
            }
            let card = OrderIntent.cardID(fromClientOrderId: fill.clientOrderID)
            let shares: Int = row["shares"], side: String = row["type"], card2: Int64 = row["algorithm_id"]
            let price = Money.decimal(fromStored: row["price"])
            if shares != fill.qty || side != fill.side || price != fill.price || card != card2 {
                problems.append("fill \(fill.clientOrderID) \(fill.side) \(fill.qty) at \(fill.price) recorded as card \(card2) \(side) \(shares) at \(price)")
            }
        }
        for id in byOrder.keys where !seen.contains(id) {
            problems.append("transaction for \(id) has no simulator fill")
        }
        return (fills.count, problems)
    }
}

extension OrderIntent {
    /// The card id inside `at-<card>-<minute>`.
    static func cardID(fromClientOrderId id: String) -> Int64? {
        let parts = id.split(separator: "-")
        guard parts.count == 3 else { return nil }
        return Int64(parts[1])
    }
}
