import Foundation
import Logging
import Testing
@testable import AutoTraderCore

/// The real stream client against `autotrader-sim`'s WebSocket, at 60× (a market minute a second).
@Suite struct AlpacaBarStreamTests {
    static let start = ["--start", "2024-06-04T14:00:00Z", "--speed", "60", "--seed", "5"]

    /// Everything a stream emitted, in order.
    actor EventLog {
        var events: [AlpacaBarStream.Event] = []
        var finished = false
        func add(_ event: AlpacaBarStream.Event) { events.append(event) }
        func finish() { finished = true }

        var bars: [AlpacaBarStream.StreamBar] {
            events.flatMap { if case .bars(let bars) = $0 { return bars } else { return [] } }
        }
        var subscriptions: [StreamSubscription] {
            events.compactMap { if case .subscribed(let subscription) = $0 { return subscription } else { return nil } }
        }
        var errors: [StreamError] {
            events.compactMap { if case .streamError(let error) = $0 { return error } else { return nil } }
        }
        var disconnects: [String] {
            events.compactMap { if case .disconnected(let reason) = $0 { return reason } else { return nil } }
        }
        var authentications: Int { events.filter { if case .authenticated = $0 { return true } else { return false } }.count }
    }

    /// A running stream and the log of what it said.
    struct Running {
        let stream: AlpacaBarStream
        let log: EventLog
        let task: Task<Void, Never>
        let reader: Task<Void, Never>

        func stop() async {
            task.cancel()
            await reader.value
        }
    }

    func start(
        _ sim: SimulatorProcess, symbols: Set<String>, secret: String? = nil, backoff: AlpacaBarStream.Backoff = fastBackoff,
        idleTimeout: Duration? = nil
    ) async -> Running {
        let configuration = AlpacaConfiguration.simulator(baseURL: sim.baseURL, keyID: sim.keyID, secretKey: secret ?? sim.secretKey)
        let stream = AlpacaBarStream(configuration: configuration, backoff: backoff, pingInterval: .seconds(2), idleTimeout: idleTimeout)
        await stream.setSymbols(symbols)
        let log = EventLog()
        let reader = Task {
            for await event in stream.events { await log.add(event) }
            await log.finish()
        }
        let task = Task { await stream.run() }
        return Running(stream: stream, log: log, task: task, reader: reader)
    }

    static var fastBackoff: AlpacaBarStream.Backoff {
        var backoff = AlpacaBarStream.Backoff.marketData
        backoff.initial = .milliseconds(50)
        backoff.maximum = .milliseconds(400)
        backoff.connectionLimit = .seconds(1)
        backoff.refused = .seconds(3)
        return backoff
    }

    func groundTruth(_ sim: SimulatorProcess, _ symbols: [String]) async throws -> [String: [AlpacaBar]] {
        try await sim.request("GET", "/sim/bars?symbols=\(symbols.joined(separator: ","))&start=2024-06-04T13:30:00Z")
            .decode(AlpacaMultiBarsPage.self).bars
    }

    @Test func streamsEachMinutesBarsForExactlyTheSubscribedSymbols() async throws {
        let sim = try await SimulatorProcess(Self.start)
        let running = await start(sim, symbols: ["AAPL", "MSFT"])
        _ = try await sim.waitFor {
            let bars = await running.log.bars
            return Set(bars.map(\.symbol)) == ["AAPL", "MSFT"] && bars.count >= 6 ? true : nil
        }
        #expect(await running.log.subscriptions.last?.bars.sorted() == ["AAPL", "MSFT"])
        #expect(await running.log.subscriptions.last?.updatedBars.sorted() == ["AAPL", "MSFT"])
        // Every streamed bar is the feed's bar for that minute.
        let truth = try await groundTruth(sim, ["AAPL", "MSFT"])
        for streamed in await running.log.bars where !streamed.isCorrection {
            #expect(truth[streamed.symbol]?.first { $0.t == streamed.bar.t } == streamed.bar, "\(streamed.symbol) \(streamed.bar.t)")
        }
        // Narrow the subscription: the server confirms, and MSFT stops.
        await running.stream.setSymbols(["AAPL"])
        _ = try await sim.waitFor { await running.log.subscriptions.last?.bars == ["AAPL"] ? true : nil }
        let cutoff = await running.log.events.count
        // Not "a second more": wait until bars of three more minutes have come (MSFT would have had its own in each).
        func laterBars() async -> [AlpacaBarStream.StreamBar] {
            await Array(running.log.events.dropFirst(cutoff + 1)).flatMap { if case .bars(let bars) = $0 { return bars } else { return [] } }
        }
        _ = try await sim.waitFor(timeout: 30) { await Set(laterBars().filter { !$0.isCorrection }.map(\.bar.t)).count >= 3 ? true : nil }
        let later = await laterBars()
        #expect(!later.isEmpty && later.allSatisfy { $0.symbol == "AAPL" }, "\(later.map(\.symbol))")
        await running.stop()
    }

