@testable import AutoTraderCore
import Foundation
import GRDB
import Testing

/// The rows the api and the CLI write keep every key, a nil written as null, and money leaves in cents.
struct ExplicitNullTests {
    struct Sample: Encodable {
        let a: Int
        @ExplicitNull var b: String?
        let c: Int?
        @RoundedToCents var d: Decimal
    }

    /// Sorted keys: Foundation's encoder keeps no order, and the rows' readers look fields up by name.
    private func text<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    @Test func aMarkedNilIsNullAnUnmarkedOneIsLeftOutAndMoneyLeavesInCents() throws {
        let empty = try text(Sample(a: 1, b: nil, c: nil, d: Decimal(string: "10.005")!))
        #expect(empty == #"{"a":1,"b":null,"d":10.01}"#)
        let full = try text(Sample(a: 1, b: "x", c: 2, d: 3))
        #expect(full == #"{"a":1,"b":"x","c":2,"d":3}"#)
    }

    @Test func anOpenIntentKeepsEveryKey() throws {
        let intent = OrderIntent(row: Row([
            "id": 7, "algorithm_id": 3, "minute": "2024-06-04T14:00:00Z", "side": "buy", "shares": 2, "limit_price": "101.5",
            "purpose": "algorithm", "client_order_id": "at-3-202406041400", "state": "pending", "broker_order_id": nil,
            "filled_shares": 0, "fill_price": nil, "transaction_id": nil, "detail": "", "created_at": "2024-06-04T14:00:01Z",
            "sent_at": nil, "closed_at": nil,
        ]))
        let json = try text(intent)
        #expect(json == #"{"algorithm_id":3,"broker_order_id":null,"client_order_id":"at-3-202406041400","closed_at":null,"#
            + #""created_at":"2024-06-04T14:00:01Z","detail":"","fill_price":null,"filled_shares":0,"id":7,"#
            + #""minute":"2024-06-04T14:00:00Z","purpose":"algorithm","sent_at":null,"shares":2,"side":"buy","#
            + #""state":"pending","transaction_id":null}"#)
    }

    @Test func aTradeIsWrittenWithItsColumnNamesAndExactPrice() throws {
        let trade = Trade(id: 1, algorithmId: 2, side: .sell, shares: 3, price: Decimal(string: "187.123")!,
                          timestamp: Timestamp("2024-06-04T14:00:00Z")!)
        let json = try text(trade)
        #expect(json
            == #"{"algorithm_id":2,"id":1,"price":187.123,"shares":3,"timestamp":"2024-06-04T14:00:00Z","type":"sell"}"#)
    }

    @Test func aMatchingReconciliationLineSaysSoWithANullExplanation() throws {
        let same = PositionReconciliation.Line(ticker: "AAPL", cardShares: 2, brokerShares: 2, cards: [4], openOrders: [])
        let json = try text(same)
        #expect(json
            == #"{"broker_shares":2,"card_shares":2,"cards":[4],"explanation":null,"matches":true,"open_orders":[],"ticker":"AAPL"}"#)
        let off = PositionReconciliation.Line(ticker: "AAPL", cardShares: 2, brokerShares: 3, cards: [4], openOrders: [])
        #expect(!off.matches)
        #expect(off.explanation?.contains("1 more than the 2 that card 4 hold") == true)
    }
}
