import AutoTraderCore
import Foundation

// Market-data REST answers for stock bars. Shapes from ../shared/alpaca-fixtures: bars_*.json,
// bar_latest_single_docs.json, bars_latest_multi*.json.

extension SimWire {
    /// A bar on the wire is the simulator's own bar (`SimBar` maps its names to Alpaca's keys): `t` its start
    /// (RFC 3339, UTC, whole seconds), prices, volume and trade count as JSON numbers.
    public typealias Bar = SimBar

    /// GET /v2/stocks/bars?symbols=A,B (and /sim/bars): bars by symbol, and the token of the next page
    /// (`null` on the last one). An empty answer is `{"bars": {}, "next_page_token": null}`.
    public struct BarsPage: Encodable, Sendable {
        public var bars: [String: [Bar]]
        public var nextPageToken: String?

        enum CodingKeys: String, CodingKey { case bars, nextPageToken = "next_page_token" }

        init(bars: [(String, [SimBar])], nextPageToken: String?) {
            var bySymbol: [String: [Bar]] = [:]
            for (symbol, list) in bars where bySymbol[symbol] == nil { bySymbol[symbol] = list }
            self.bars = bySymbol
            self.nextPageToken = nextPageToken
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(bars, forKey: .bars)
            try c.encodeOrNull(nextPageToken, forKey: .nextPageToken)
        }
    }

    /// GET /v2/stocks/{symbol}/bars: one symbol's bars as an array, the symbol, the next page's token or null.
    public struct SymbolBarsPage: Encodable, Sendable {
        public var bars: [Bar]
        public var symbol: String
        public var nextPageToken: String?

        enum CodingKeys: String, CodingKey { case bars, symbol, nextPageToken = "next_page_token" }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(bars, forKey: .bars)
            try c.encode(symbol, forKey: .symbol)
            try c.encodeOrNull(nextPageToken, forKey: .nextPageToken)
        }
    }

    /// GET /v2/stocks/{symbol}/bars/latest.
    public struct LatestBar: Encodable, Sendable {
        public var symbol: String
        public var bar: Bar
    }

    /// GET /v2/stocks/bars/latest?symbols=A,B: one bar per symbol that has one (no pagination).
    public struct LatestBars: Encodable, Sendable {
        public var bars: [String: Bar]
    }
}