    @Test func reconnectsAndResubscribesAfterEveryDisconnect() async throws {
        let sim = try await SimulatorProcess(Self.start + ["--disconnect-every", "2"])
        let running = await start(sim, symbols: ["NVDA"])
        _ = try await sim.waitFor(timeout: 20) { await running.log.disconnects.count >= 3 ? true : nil }
        // Each new connection authenticated and got the whole subscription back, and bars kept coming.
        _ = try await sim.waitFor { await running.log.authentications >= 4 ? true : nil }
        _ = try await sim.waitFor { await running.log.subscriptions.count >= 4 ? true : nil }
        #expect(await running.log.subscriptions.allSatisfy { $0.bars == ["NVDA"] })
        let lastDisconnect = await running.log.events.lastIndex { if case .disconnected = $0 { return true } else { return false } }!
        _ = try await sim.waitFor {
            await running.log.events.dropFirst(lastDisconnect).contains { if case .bars = $0 { return true } else { return false } } ? true : nil
        }
        let stats: [String: Int] = try await sim.request("GET", "/sim/stats").decode()
        #expect(stats["stream_disconnects_forced", default: 0] >= 3)
        await running.stop()
    }

    @Test func badCredentialsAreNotRetriedInATightLoop() async throws {
        let sim = try await SimulatorProcess(Self.start)
        let started = ContinuousClock.now
        let running = await start(sim, symbols: ["AAPL"], secret: "wrong-secret")
        // Not "count the connections in 2.5 s": wait until it has tried a second time (after the 3 s `fatal` pause
        // here), then bound the attempts by the time that really passed: at most 1 + elapsed / 3.
        _ = try await sim.waitFor(timeout: 30) { await running.log.errors.count >= 2 ? true : nil }
        let stats: [String: Int] = try await sim.request("GET", "/sim/stats").decode()
        let elapsed = ContinuousClock.now - started
        let errors = await running.log.errors
        #expect(errors.first?.code == 402 && errors.allSatisfy { $0.reaction == .stop })
        let allowed = 1 + Int(elapsed.components.seconds / 3)
        #expect(stats["stream_connections", default: 0] <= allowed, "connected \(stats["stream_connections", default: 0]) times in \(elapsed)")
        #expect(await running.log.authentications == 0)
        #expect(await running.log.bars.isEmpty)
        await running.stop()
    }

    @Test func aSecondConnectionIsRefusedWith406AndBacksOffUntilTheFirstCloses() async throws {
        let sim = try await SimulatorProcess(Self.start)
        let first = await start(sim, symbols: ["AAPL"])
        _ = try await sim.waitFor { await first.log.authentications == 1 ? true : nil }
        let started = ContinuousClock.now
        let second = await start(sim, symbols: ["MSFT"])
        let refusal = try await sim.waitFor { await second.log.errors.first }
        #expect(refusal.code == 406 && refusal.reaction == .backOff)
        // Not "at most 3 in 1.5 s": wait for three refusals, then bound them by the time that really passed since
        // the client started: the connection-limit pause is 1 s here, so at most 1 + elapsed / 1 s.
        _ = try await sim.waitFor(timeout: 30) { await second.log.errors.count >= 3 ? true : nil }
        let refusals = await second.log.errors.count, elapsed = ContinuousClock.now - started
        #expect(refusals <= 1 + Int(elapsed.components.seconds), "\(refusals) refusals in \(elapsed): 406 must be retried no faster than the connection-limit pause")
        await first.stop()
        _ = try await sim.waitFor(timeout: 20) { await second.log.authentications >= 1 ? true : nil }
        _ = try await sim.waitFor { await second.log.bars.contains { $0.symbol == "MSFT" } ? true : nil }
        await second.stop()
    }

    @Test func aConnectionThatGoesQuietIsReplaced() async throws {
        // The market is closed on a Saturday, so nothing flows; the caller says data is expected.
        let sim = try await SimulatorProcess(["--start", "2024-06-08T15:00:00Z", "--speed", "1"])
        let running = await start(sim, symbols: ["AAPL"], idleTimeout: .seconds(2))
        let reason = try await sim.waitFor(timeout: 20) { await running.log.disconnects.first }
        #expect(reason.contains("no data"))
        _ = try await sim.waitFor(timeout: 10) { await running.log.authentications >= 2 ? true : nil }
        await running.stop()
    }

