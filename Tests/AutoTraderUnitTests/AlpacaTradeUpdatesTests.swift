import Foundation
import Testing
@testable import AutoTraderCore

/// The trade-updates client's reader: Alpaca's real trading-stream payloads (../shared/alpaca-fixtures)
/// decode into what the executor records, and anything else is a clear error, never a fill.
@Suite struct AlpacaTradeUpdatesTests {
    static let directory = AlpacaFixtureTests.directory
    static let present = AlpacaFixtureTests.present

    func fixture(_ name: String) throws -> Data { try Data(contentsOf: Self.directory.appendingPathComponent(name)) }
    func d(_ text: String) -> Decimal { Decimal(string: text)! }

    @Test(.enabled(if: present, "../shared/alpaca-fixtures is absent"))
    func aRealFillEventDecodesWithItsOrder() throws {
        guard case .tradeUpdate(let update) = try TradeStreamMessage.decode(fixture("stream_trade_updates_fill.json")) else {
            Issue.record("the fill fixture did not decode as a trade update")
            return
        }
        #expect(update.event == "fill")
        #expect(update.executionId == "2f63ea93-423d-4169-b3f6-3fdafc10c418")
        #expect(update.price == d("105.8988475") && update.qty == d("1790.86") && update.positionQty == 0)
        #expect(update.timestamp == RFC3339.parse("2022-04-19T17:45:05.024916716Z"))
        let order = update.order
        #expect(order.status == .filled && order.status.isTerminal)
        #expect(order.clientOrderId == "4642fd68-d59a-47d7-a9ac-e22f536828d1" && order.id == "a5be8f5e-fdfa-41f5-a644-7a74fe947a8f")
        #expect(order.filledQty == d("1790.86") && order.filledAvgPrice == d("105.8988475") && order.side == .sell)
        // Offset times with nanoseconds, as Alpaca writes them.
        #expect(order.createdAt == RFC3339.parse("2022-04-19T17:45:04.981350886Z"))
    }

    @Test(.enabled(if: present, "../shared/alpaca-fixtures is absent"))
    func theDocumentedSessionDecodesAndTheClientSendsTheSameShapes() throws {
        let messages = try #require(JSONSerialization.jsonObject(with: fixture("stream_trade_updates_session.json")) as? [[String: Any]])
        var server: [TradeStreamMessage] = []
        for message in messages {
            let data = try JSONSerialization.data(withJSONObject: message)
            if message["stream"] != nil {
                server.append(try TradeStreamMessage.decode(data))
            } else {
                // A client message has no `stream`: to the reader it is not a message at all.
                #expect(throws: TradeStreamFrameError.self) { try TradeStreamMessage.decode(data) }
            }
        }
        let described = server.map { message -> String in
            switch message {
            case .authorization(let authorized, let action): return "authorization \(authorized) \(action)"
            case .listening(let streams): return "listening \(streams)"
            case .tradeUpdate(let update): return "update \(update.event)"
            case .other(let stream): return "other \(stream)"
            }
        }
        #expect(described == [
            "listening [\"trade_updates\"]", "authorization true authenticate", "authorization false authenticate",
            "authorization false listen", "listening [\"trade_updates\"]",
        ])
        // What this client writes has the keys of the documented client messages.
        let sent = try [
            TradeStreamRequest.authenticate(keyID: "{YOUR_API_KEY_ID}", secretKey: "{YOUR_API_SECRET_KEY}"),
            TradeStreamRequest.listen(["trade_updates"]),
        ].map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! NSDictionary }
        let documented = messages.filter { $0["action"] != nil }.map { $0 as NSDictionary }
        #expect(documented.contains(sent[0]) && documented.contains(sent[1]))
    }

    @Test(.enabled(if: present, "../shared/alpaca-fixtures is absent"))
    func badFramesAreClearErrorsNeverUpdates() throws {
        var fill = try #require(JSONSerialization.jsonObject(with: fixture("stream_trade_updates_fill.json")) as? [String: Any])
        var data = try #require(fill["data"] as? [String: Any])
        var order = try #require(data["order"] as? [String: Any])
        order["filled_qty"] = "lots"
        data["order"] = order
        fill["data"] = data
        let badQty = try JSONSerialization.data(withJSONObject: fill)
        let frames: [(Data, String)] = [
            (Data("not json".utf8), "not JSON"),
            (Data([0x93, 0xA4, 0x66, 0x69, 0x6C, 0x6C, 0x00, 0xFF]), "not JSON"),  // msgpack-looking bytes
            (Data("[]".utf8), "wrong type"),
            (Data(#"{"data":{}}"#.utf8), "missing stream"),
            (Data(#"{"stream":"trade_updates","data":{"event":"fill"}}"#.utf8), "missing data.order"),
            (Data(#"{"stream":"authorization","data":{}}"#.utf8), "missing data.status"),
            (badQty, "bad value at data.order.filled_qty"),
        ]
        for (frame, reason) in frames {
            do {
                let message = try TradeStreamMessage.decode(frame)
                Issue.record("a bad frame decoded: \(message)")
            } catch let error as TradeStreamFrameError {
                #expect(error.reason.hasPrefix(reason), "\(error.reason)")
                #expect(error.bytes == frame.count)
                #expect(error.description.contains("unreadable trade-updates frame"))
            }
        }
        // A stream this client doesn't know is passed over, not an error.
        guard case .other("account_updates") = try TradeStreamMessage.decode(Data(#"{"stream":"account_updates","data":{}}"#.utf8)) else {
            Issue.record("an unknown stream was not reported as other")
            return
        }
    }

    @Test func theTradingStreamIsAtTheTradingURLsStreamPath() {
        let sim = AlpacaConfiguration.simulator(baseURL: URL(string: "http://127.0.0.1:8765")!)
        #expect(sim.tradeUpdatesURL.absoluteString == "ws://127.0.0.1:8765/stream")
        var paper = sim
        paper.tradingURL = URL(string: "https://paper-api.alpaca.markets")!
        #expect(paper.tradeUpdatesURL.absoluteString == "wss://paper-api.alpaca.markets/stream")
        paper.tradingURL = URL(string: "https://proxy.example/alpaca/")!
        #expect(paper.tradeUpdatesURL.absoluteString == "wss://proxy.example/alpaca/stream")
    }
}
