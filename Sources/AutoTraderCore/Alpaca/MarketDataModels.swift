import Foundation

/// A bar as Alpaca's market data sends it (`t` is the bar's start).
public struct AlpacaBar: Decodable, Sendable, Equatable {
    public var t: Timestamp
    public var o: Double
    public var h: Double
    public var l: Double
    public var c: Double
    public var v: Int64
    public var n: Int64?
    public var vw: Double?

    /// As a stocks.db row.
    public func minuteBar(ticker: String) -> MinuteBar {
        MinuteBar(ticker: ticker, timestamp: t, open: o, high: h, low: l, close: c, volume: v, tradeCount: n, vwap: vw)
    }

    enum CodingKeys: String, CodingKey { case t, o, h, l, c, v, n, vw }
}

extension AlpacaBar {
    public init(_ bar: MinuteBar) {
        self.init(t: bar.timestamp, o: bar.open, h: bar.high, l: bar.low, c: bar.close, v: bar.volume, n: bar.tradeCount, vw: bar.vwap)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .t)
        guard let time = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(forKey: .t, in: c, debugDescription: "not an RFC 3339 time: \(text)")
        }
        t = time
        o = try c.decode(Double.self, forKey: .o)
        h = try c.decode(Double.self, forKey: .h)
        l = try c.decode(Double.self, forKey: .l)
        self.c = try c.decode(Double.self, forKey: .c)
        // Volume is an integer for stocks; tolerate a float (crypto-style) by truncating.
        if let whole = try? c.decode(Int64.self, forKey: .v) { v = whole } else { v = Int64(try c.decode(Double.self, forKey: .v)) }
        n = try c.decodeIfPresent(Int64.self, forKey: .n)
        vw = try c.decodeIfPresent(Double.self, forKey: .vw)
    }
}

/// GET /v2/stocks/bars?symbols=A,B: bars by symbol, one page.
public struct AlpacaMultiBarsPage: Decodable, Sendable {
    public var bars: [String: [AlpacaBar]]
    public var nextPageToken: String?

    enum CodingKeys: String, CodingKey { case bars, nextPageToken = "next_page_token" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bars = try c.decodeIfPresent([String: [AlpacaBar]].self, forKey: .bars) ?? [:]
        nextPageToken = try c.decodeIfPresent(String.self, forKey: .nextPageToken)
    }
}

/// GET /v2/stocks/{symbol}/bars: one symbol's bars, one page.
public struct AlpacaBarsPage: Decodable, Sendable {
    public var bars: [AlpacaBar]
    public var symbol: String
    public var nextPageToken: String?

    enum CodingKeys: String, CodingKey { case bars, symbol, nextPageToken = "next_page_token" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bars = try c.decodeIfPresent([AlpacaBar].self, forKey: .bars) ?? []
        symbol = try c.decode(String.self, forKey: .symbol)
        nextPageToken = try c.decodeIfPresent(String.self, forKey: .nextPageToken)
    }
}

/// GET /v2/stocks/{symbol}/bars/latest.
public struct AlpacaLatestBar: Decodable, Sendable {
    public var symbol: String
    public var bar: AlpacaBar
}

/// GET /v2/stocks/bars/latest?symbols=A,B.
public struct AlpacaLatestBars: Decodable, Sendable {
    public var bars: [String: AlpacaBar]
}