    /// `POST /sim/silence`: the open connection stays open but gets nothing more (bars are withheld) while
    /// the market is open; with `idleTimeout` the client replaces it, and the new connection gets bars again.
    @Test func aSilencedConnectionDuringMarketHoursIsReplacedAndBarsFlowAgain() async throws {
        let sim = try await SimulatorProcess(Self.start)
        let running = await start(sim, symbols: ["AAPL"], idleTimeout: .seconds(3))
        _ = try await sim.waitFor { await running.log.bars.count >= 2 ? true : nil }
        let silenced = try await sim.request("POST", "/sim/silence").object()
        #expect(silenced["silenced"] as? Int == 1)
        let barsBefore = await running.log.bars.count
        let reason = try await sim.waitFor(timeout: 20) { await running.log.disconnects.first }
        #expect(reason.contains("no data"))
        // At most a frame already on its way when the silence began.
        #expect(await running.log.bars.count <= barsBefore + 1)
        _ = try await sim.waitFor(timeout: 15) { await running.log.bars.count >= barsBefore + 3 ? true : nil }
        let stats: [String: Int] = try await sim.request("GET", "/sim/stats").decode()
        #expect(stats["stream_connections_silenced"] == 1 && stats["bars_withheld", default: 0] >= 1, "\(stats)")
        #expect(try await sim.request("POST", "/sim/silence?seconds=-1").status == 400)
        await running.stop()
    }

    /// `--record-sends`: every bar frame the client got has a send record (minute, bar count, wall-clock
    /// instant) in `GET /sim/sends`; without the flag the endpoint says how to turn it on.
    @Test func recordSendsLogsWhenEachBarFrameWasSent() async throws {
        let sim = try await SimulatorProcess(Self.start + ["--record-sends"])
        let running = await start(sim, symbols: ["AAPL", "MSFT"])
        _ = try await sim.waitFor { await running.log.bars.count >= 6 ? true : nil }
        let received = Date().timeIntervalSince1970
        struct Send: Decodable { let seq: Int; let connection: Int; let minute: String; let bars: Int; let sent_at: Double }
        let sends: [Send] = try await sim.request("GET", "/sim/sends").decode()
        let minutes = Set(await running.log.bars.map(\.bar.t.text))
        for minute in minutes {
            let send = sends.first { $0.minute == minute }
            #expect(send?.bars == 2, "\(minute): \(String(describing: send))")
            #expect(send.map { $0.sent_at <= received && $0.sent_at > received - 60 } == true)
        }
        #expect(sends.map(\.seq) == Array(1...sends.count))
        let later: [Send] = try await sim.request("GET", "/sim/sends?after=\(sends.count)").decode()
        #expect(later.allSatisfy { $0.seq > sends.count })
        await running.stop()
        let plain = try await SimulatorProcess(Self.start)
        #expect(try await plain.request("GET", "/sim/sends").status == 400)
    }

    @Test func correctedBarsArriveMarkedAndMatchTheFinalFeed() async throws {
        let sim = try await SimulatorProcess(Self.start + ["--updated-bar-rate", "1"])
        let running = await start(sim, symbols: ["AAPL"])
        // The first correction may be for a minute whose original went out before the subscription took
        // effect; take one whose original this client received.
        let (original, correction) = try await sim.waitFor(timeout: 20) { () async -> (AlpacaBarStream.StreamBar, AlpacaBarStream.StreamBar)? in
            let bars = await running.log.bars
            for correction in bars where correction.isCorrection {
                if let original = bars.first(where: { !$0.isCorrection && $0.bar.t == correction.bar.t }) { return (original, correction) }
            }
            return nil
        }
        #expect(original.bar != correction.bar)
        // The feed's final bar for that minute is the correction (waited for with a deadline, not a fixed second).
        try await waitFor("the feed's final bar for \(correction.bar.t) is the correction", timeout: 30) {
            try await groundTruth(sim, ["AAPL"])["AAPL"]?.first { $0.t == correction.bar.t } == correction.bar
        }
        await running.stop()
    }

    @Test(.timeLimit(.minutes(1))) func cancellingTheTaskClosesTheStreamPromptly() async throws {
        let sim = try await SimulatorProcess(Self.start)
        let running = await start(sim, symbols: ["AAPL"])
        _ = try await sim.waitFor { await running.log.authentications == 1 ? true : nil }
        // stop() returns only once the stream task has ended (a hang fails the test's time limit, not a stopwatch).
        await running.stop()
        #expect(await running.log.finished)
        _ = try await sim.waitFor {
            let stats: [String: Int] = try await sim.request("GET", "/sim/stats").decode()
            return stats["stream_connections_open"] == 0 ? true : nil
        }
    }
}
