import Foundation
import Logging
import NIOCore
import Testing
import WSClient
@testable import AutoTraderCore

/// The simulator's streams as Alpaca's SDKs use them, read with a raw WebSocket client (swift-websocket) and a
/// msgpack decoder of the test's own (nothing shared with the simulator's codec):
/// - the stock stream in msgpack mode (`Content-Type: application/msgpack` on the upgrade) sends binary frames
///   that decode to the same messages as the JSON mode's text frames, `t` as the timestamp extension; daily
///   (`d`) and updated (`u`) bars arrive;
/// - the trading stream (`/stream`) authenticates and listens as Alpaca's docs show and pushes `new`, `fill`
///   and `canceled` events in order, in binary frames, with the fixture's key set.
@Suite struct SimulatorStreamProtocolTests {
    static let fixtures = Repository.root.deletingLastPathComponent().appendingPathComponent("shared/alpaca-fixtures")

    static func seed() -> String {
        let seed = ProcessInfo.processInfo.environment["SIM_STREAM_SEED"] ?? String(UInt32.random(in: 1...999_999))
        print("SimulatorStreamProtocolTests seed \(seed) (SIM_STREAM_SEED=\(seed) repeats it)")
        return seed
    }

    // MARK: - Stock stream: msgpack = JSON

    @Test func msgpackStockStreamCarriesTheSameMessagesAsJSON() async throws {
        let sim = try await SimulatorProcess(["--start", "2024-06-04T13:30:00Z", "--speed", "60", "--seed", Self.seed(),
                                              "--max-connections", "2", "--updated-bar-rate", "0.5"])
        let subscribe: [(String, [String])] = [("bars", ["AAPL", "SPY"]), ("dailyBars", ["AAPL", "SPY"]),
                                               ("updatedBars", ["AAPL", "SPY"])]
        async let json = Self.collectStockMessages(sim: sim, msgpack: false, subscribe: subscribe)
        async let packed = Self.collectStockMessages(sim: sim, msgpack: true, subscribe: subscribe)
        let (jsonMessages, msgpackMessages) = try await (json, packed)

        // Control messages: the same, in the same order.
        #expect(jsonMessages.control == msgpackMessages.control)
        #expect(jsonMessages.control.first == .object(["T": .string("success"), "msg": .string("connected")]))
        #expect(jsonMessages.control.dropFirst().first == .object(["T": .string("success"), "msg": .string("authenticated")]))

        // Data: every message both saw (same type, symbol and time) is equal key by key.
        let common = Set(jsonMessages.data.keys).intersection(msgpackMessages.data.keys)
        for type in ["b", "d", "u"] {
            #expect(common.contains { $0.hasPrefix(type + "|") }, "no \(type) message seen by both connections")
        }
        for key in common.sorted() {
            #expect(jsonMessages.data[key] == msgpackMessages.data[key], "\(key): JSON \(jsonMessages.data[key]!) vs msgpack \(msgpackMessages.data[key]!)")
        }
        // Daily bars are stamped at New York midnight (04:00Z in June), as the fixtures show, and carry a bar's keys.
        let midnight = "\(Double(Timestamp("2024-06-04T04:00:00Z")!.secondsSinceEpoch))"
        for key in common where key.hasPrefix("d|") {
            #expect(key.split(separator: "|")[2] == midnight, "\(key)")
            #expect(Set(jsonMessages.data[key]?.object?.keys.map { $0 } ?? []) == ["T", "S", "o", "h", "l", "c", "v", "t", "n", "vw"])
        }
    }

    struct StockMessages {
        var control: [WireJSON] = []
        /// "T|S|t(epoch seconds)" → the message with `t` as epoch seconds.
        var data: [String: WireJSON] = [:]
    }

