import Foundation
import Logging
import Testing
@testable import AutoTraderCore

/// What the order desk does with a trade-updates event, on a real system.db: an order's end closes its
/// intent once, through the same transaction as a look at the broker; anything that doesn't fit records nothing.
@Suite struct TradeUpdateRecordingTests {
    static let minute = Timestamp.at("2024-06-04T14:31:00Z")

    /// An event as the stream's reader produces it, from the frame's bytes.
    func event(
        _ name: String, clientOrderID: String, orderID: String = "B1", side: OrderSide = .buy, status: OrderStatus,
        filled: Decimal = 0, price: Decimal? = nil
    ) throws -> AlpacaTradeUpdate {
        // Alpaca's order fields, written as Alpaca writes them (strings for numbers, RFC 3339 times, nulls).
        let orderObject: [String: Any] = [
            "id": orderID, "client_order_id": clientOrderID, "created_at": "2024-06-04T14:31:30.25Z",
            "updated_at": "2024-06-04T14:32:10.5Z", "submitted_at": "2024-06-04T14:31:30.25Z",
            "filled_at": filled > 0 ? "2024-06-04T14:32:00Z" : NSNull(), "asset_id": "asset", "symbol": "AAPL",
            "asset_class": "us_equity", "qty": "5", "notional": NSNull(), "filled_qty": filled.plainString,
            "filled_avg_price": price.map { $0.plainString as Any } ?? NSNull(), "order_class": "", "order_type": "limit",
            "type": "limit", "side": side.rawValue, "time_in_force": "day", "limit_price": "100.5", "stop_price": NSNull(),
            "status": status.rawValue, "extended_hours": false,
        ]
        var data: [String: Any] = ["event": name, "order": orderObject, "timestamp": "2024-06-04T14:32:10.5Z"]
        if let price { data["price"] = price.plainString; data["qty"] = filled.plainString }
        let frame = try JSONSerialization.data(withJSONObject: ["stream": "trade_updates", "data": data])
        guard case .tradeUpdate(let update) = try TradeStreamMessage.decode(frame) else { throw TradeStreamFrameError(reason: "not an update", bytes: 0) }
        return update
    }

    @Test func anOrdersEndIsRecordedOnceAndWhatDoesNotFitRecordsNothing() async throws {
        let directory = TemporaryDirectory("trade-updates")
        defer { withExtendedLifetime(directory) {} }
        let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        let card = try system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 1000)
        let intent = try system.createIntent(
            algorithmId: card.id, minute: Self.minute, side: .buy, shares: 5, price: 100, reason: "test").get()
        try system.markIntentSent(id: intent.id, brokerOrderId: "B1")
        // Nothing here asks the broker: the client points at a closed port.
        let client = AlpacaClient(configuration: .simulator(baseURL: URL(string: "http://127.0.0.1:9")!))
        let desk = OrderDesk(client: client, system: system, logger: Logger(label: "test"))
        let id = intent.clientOrderId

        func stillOpen() throws -> Bool { try system.openIntents().contains { $0.id == intent.id } }

        // Not ended yet: nothing recorded (a partial fill is recorded when the order ends, with all that filled).
        await desk.record(try event("new", clientOrderID: id, status: .new))
        await desk.record(try event("partial_fill", clientOrderID: id, status: .partiallyFilled, filled: 2, price: 100.1))
        #expect(try stillOpen())
        // Events that don't fit the intent: never a wrong fill.
        for wrong in [
            try event("fill", clientOrderID: id, side: .sell, status: .filled, filled: 5, price: 100.1),
            try event("fill", clientOrderID: id, orderID: "B2", status: .filled, filled: 5, price: 100.1),
            try event("fill", clientOrderID: id, status: .filled, filled: 6, price: 100.1),
            try event("fill", clientOrderID: id, status: .filled, filled: 2.5, price: 100.1),
            try event("fill", clientOrderID: id, status: .filled, filled: 5, price: nil),
        ] {
            await desk.record(wrong)
            #expect(try stillOpen(), "\(wrong.order)")
        }
        #expect(try system.trades(algorithmId: card.id).isEmpty)
        #expect(await desk.lastError?.contains("ignored") == true)

        // Someone else's order (placed by hand): nothing.
        await desk.record(try event("fill", clientOrderID: "manual-1", orderID: "M1", status: .filled, filled: 5, price: 99))
        #expect(try stillOpen())

        // The end: canceled after 2 of 5 filled. Recorded once, however often the event comes.
        let canceled = try event("canceled", clientOrderID: id, status: .canceled, filled: 2, price: 100.1)
        await desk.record(canceled)
        await desk.record(canceled)
        await desk.record(try event("fill", clientOrderID: id, status: .filled, filled: 5, price: 100.1))
        let trades = try system.trades(algorithmId: card.id)
        #expect(trades.count == 1 && trades.first?.shares == 2 && trades.first?.price == Decimal(string: "100.1"))
        let closed = try #require(try system.intents(algorithmId: card.id).first)
        #expect(closed.state == .canceled && closed.filledShares == 2 && closed.transactionId == trades.first?.id)
        #expect(closed.detail == "broker status canceled (trade update)")
        #expect(try system.decisions(algorithmId: card.id).first?.outcome.hasPrefix("canceled: 2 shares") == true)
    }

    @Test func theEndOfAnOrderClosedUnsentIsRecordedOnceAsArrivedLate() async throws {
        let directory = TemporaryDirectory("trade-updates-late")
        defer { withExtendedLifetime(directory) {} }
        let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        let card = try system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 1000)
        let intent = try system.createIntent(
            algorithmId: card.id, minute: Self.minute, side: .buy, shares: 5, price: 100, reason: "test").get()
        _ = try system.closeIntent(
            id: intent.id, state: .unsent, filledShares: 0, fillPrice: nil, filledAt: nil, brokerOrderId: nil,
            detail: SystemDatabase.notReceivedDetail)
        let desk = OrderDesk(
            client: AlpacaClient(configuration: .simulator(baseURL: URL(string: "http://127.0.0.1:9")!)), system: system,
            logger: Logger(label: "test"))
        // Still working: left to the list look (re-opening it now would cancel it before it could fill).
        await desk.record(try event("new", clientOrderID: intent.clientOrderId, orderID: "L1", status: .new))
        #expect(try system.intents(algorithmId: card.id).first?.state == .unsent)
        let fill = try event("fill", clientOrderID: intent.clientOrderId, orderID: "L1", status: .filled, filled: 5, price: 100.2)
        await desk.record(fill)
        await desk.record(fill)
        let closed = try #require(try system.intents(algorithmId: card.id).first)
        #expect(closed.state == .filled && closed.filledShares == 5 && closed.brokerOrderId == "L1")
        #expect(closed.detail.hasPrefix(SystemDatabase.arrivedLateDetail) && closed.detail.hasSuffix("(trade update)"), "\(closed.detail)")
        #expect(try system.trades(algorithmId: card.id).map(\.shares) == [5])
    }
}
