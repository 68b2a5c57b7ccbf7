import AutoTraderCore
import Foundation

// Market-data REST answers for latest trades, latest quotes and snapshots, in Alpaca's shapes (keys as
// ALPACA_PROTOCOL.md §7 lists for the stream's trade and quote, which the REST answers share; the
// wrappers as alpaca-py reads them: `{"symbol", "trade"}`, `{"trades": {S: …}}`, `{"symbol", "quote"}`,
// `{"quotes": {S: …}}`, a snapshot's `latestTrade`/`latestQuote`/`minuteBar`/`dailyBar`/`prevDailyBar`).

extension SimWire {
    /// A trade: `t` time, `x` exchange code, `p` price, `s` size, `c` conditions, `i` id, `z` tape.
    public struct Trade: Encodable, Sendable, Equatable {
        public var t: String
        public var x: String
        public var p: Double
        public var s: Int64
        public var c: [String]
        public var i: Int64
        public var z: String
    }

    /// A quote: `t`, ask exchange/price/size `ax`/`ap`/`as`, bid `bx`/`bp`/`bs`, `c` conditions, `z` tape.
    public struct Quote: Encodable, Sendable, Equatable {
        public var t: String
        public var ax: String
        public var ap: Double
        public var `as`: Int64
        public var bx: String
        public var bp: Double
        public var bs: Int64
        public var c: [String]
        public var z: String
    }

    /// GET /v2/stocks/{symbol}/trades/latest.
    public struct LatestTrade: Encodable, Sendable {
        public var symbol: String
        public var trade: Trade
    }

    /// GET /v2/stocks/trades/latest?symbols=A,B.
    public struct LatestTrades: Encodable, Sendable {
        public var trades: [String: Trade]
    }

    /// GET /v2/stocks/{symbol}/quotes/latest.
    public struct LatestQuote: Encodable, Sendable {
        public var symbol: String
        public var quote: Quote
    }

    /// GET /v2/stocks/quotes/latest?symbols=A,B.
    public struct LatestQuotes: Encodable, Sendable {
        public var quotes: [String: Quote]
    }

    /// A snapshot (each value of GET /v2/stocks/snapshots?symbols=, which maps symbol to snapshot; and
    /// GET /v2/stocks/{symbol}/snapshot, which adds `symbol`). A part with nothing to say is null.
    public struct Snapshot: Encodable, Sendable {
        public var symbol: String?
        public var latestTrade: Trade?
        public var latestQuote: Quote?
        public var minuteBar: Bar?
        public var dailyBar: Bar?
        public var prevDailyBar: Bar?

        enum CodingKeys: String, CodingKey {
            case symbol, latestTrade, latestQuote, minuteBar, dailyBar, prevDailyBar
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if let symbol { try c.encode(symbol, forKey: .symbol) }
            try c.encodeOrNull(latestTrade, forKey: .latestTrade)
            try c.encodeOrNull(latestQuote, forKey: .latestQuote)
            try c.encodeOrNull(minuteBar, forKey: .minuteBar)
            try c.encodeOrNull(dailyBar, forKey: .dailyBar)
            try c.encodeOrNull(prevDailyBar, forKey: .prevDailyBar)
        }
    }

    /// GET /v2/stocks/snapshots?symbols=A,B: `{"A": {…}, "B": {…}}`.
    public struct Snapshots: Encodable, Sendable {
        public var snapshots: [String: Snapshot]

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: SimWireKey.self)
            for (symbol, snapshot) in snapshots { try container.encode(snapshot, forKey: SimWireKey(symbol)) }
        }
    }
}