    /// Connects (JSON or msgpack), authenticates, subscribes, and reads until it has seen at least three
    /// minutes of `b` and `d` and one `u`. Checks each frame's kind (text for JSON, binary for msgpack) and, in
    /// msgpack, that every `t` is a timestamp extension.
    static func collectStockMessages(sim: SimulatorProcess, msgpack: Bool, subscribe: [(String, [String])]) async throws -> StockMessages {
        let box = ResultBox<StockMessages>()
        try await RawSocket.session(sim.streamURL(), msgpack: msgpack, timeout: 60) { socket in
            var collected = StockMessages()
            func read() async throws -> [TestMsgPack] {
                let frame = try await socket.next()
                #expect(frame.binary == msgpack, "a \(frame.binary ? "binary" : "text") frame in \(msgpack ? "msgpack" : "JSON") mode")
                let value = msgpack ? try TestMsgPack.decode(frame.bytes) : try TestMsgPack.fromJSON(frame.bytes)
                guard case .array(let messages) = value else { throw SimulatorProcessError("a frame that is no array: \(value)") }
                return messages
            }
            func control(_ messages: [TestMsgPack]) { collected.control += messages.map { $0.wireJSON(timestampsAsSeconds: true) } }
            control(try await read()) // connected
            let auth = TestMsgPack.map([(.string("action"), .string("auth")), (.string("key"), .string(sim.keyID)),
                                        (.string("secret"), .string(sim.secretKey))])
            try await socket.send(auth, msgpack: msgpack)
            control(try await read()) // authenticated
            let request = TestMsgPack.map([(.string("action"), .string("subscribe"))]
                + subscribe.map { (.string($0.0), .array($0.1.map(TestMsgPack.string))) })
            try await socket.send(request, msgpack: msgpack)
            var minutes: [String: Set<String>] = ["b": [], "d": []]
            var corrections = 0
            let deadline = ContinuousClock.now + .seconds(45)
            while minutes["b"]!.count < 3 || minutes["d"]!.count < 3 || corrections < 1 {
                guard ContinuousClock.now < deadline else {
                    throw SimulatorProcessError("within 45 s: \(minutes["b"]!.count) bar minutes, \(minutes["d"]!.count) daily updates, \(corrections) corrections")
                }
                for message in try await read() {
                    guard let type = message["T"]?.stringValue else { continue }
                    guard ["b", "d", "u"].contains(type) else { control([message]); continue }
                    if msgpack {
                        guard case .timestamp = message["t"] else {
                            Issue.record("msgpack \(type) message whose t is not a timestamp extension: \(message)")
                            continue
                        }
                    }
                    let json = message.wireJSON(timestampsAsSeconds: true)
                    guard case .number(let t)? = json["t"], let symbol = json["S"]?.string else {
                        Issue.record("a \(type) message without S or t: \(json)")
                        continue
                    }
                    if type == "u" { corrections += 1 }
                    // A daily bar is resent every minute with the same t: its trade count keeps the updates apart.
                    let key = type == "d" ? "d|\(symbol)|\(t)|\(json["n"]?.number ?? 0)" : "\(type)|\(symbol)|\(t)"
                    if type != "u" { minutes[type]!.insert(type == "d" ? key : "\(t)") }
                    collected.data[key] = json
                }
            }
            box.set(collected)
        }
        return try #require(box.value)
    }

    // MARK: - Trade updates

