import Foundation
import Logging
import Testing
@testable import AutoTraderCore

/// The real trade-updates client against `autotrader-sim`'s `/stream` (binary frames, JSON inside, as paper sends them).
@Suite struct AlpacaTradeUpdatesStreamTests {
    static let start = ["--start", "2024-06-04T14:00:00Z", "--speed", "60", "--seed", "7"]

    /// Everything a stream emitted, in order.
    actor EventLog {
        var events: [AlpacaTradeUpdatesStream.Event] = []
        func add(_ event: AlpacaTradeUpdatesStream.Event) { events.append(event) }

        var listens: Int { events.filter { if case .listening = $0 { return true } else { return false } }.count }
        var disconnects: [String] {
            events.compactMap { if case .disconnected(let reason) = $0 { return reason } else { return nil } }
        }
        var updates: [AlpacaTradeUpdate] {
            events.compactMap { if case .update(let update) = $0 { return update } else { return nil } }
        }
        var unreadable: Int { events.filter { if case .unreadableFrame = $0 { return true } else { return false } }.count }
    }

    func run(_ sim: SimulatorProcess, secret: String? = nil) -> (log: EventLog, task: Task<Void, Never>) {
        let configuration = AlpacaConfiguration.simulator(baseURL: sim.baseURL, keyID: sim.keyID, secretKey: secret ?? sim.secretKey)
        var backoff = AlpacaTradeUpdatesStream.Backoff.tradeUpdates
        backoff.initial = .milliseconds(50)
        backoff.maximum = .milliseconds(400)
        backoff.refused = .seconds(2)
        let stream = AlpacaTradeUpdatesStream(configuration: configuration, backoff: backoff, pingInterval: .seconds(2))
        let log = EventLog()
        let reader = Task { for await event in stream.events { await log.add(event) } }
        let task = Task {
            await stream.run()
            await reader.value
        }
        return (log, task)
    }

    @Test func ordersEventsArriveDecodedAndTheStreamComesBackAfterADisconnect() async throws {
        let sim = try await SimulatorProcess(Self.start)
        let (log, task) = run(sim)
        defer { task.cancel() }
        _ = try await sim.waitFor(timeout: 30) { await log.listens == 1 ? true : nil }

        let placed = try await sim.request("POST", "/v2/orders", json: [
            "symbol": "AAPL", "qty": "4", "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "tu-1"])
        #expect(placed.status == 200, "\(placed.text)")
        let fill = try await sim.waitFor(timeout: 30) { await log.updates.first { $0.event == "fill" } }
        #expect(fill.order.clientOrderId == "tu-1" && fill.order.status == .filled && fill.order.filledQty == 4)
        #expect(fill.qty == 4 && (fill.price ?? 0) > 0 && fill.order.filledAvgPrice == fill.price && fill.positionQty == 4)
        #expect(await log.updates.map(\.event) == ["new", "fill"])

        // Dropped by the server: reported, then back and listening again on its own.
        let dropped = try await sim.request("POST", "/sim/disconnect-trading").object()
        #expect(dropped["disconnected"] as? Int == 1)
        _ = try await sim.waitFor(timeout: 30) { await log.listens == 2 ? true : nil }
        #expect(await log.disconnects.count == 1)
        let second = try await sim.request("POST", "/v2/orders", json: [
            "symbol": "MSFT", "qty": "2", "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "tu-2"])
        #expect(second.status == 200)
        _ = try await sim.waitFor(timeout: 30) { await log.updates.contains { $0.event == "fill" && $0.order.clientOrderId == "tu-2" } ? true : nil }
        #expect(await log.unreadable == 0)
    }

    @Test func wrongKeysAreRefusedAndRetriedOnlySlowly() async throws {
        let sim = try await SimulatorProcess(Self.start)
        let (log, task) = run(sim, secret: "wrong")
        defer { task.cancel() }
        let reason = try await sim.waitFor(timeout: 30) { await log.disconnects.first }
        #expect(reason.contains("refused") && reason.contains("ALPACA_SECRET"), "\(reason)")
        #expect(!reason.contains("wrong"), "the secret must not appear in the reason")
        #expect(await log.listens == 0)
        // The refused pace is 2 s here: well under a dozen attempts in the time a fast back-off makes many.
        try await Task.sleep(for: .seconds(1)) // the experiment: how many retries one second holds
        #expect(await log.disconnects.count <= 2)
    }
}
