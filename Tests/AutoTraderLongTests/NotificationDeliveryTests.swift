import Foundation
import GRDB
import Testing
@testable import AutoTraderCore
#if canImport(Glibc)
import Glibc
#endif

/// Notifications end to end (issue 18.7): the whole system (simulator, streamer, executor with cards trading, api)
/// tells a real HTTP receiver on loopback about every fill, a halt and its end, and the close; the api — the sending
/// process — is SIGKILLed while a message is in flight and started again. Counted by event id: every event arrives,
/// the in-flight one twice (the one case at-least-once can't avoid), every other exactly once.
@Suite(.serialized) struct NotificationDeliveryTests {
    /// Buys one share when it holds none, sells what it holds otherwise: a fill every other minute or so.
    static let flipper = """
        \"\"\"Buys one share, then sells it, then buys again (a test's steady stream of fills).\"\"\"

        class Algorithm:
            def __init__(self, ticker, initial_capital):
                self.ticker = ticker

            def get_data_requirements(self, current_time):
                return {'bars': 1}

            def on_data(self, bars, transaction_history):
                held = sum(t['shares'] if t['type'] == 'buy' else -t['shares'] for t in transaction_history)
                return ('sell', held) if held > 0 else ('buy', 1)
        """

    static let close = Timestamp.at("2024-06-04T20:00:00Z")

    @Test(.timeLimit(.minutes(15))) func everyEventArrivesAcrossASIGKILLOfTheSenderAndOnlyTheInFlightOneTwice() async throws {
        let seed = ProcessInfo.processInfo.environment["AUTOTRADER_TEST_SEED"].flatMap { Int($0) } ?? Int.random(in: 1...1_000_000)
        print("NotificationDeliveryTests seed: \(seed) (AUTOTRADER_TEST_SEED=\(seed) repeats it)")
        let receiver = try await NotificationReceiver()
        // 45 simulated minutes before the close at 20×: a little over two real minutes of trading.
        let trading = try await TradingSystem(simArguments: ["--start", "2024-06-04T19:15:00Z", "--speed", "20", "--seed", "\(seed)"])
        let pin = "73915062"
        try trading.system.setPIN(pin)
        let folder = TemporaryDirectory("algorithms")
        try Self.flipper.write(toFile: folder.file("flipper.py"), atomically: true, encoding: .utf8)
        try trading.startStreamer(lookbackMinutes: 30)
        try trading.startExecutor(["--algorithm-dir", folder.path])
        let tickers = ["AAPL", "MSFT", "NVDA"]
        for ticker in tickers { _ = try trading.system.createAlgorithm(ticker: ticker, algorithmType: "flipper", initialCapital: 10_000) }

        // The api judges "halted" from the bars: it starts once every card's ticker has recent ones, so the start
        // itself raises no alarm.
        let stocks = try StocksDatabase.open(path: trading.stocksPath)
        try await waitFor("bars for every card's ticker", timeout: 120) {
            let now = Timestamp(secondsSinceEpoch: Int64(try await trading.simNow()))
            return try tickers.allSatisfy { ticker in
                try stocks.latestPrice(ticker: ticker).map { now.secondsSinceEpoch - $0.timestamp.secondsSinceEpoch < 150 } ?? false
            }
        }
        func startAPI() async throws -> APIProcess {
            try await APIProcess(
                directory: trading.directory, systemPath: trading.systemPath, stocksPath: trading.stocksPath, sim: trading.sim,
                arguments: ["--notify-watch-interval", "0.5", "--broker-cache", "0.5", "--heartbeat-interval", "1"],
                environment: ["AUTOTRADER_NOTIFY_URL": receiver.url, "AUTOTRADER_NOTIFY_FORMAT": "json"])
        }
        var api = try await startAPI()
        func arrived(_ kind: String) -> [NotificationReceiver.Received] {
            receiver.received.filter { $0.eventID?.hasPrefix(kind + "-") == true }
        }

        // Fills arrive; then the receiver holds the next message unanswered and the api is killed meanwhile.
        try await waitFor("two fills told", timeout: 120) { arrived("fill").count >= 2 }
        receiver.script([.hold])
        try await waitFor("a message held in flight", timeout: 120) { receiver.held == 1 }
        let inFlight = try #require(receiver.received.last?.eventID)
        api.running.process.send(SIGKILL)
        _ = await api.running.wait()
        receiver.release()
        api = try await startAPI()
        try await waitFor("the in-flight message sent again by the new api", timeout: 60) {
            receiver.received.filter { $0.eventID == inFlight }.count >= 2
        }

        // The executor stops during market hours: halted; it comes back: resumed.
        let beforeStop = try await trading.simNow()
        try #require(beforeStop < Double(Self.close.secondsSinceEpoch - 300),
                     "too slow: the simulator is at \(Timestamp(secondsSinceEpoch: Int64(beforeStop))) before the executor could be stopped in market hours")
        _ = await trading.stopExecutor()
        try await waitFor("halted told", timeout: 60) { !arrived("halted").isEmpty }
        try trading.startExecutor(["--algorithm-dir", folder.path])
        try await waitFor("resumed told", timeout: 90) { !arrived("resumed").isEmpty }