    @Test func tradeUpdatesStreamAuthenticatesListensAndReportsOrderEvents() async throws {
        let fixture = try? WireJSON.parse(Data(contentsOf: Self.fixtures.appendingPathComponent("stream_trade_updates_fill.json")))
        let sim = try await SimulatorProcess(["--start", "2024-06-04T13:30:00Z", "--speed", "60", "--seed", Self.seed()])
        let url = URL(string: "ws://\(sim.host):\(sim.port)/stream")!
        let events = ResultBox<([WireJSON], [WireJSON])>()

        try await RawSocket.session(url, msgpack: false, timeout: 150) { socket in
            let session = try? WireJSON.parse(Data(contentsOf: Self.fixtures.appendingPathComponent("stream_trade_updates_session.json")))
            @Sendable func read() async throws -> WireJSON {
                let frame = try await socket.next()
                #expect(frame.binary, "the trading stream sends binary frames (JSON inside)")
                return try WireJSON.parse(Data(frame.bytes))
            }
            // Listen before authenticating: refused, as the docs show.
            try await socket.send(.map([(.string("action"), .string("listen")),
                                        (.string("data"), .map([(.string("streams"), .array([.string("trade_updates")]))]))]), msgpack: false)
            let refused = try await read()
            #expect(refused == .object(["stream": .string("authorization"),
                                        "data": .object(["status": .string("unauthorized"), "action": .string("listen")])]))
            if let session { #expect(refused == session.array?[5]) }
            // A wrong secret, then the right one.
            func authenticate(_ secret: String) -> TestMsgPack {
                .map([(.string("action"), .string("authenticate")),
                      (.string("data"), .map([(.string("key_id"), .string(sim.keyID)), (.string("secret_key"), .string(secret))]))])
            }
            try await socket.send(authenticate("wrong"), msgpack: false)
            let unauthorized = try await read()
            #expect(unauthorized.object?["data"]?.object?["status"]?.string == "unauthorized")
            if let session { #expect(unauthorized == session.array?[4]) }
            try await socket.send(authenticate(sim.secretKey), msgpack: false)
            let authorized = try await read()
            #expect(authorized.object?["data"]?.object?["status"]?.string == "authorized")
            if let session { #expect(authorized == session.array?[3]) }
            try await socket.send(.map([(.string("action"), .string("listen")),
                                        (.string("data"), .map([(.string("streams"), .array([.string("trade_updates")]))]))]), msgpack: false)
            let listening = try await read()
            #expect(listening == .object(["stream": .string("listening"), "data": .object(["streams": .array([.string("trade_updates")])])]))

            // A second listener in msgpack mode, authenticated with the market-data form of auth.
            try await RawSocket.session(url, msgpack: true, timeout: 120) { packed in
                func readPacked() async throws -> TestMsgPack {
                    let frame = try await packed.next()
                    #expect(frame.binary)
                    return try TestMsgPack.decode(frame.bytes)
                }
                try await packed.send(.map([(.string("action"), .string("auth")), (.string("key"), .string(sim.keyID)),
                                            (.string("secret"), .string(sim.secretKey))]), msgpack: true)
                #expect(try await readPacked().wireJSON(timestampsAsSeconds: false).object?["data"]?.object?["status"]?.string == "authorized")
                try await packed.send(.map([(.string("action"), .string("listen")),
                                            (.string("data"), .map([(.string("streams"), .array([.string("trade_updates")]))]))]), msgpack: true)
                #expect(try await readPacked().wireJSON(timestampsAsSeconds: false).object?["stream"]?.string == "listening")

                var seen: [WireJSON] = []
                func expectEvent(_ event: String, order id: String) async throws -> WireJSON {
                    let deadline = ContinuousClock.now + .seconds(60)
                    while ContinuousClock.now < deadline {
                        let message = try await read()
                        guard message.object?["stream"]?.string == "trade_updates", let data = message.object?["data"] else { continue }
                        seen.append(data)
                        if data.object?["order"]?.object?["id"]?.string == id, data.object?["event"]?.string == event { return data }
                    }
                    throw SimulatorProcessError("no \(event) event for order \(id) within 60 s (saw \(seen))")
                }

                // A market order: new, then fill.
                let market = try await sim.request("POST", "/v2/orders", json: [
                    "symbol": "AAPL", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day",
                    "client_order_id": "stream-market-1"])
                #expect(market.status == 200, "\(market.text)")
                let marketID = try market.object()["id"] as? String ?? ""
                _ = try await expectEvent("new", order: marketID)
                _ = try await expectEvent("fill", order: marketID)
                // A limit order far below the market, canceled once it is new.
                let limit = try await sim.request("POST", "/v2/orders", json: [
                    "symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1.00",
                    "time_in_force": "day", "client_order_id": "stream-limit-1"])
                #expect(limit.status == 200, "\(limit.text)")
                let limitID = try limit.object()["id"] as? String ?? ""
                _ = try await expectEvent("new", order: limitID)
                let cancel = try await sim.request("DELETE", "/v2/orders/\(limitID)")
                #expect(cancel.status == 204)
                _ = try await expectEvent("canceled", order: limitID)

                // The msgpack listener got the same events.
                var packedEvents: [WireJSON] = []
                while packedEvents.count < seen.count {
                    let message = try await readPacked().wireJSON(timestampsAsSeconds: false)
                    if message.object?["stream"]?.string == "trade_updates", let data = message.object?["data"] { packedEvents.append(data) }
                }
                events.set((seen, packedEvents))
                // /sim/disconnect-trading closes both trading-stream connections.
                let dropped = try await sim.request("POST", "/sim/disconnect-trading").object()
                #expect(dropped["disconnected"] as? Int == 2, "\(dropped)")
                if let frame = try? await packed.next() {
                    Issue.record("the trading socket got a frame after /sim/disconnect-trading: \(frame.bytes.count) bytes")
                }
            }
        }

        let (seen, packed) = try #require(events.value)
        #expect(seen == packed, "msgpack events differ from JSON ones")
        let sequence = seen.map { "\($0.object?["event"]?.string ?? "?") \($0.object?["order"]?.object?["client_order_id"]?.string ?? "?")" }
        #expect(sequence == ["new stream-market-1", "fill stream-market-1", "new stream-limit-1", "canceled stream-limit-1"])
        guard sequence.count == 4 else { return }

        // Every event: event, execution_id (a UUID), the order, and a timestamp.
        for event in seen {
            let data = try #require(event.object)
            #expect(UUID(uuidString: data["execution_id"]?.string ?? "") != nil, "execution_id \(String(describing: data["execution_id"]))")
            #expect(RFC3339.parse(data["timestamp"]?.string ?? "") != nil)
            #expect(data["order"]?.object?["status"]?.string == ["new": "new", "fill": "filled", "canceled": "canceled"][data["event"]?.string ?? ""])
        }
        let fill = try #require(seen[1].object)
        let order = try #require(fill["order"]?.object)
        #expect(fill["qty"] == .string("3"))
        #expect(fill["position_qty"] == .string("3"))
        #expect(fill["price"] == order["filled_avg_price"])
        #expect(fill["timestamp"] == order["filled_at"])
        #expect(order["filled_qty"] == .string("3"))
        let canceled = try #require(seen[3].object)
        #expect(canceled["timestamp"] == canceled["order"]?.object?["canceled_at"])
        for event in [seen[0], seen[2], seen[3]] {
            #expect(Set(event.object?.keys.map { $0 } ?? []) == ["event", "execution_id", "order", "timestamp"])
        }

        // Key by key against Alpaca's documented fill event: the same keys, the same JSON types where both have a value.
        guard let documented = fixture?.object?["data"]?.object else {
            try Test.cancel("../shared/alpaca-fixtures/stream_trade_updates_fill.json is absent: shapes not compared")
            return
        }
        #expect(Set(fill.keys) == Set(documented.keys), "fill keys \(fill.keys.sorted()) vs \(documented.keys.sorted())")
        let documentedOrder = try #require(documented["order"]?.object)
        for event in seen {
            let ours = try #require(event.object?["order"]?.object)
            #expect(Set(ours.keys) == Set(documentedOrder.keys),
                    "order keys: extra \(Set(ours.keys).subtracting(documentedOrder.keys).sorted()), missing \(Set(documentedOrder.keys).subtracting(ours.keys).sorted())")
        }
        for (key, value) in documented where key != "order" {
            #expect(fill[key]?.type == value.type, "\(key): \(String(describing: fill[key])) vs documented \(value)")
        }
        for (key, value) in documentedOrder where value != .null && order[key] != .null {
            // The fixture is a crypto order (order_class ""); types must still agree.
            #expect(order[key]?.type == value.type, "order.\(key): \(String(describing: order[key])) vs documented \(value)")
        }
    }

    /// The less common events: `partial_fill` (with `--partial-fill-rate 1`), then `canceled` for the rest at the
    /// close; `expired` for a day order with nothing filled at the close; `rejected` (with `--reject-rate 1`).
    @Test func partialFillsExpiriesAndRejectionsAreReported() async throws {
        let seed = Self.seed()
        // Twenty simulated minutes before the close, a minute a second: the orders must reach the session even when
        // a loaded machine is slow to start the simulator and the listener (five minutes was not always enough).
        let sim = try await SimulatorProcess(["--start", "2024-06-04T19:40:00Z", "--speed", "60", "--seed", seed,
                                              "--partial-fill-rate", "1"])
        let events = try await Self.tradeEvents(sim: sim, count: 5) {
            let market = try await sim.request("POST", "/v2/orders", json: [
                "symbol": "AAPL", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "partial-1"])
            #expect(market.status == 200, "\(market.text)")
            let limit = try await sim.request("POST", "/v2/orders", json: [
                "symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1.00", "time_in_force": "day",
                "client_order_id": "expiring-1"])
            #expect(limit.status == 200, "\(limit.text)")
        }
        let byOrder = Dictionary(grouping: events) { $0["order"]?["client_order_id"]?.string ?? "?" }
        #expect(byOrder["partial-1"]?.map { $0["event"]?.string ?? "?" } == ["new", "partial_fill", "canceled"])
        #expect(byOrder["expiring-1"]?.map { $0["event"]?.string ?? "?" } == ["new", "expired"])
        if let partial = byOrder["partial-1"]?.dropFirst().first {
            let qty = Double(partial["qty"]?.string ?? "") ?? 0
            #expect(qty >= 1 && qty < 10, "partial qty \(qty)")
            #expect(partial["position_qty"] == partial["qty"])
            #expect(partial["order"]?["status"]?.string == "partially_filled")
            #expect(partial["price"] == partial["order"]?["filled_avg_price"])
        }
        if let expired = byOrder["expiring-1"]?.last {
            #expect(expired["timestamp"] == expired["order"]?["expired_at"])
            #expect(expired["order"]?["status"]?.string == "expired")
        }

        let rejecting = try await SimulatorProcess(["--start", "2024-06-04T14:00:00Z", "--speed", "60", "--seed", seed,
                                                    "--reject-rate", "1"])
        let rejected = try await Self.tradeEvents(sim: rejecting, count: 1) {
            let order = try await rejecting.request("POST", "/v2/orders", json: [
                "symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "rejected-1"])
            #expect(order.status == 200, "\(order.text)")
        }
        #expect(rejected.first?["event"]?.string == "rejected")
        #expect(rejected.first?["order"]?["status"]?.string == "rejected")
        #expect(rejected.first?["timestamp"] == rejected.first?["order"]?["failed_at"])
    }

    /// PATCH: the old order's `replaced` (with `replaced_by`), then the replacing order's `new` (with `replaces`).
    @Test func aReplacedOrderIsReported() async throws {
        let sim = try await SimulatorProcess(["--start", "2024-06-04T14:00:00Z", "--speed", "60", "--seed", Self.seed()])
        let events = try await Self.tradeEvents(sim: sim, count: 3) {
            let resting = try await sim.request("POST", "/v2/orders", json: [
                "symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit", "limit_price": "1.00", "time_in_force": "gtc",
                "client_order_id": "to-replace"])
            let id = try resting.object()["id"] as? String ?? ""
            let replaced = try await sim.request("PATCH", "/v2/orders/\(id)", json: ["qty": "3", "limit_price": "1.01"])
            #expect(replaced.status == 200, "\(replaced.text)")
        }
        #expect(events.map { $0["event"]?.string ?? "?" } == ["new", "replaced", "new"])
        guard events.count == 3 else { return }
        #expect(events[1]["order"]?["status"]?.string == "replaced")
        #expect(events[1]["timestamp"] == events[1]["order"]?["replaced_at"])
        #expect(events[1]["order"]?["replaced_by"] == events[2]["order"]?["id"])
        #expect(events[2]["order"]?["replaces"] == events[0]["order"]?["id"])
        #expect(events[2]["order"]?["qty"]?.string == "3")
    }

    /// Authenticates and listens on `/stream` (JSON), runs `orders`, and returns the first `count` events' data.
    static func tradeEvents(sim: SimulatorProcess, count: Int, _ orders: @escaping @Sendable () async throws -> Void) async throws -> [WireJSON] {
        let box = ResultBox<[WireJSON]>()
        // Deadlines, not speed limits: generous for a loaded machine.
        try await RawSocket.session(URL(string: "ws://\(sim.host):\(sim.port)/stream")!, msgpack: false, timeout: 120) { socket in
            try await socket.send(.map([(.string("action"), .string("authenticate")), (.string("data"), .map([
                (.string("key_id"), .string(sim.keyID)), (.string("secret_key"), .string(sim.secretKey))]))]), msgpack: false)
            #expect(try WireJSON.parse(Data(try await socket.next().bytes))["data"]?["status"]?.string == "authorized")
            try await socket.send(.map([(.string("action"), .string("listen")),
                                        (.string("data"), .map([(.string("streams"), .array([.string("trade_updates")]))]))]), msgpack: false)
            #expect(try WireJSON.parse(Data(try await socket.next().bytes))["stream"]?.string == "listening")
            try await orders()
            var events: [WireJSON] = []
            let deadline = ContinuousClock.now + .seconds(100)
            while events.count < count {
                guard ContinuousClock.now < deadline else { throw SimulatorProcessError("\(events.count) of \(count) events within 100 s: \(events)") }
                let message = try WireJSON.parse(Data(try await socket.next().bytes))
                if message["stream"]?.string == "trade_updates", let data = message["data"] { events.append(data) }
            }
            box.set(events)
        }
        return try #require(box.value)
    }

    // MARK: - alpaca-py's StockDataStream and TradingStream, unmodified

    /// `scripts/alpaca-py-streams.py`: StockDataStream (msgpack) gets bars, daily bars and updated bars as its
    /// models; TradingStream gets new, fill, new, canceled for orders placed with TradingClient. Uses the venv
    /// of `scripts/install-alpaca-py.sh` (or `$ALPACA_PY_PYTHON`); fails without it unless
    /// `AUTOTRADER_SKIP_ALPACA_PY=1`.
    @Test(.enabled(if: !AlpacaSDKConformanceTests.skipped, "AUTOTRADER_SKIP_ALPACA_PY is set"), .timeLimit(.minutes(4)))
    func alpacaPyStreamsWorkAgainstTheSimulator() async throws {
        guard let python = AlpacaSDKConformanceTests.python() else {
            Issue.record("alpaca-py is not installed: run scripts/install-alpaca-py.sh, or set ALPACA_PY_PYTHON; AUTOTRADER_SKIP_ALPACA_PY=1 skips this test")
            return
        }
        let sim = try await SimulatorProcess(["--start", "2024-06-04T13:30:00Z", "--speed", "60", "--seed", Self.seed(),
                                              "--updated-bar-rate", "0.5"])
        let script = Repository.root.appendingPathComponent("scripts/alpaca-py-streams.py").path
        let result = try await AlpacaSDKConformanceTests.run(python, [script], environment: [
            "ALPACA_SIM_URL": sim.baseURL.absoluteString, "ALPACA_SIM_KEY_ID": sim.keyID, "ALPACA_SIM_SECRET_KEY": sim.secretKey,
        ], in: sim.directory, deadline: .seconds(180))
        print("alpaca-py-streams: exit \(result.status)\n\(result.stdout.suffix(4000))")
        if result.timedOut {
            Issue.record("alpaca-py-streams did not finish within 180 s:\n\(result.stdout.suffix(4000))\n\(result.stderr.suffix(4000))")
        } else if result.status != 0 {
            Issue.record("alpaca-py-streams exited \(result.status):\n\(result.stdout.suffix(4000))\n\(result.stderr.suffix(8000))")
        }
        #expect(result.stdout.contains("stream checks passed"))
    }
}

// MARK: - A raw WebSocket, frame by frame

struct RawFrame: Sendable {
    let binary: Bool
    let bytes: [UInt8]
}

struct RawSocket: Sendable {
    let outbound: WebSocketOutboundWriter
    let iterator: RawIterator

    func next() async throws -> RawFrame {
        guard let frame = try await iterator.next() else { throw SimulatorProcessError("the stream closed") }
        return frame
    }

    /// Sends a client message: msgpack in a binary frame, or JSON in a text frame.
    func send(_ message: TestMsgPack, msgpack: Bool) async throws {
        if msgpack {
            try await outbound.write(.binary(ByteBuffer(bytes: message.encoded())))
        } else {
            try await outbound.write(.text(String(decoding: try JSONSerialization.data(withJSONObject: message.jsonObject), as: UTF8.self)))
        }
    }

    /// Connects (asking for msgpack with `Content-Type: application/msgpack` when `msgpack`), runs `body`, closes;
    /// the whole session is bounded so a silent server fails the test.
    static func session(_ url: URL, msgpack: Bool, timeout: Double, _ body: @escaping @Sendable (RawSocket) async throws -> Void) async throws {
        let logger = Logger(label: "stream-protocol")
        var configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 22)
        if msgpack { configuration.additionalHeaders[.contentType] = "application/msgpack" }
        let settings = configuration
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await WebSocketClient.connect(url: url.absoluteString, configuration: settings, logger: logger) { inbound, outbound, _ in
                    let iterator = RawIterator(inbound.messages(maxSize: 1 << 22).makeAsyncIterator())
                    try await body(RawSocket(outbound: outbound, iterator: iterator))
                    try? await outbound.close(.normalClosure, reason: nil)
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                throw SimulatorProcessError("stream session to \(url) did not finish within \(timeout) s")
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }
}

final class RawIterator: @unchecked Sendable {
    private var iterator: WebSocketInboundMessageStream.AsyncIterator
    init(_ iterator: WebSocketInboundMessageStream.AsyncIterator) { self.iterator = iterator }

    func next() async throws -> RawFrame? {
        guard let message = try await iterator.next() else { return nil }
        switch message {
        case .text(let text): return RawFrame(binary: false, bytes: Array(text.utf8))
        case .binary(let buffer): return RawFrame(binary: true, bytes: Array(buffer.readableBytesView))
        }
    }
}

/// What a session's body hands back to the test (written once, read after the session ended).
final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    var value: T? { lock.withLock { stored } }
    func set(_ value: T) { lock.withLock { stored = value } }
}

