import Foundation

/// One minute of one ticker's trading, as the feed reports it.
///
/// Bar prices are measurements, not accounted money, so they are `Double`
/// (as stored); money that is summed (transactions, capital) is `Decimal`.
public struct MinuteBar: Hashable, Sendable, Codable {
    public let ticker: String
    /// The start of the minute, UTC.
    public let timestamp: Timestamp
    public let open: Double
    public let high: Double
    public let low: Double
    public let close: Double
    public let volume: Int64
    public let tradeCount: Int64?
    public let vwap: Double?

    public init(
        ticker: String, timestamp: Timestamp, open: Double, high: Double, low: Double, close: Double,
        volume: Int64, tradeCount: Int64? = nil, vwap: Double? = nil
    ) {
        self.ticker = ticker
        self.timestamp = timestamp
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.tradeCount = tradeCount
        self.vwap = vwap
    }

    /// Why this bar can't be stored, or nil when it is sound.
    public var problem: String? {
        guard Validation.isValidTicker(ticker) else { return "invalid ticker \(ticker.debugDescription)" }
        guard timestamp.isWholeMinute else { return "time \(timestamp) is not the start of a minute" }
        for (name, value) in [("open", open), ("high", high), ("low", low), ("close", close)] {
            guard value.isFinite, value > 0 else { return "\(name) must be a positive number" }
        }
        guard low <= min(open, close), high >= max(open, close), low <= high else {
            return "prices are inconsistent: low \(low) and high \(high) must enclose open \(open) and close \(close)"
        }
        guard volume >= 0 else { return "volume must not be negative" }
        if let tradeCount, tradeCount < 0 { return "trade count must not be negative" }
        if let vwap, !(vwap.isFinite && vwap > 0) { return "vwap must be a positive number" }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case ticker, timestamp, open, high, low, close, volume, tradeCount = "trade_count", vwap
    }
}

/// The latest close of a ticker and the minute it belongs to.
public struct LatestPrice: Hashable, Sendable {
    public let close: Decimal
    public let timestamp: Timestamp
}