        // The close: the day's summary.
        try await waitFor("the close summary told", timeout: 240) { !arrived("close").isEmpty }
        _ = await trading.stopExecutor()
        try await waitFor("the outbox delivered", timeout: 60) { try trading.system.outboxSummary().pending == 0 }
        await api.terminate()

        // Count by event id.
        let outbox = try trading.system.notifications()
        let transactions = try await trading.system.pool.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM transactions ORDER BY id") }
        let outboxIDs = Set(outbox.map(\.notification.eventID))
        #expect(transactions.count >= 3, "the cards traded: \(transactions.count) transactions")
        for id in transactions { #expect(outboxIDs.contains("fill-\(id)"), "transaction \(id) has no message") }
        #expect(outbox.allSatisfy { $0.state == .sent }, "\(outbox.filter { $0.state != .sent }.map { ($0.notification.eventID, $0.state, $0.lastError ?? "") })")
        let alerts = outbox.filter { [.halted, .resumed].contains($0.notification.kind) }.map(\.notification.kind)
        #expect(alerts.count >= 2 && alerts.count % 2 == 0 && zip(alerts, alerts.dropFirst()).allSatisfy { $0 != $1 } && alerts.first == .halted,
                "halted and resumed alternate, in pairs: \(alerts)")
        let halts = outbox.filter { $0.notification.kind == .halted }
        #expect(halts.contains { $0.notification.body.contains("trading service") }, "\(halts.map(\.notification.body))")
        let summaries = outbox.filter { $0.notification.kind == .closeSummary }
        #expect(summaries.map(\.notification.eventID) == ["close-2024-06-04"])
        #expect(tickers.allSatisfy { ticker in summaries.first?.notification.body.contains(ticker) == true })

        var counts: [String: Int] = [:]
        for message in receiver.received { counts[message.eventID ?? "(none)", default: 0] += 1 }
        for id in outboxIDs {
            let expected = id == inFlight ? 2 : 1
            #expect(counts[id] == expected, "\(id) arrived \(counts[id] ?? 0) times, expected \(expected)")
        }
        #expect(Set(counts.keys).subtracting(outboxIDs).isEmpty, "unknown event ids arrived: \(Set(counts.keys).subtracting(outboxIDs))")

        // No PIN and no key in anything sent.
        for message in receiver.received {
            let everything = message.body + message.headers.values.joined(separator: "\n")
            for secret in [pin, SimulatorDefaults.keyID, SimulatorDefaults.secretKey] {
                #expect(!everything.contains(secret), "\(message.eventID ?? "?") carries a secret")
            }
            let object = try JSONSerialization.jsonObject(with: Data(message.body.utf8)) as? [String: Any]
            #expect(object?["event_id"] as? String == message.eventID)
        }
    }
}