// MARK: - The test's own msgpack (decoder and a small encoder), independent of the simulator's

indirect enum TestMsgPack: Equatable, CustomStringConvertible {
    case null, bool(Bool), int(Int64), double(Double), string(String), binary([UInt8]), array([TestMsgPack])
    case map([(TestMsgPack, TestMsgPack)])
    case timestamp(seconds: Int64, nanoseconds: UInt32)
    case ext(Int8, [UInt8])

    static func == (lhs: TestMsgPack, rhs: TestMsgPack) -> Bool { lhs.description == rhs.description }

    var description: String {
        switch self {
        case .null: "nil"
        case .bool(let b): "\(b)"
        case .int(let i): "\(i)"
        case .double(let d): "\(d)d"
        case .string(let s): "\"\(s)\""
        case .binary(let b): "bin\(b)"
        case .array(let a): "[" + a.map(\.description).joined(separator: ",") + "]"
        case .map(let m): "{" + m.map { "\($0.0):\($0.1)" }.joined(separator: ",") + "}"
        case .timestamp(let s, let n): "ts(\(s).\(n))"
        case .ext(let t, let d): "ext(\(t),\(d))"
        }
    }

    subscript(key: String) -> TestMsgPack? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.0 == .string(key) }?.1
    }

    var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    /// As the JSON mode would write it; timestamps as epoch seconds (numbers) when `timestampsAsSeconds`,
    /// and JSON strings that are RFC 3339 times (`t`) likewise, so both modes compare equal.
    func wireJSON(timestampsAsSeconds: Bool) -> WireJSON {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .number(Double(i))
        case .double(let d): return .number(d)
        case .string(let s): return .string(s)
        case .binary, .ext: return .null
        case .array(let a): return .array(a.map { $0.wireJSON(timestampsAsSeconds: timestampsAsSeconds) })
        case .map(let pairs):
            var object: [String: WireJSON] = [:]
            for (key, value) in pairs {
                guard case .string(let name) = key else { continue }
                if timestampsAsSeconds, name == "t", case .string(let text) = value, let date = RFC3339.parse(text) {
                    object[name] = .number(date.timeIntervalSince1970)
                } else {
                    object[name] = value.wireJSON(timestampsAsSeconds: timestampsAsSeconds)
                }
            }
            return .object(object)
        case .timestamp(let seconds, let nanoseconds):
            let value = Double(seconds) + Double(nanoseconds) / 1e9
            return timestampsAsSeconds ? .number(value) : .string(RFC3339.format(Date(timeIntervalSince1970: value)))
        }
    }

    var jsonObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let i): return i
        case .double(let d): return d
        case .string(let s): return s
        case .array(let a): return a.map(\.jsonObject)
        case .map(let pairs):
            var object: [String: Any] = [:]
            for (key, value) in pairs { if case .string(let name) = key { object[name] = value.jsonObject } }
            return object
        default: return NSNull()
        }
    }

    static func fromJSON(_ bytes: [UInt8]) throws -> TestMsgPack {
        func convert(_ value: Any) -> TestMsgPack {
            switch value {
            case let s as String: return .string(s)
            case let a as [Any]: return .array(a.map(convert))
            case let o as [String: Any]: return .map(o.keys.sorted().map { (.string($0), convert(o[$0]!)) })
            case let n as NSNumber:
                switch String(cString: n.objCType) {
                case "c", "B": return .bool(n.boolValue)
                case "d", "f": return .double(n.doubleValue)
                default: return .int(n.int64Value)
                }
            default: return .null
            }
        }
        return convert(try JSONSerialization.jsonObject(with: Data(bytes)))
    }

    // Encoding: only what client messages need (strings, arrays, maps, small ints, nil, bools).
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        func length(_ count: Int, fix: UInt8, fixLimit: Int, sixteen: UInt8) {
            if count < fixLimit { out.append(fix | UInt8(count)) } else { out += [sixteen, UInt8(count >> 8), UInt8(count & 0xFF)] }
        }
        func write(_ value: TestMsgPack) {
            switch value {
            case .null: out.append(0xC0)
            case .bool(let b): out.append(b ? 0xC3 : 0xC2)
            case .int(let i): out += [0xD3] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(bitPattern: i) >> (8 * $0)) }
            case .double(let d): out += [0xCB] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: d.bitPattern >> (8 * $0)) }
            case .string(let s):
                let utf8 = Array(s.utf8)
                if utf8.count < 32 { out.append(0xA0 | UInt8(utf8.count)) } else { out += [0xDA, UInt8(utf8.count >> 8), UInt8(utf8.count & 0xFF)] }
                out += utf8
            case .array(let a): length(a.count, fix: 0x90, fixLimit: 16, sixteen: 0xDC); a.forEach(write)
            case .map(let m): length(m.count, fix: 0x80, fixLimit: 16, sixteen: 0xDE); m.forEach { write($0.0); write($0.1) }
            default: out.append(0xC0)
            }
        }
        write(self)
        return out
    }

    static func decode(_ bytes: [UInt8]) throws -> TestMsgPack {
        var offset = 0
        func take(_ n: Int) throws -> [UInt8] {
            guard offset + n <= bytes.count else { throw SimulatorProcessError("msgpack truncated at \(offset)") }
            defer { offset += n }
            return Array(bytes[offset..<offset + n])
        }
        func uint(_ n: Int) throws -> UInt64 { try take(n).reduce(0) { $0 << 8 | UInt64($1) } }
        func str(_ n: Int) throws -> TestMsgPack { .string(String(decoding: try take(n), as: UTF8.self)) }
        func arr(_ n: Int) throws -> TestMsgPack { .array(try (0..<n).map { _ in try value() }) }
        func map(_ n: Int) throws -> TestMsgPack { .map(try (0..<n).map { _ in (try value(), try value()) }) }
        func ext(_ n: Int) throws -> TestMsgPack {
            let type = Int8(bitPattern: try take(1)[0])
            let data = try take(n)
            guard type == -1 else { return .ext(type, data) }
            let packed = data.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            switch n {
            case 4: return .timestamp(seconds: Int64(packed), nanoseconds: 0)
            case 8: return .timestamp(seconds: Int64(packed & 0x3_FFFF_FFFF), nanoseconds: UInt32(packed >> 34))
            case 12:
                let nanos = data[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                let seconds = data[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                return .timestamp(seconds: Int64(bitPattern: seconds), nanoseconds: nanos)
            default: throw SimulatorProcessError("timestamp of \(n) bytes")
            }
        }
        func value() throws -> TestMsgPack {
            let head = try take(1)[0]
            switch head {
            case 0x00...0x7F: return .int(Int64(head))
            case 0x80...0x8F: return try map(Int(head & 0x0F))
            case 0x90...0x9F: return try arr(Int(head & 0x0F))
            case 0xA0...0xBF: return try str(Int(head & 0x1F))
            case 0xC0: return .null
            case 0xC2: return .bool(false)
            case 0xC3: return .bool(true)
            case 0xC4, 0xC5, 0xC6: return .binary(try take(Int(try uint(1 << Int(head - 0xC4)))))
            case 0xC7, 0xC8, 0xC9: return try ext(Int(try uint(1 << Int(head - 0xC7))))
            case 0xCA: return .double(Double(Float(bitPattern: UInt32(try uint(4)))))
            case 0xCB: return .double(Double(bitPattern: try uint(8)))
            case 0xCC, 0xCD, 0xCE, 0xCF: return .int(Int64(bitPattern: try uint(1 << Int(head - 0xCC))))
            case 0xD0: return .int(Int64(Int8(truncatingIfNeeded: try uint(1))))
            case 0xD1: return .int(Int64(Int16(truncatingIfNeeded: try uint(2))))
            case 0xD2: return .int(Int64(Int32(truncatingIfNeeded: try uint(4))))
            case 0xD3: return .int(Int64(bitPattern: try uint(8)))
            case 0xD4...0xD8: return try ext(1 << Int(head - 0xD4))
            case 0xD9, 0xDA, 0xDB: return try str(Int(try uint(1 << Int(head - 0xD9))))
            case 0xDC, 0xDD: return try arr(Int(try uint(head == 0xDC ? 2 : 4)))
            case 0xDE, 0xDF: return try map(Int(try uint(head == 0xDE ? 2 : 4)))
            default: return .int(Int64(Int8(bitPattern: head)))
            }
        }
        let result = try value()
        guard offset == bytes.count else { throw SimulatorProcessError("\(bytes.count - offset) bytes after the msgpack value") }
        return result
    }
}
