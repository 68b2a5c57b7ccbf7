import Foundation
import GRDB

/// Whether an algorithm still trades. Stopped is final: a stopped algorithm never restarts.
public enum AlgorithmStatus: String, Codable, Sendable, CaseIterable {
    case running, stopped
}

/// A row of `algorithm_instances`: one algorithm trading one ticker with its own allocation.
public struct AlgorithmInstance: Hashable, Sendable {
    public let id: Int64
    public let displayName: String
    public let algorithmType: String
    public let ticker: String
    @RoundedToCents public private(set) var initialCapital: Decimal
    public let status: AlgorithmStatus
    public let createdAt: Timestamp
    /// Written as null while running, as the original design's rows have it.
    @ExplicitNull public private(set) var stoppedAt: Timestamp?

    init(row: Row) {
        id = row["id"]
        displayName = row["display_name"]
        algorithmType = row["algorithm_type"]
        ticker = row["ticker"]
        initialCapital = Money.decimal(fromStored: row["initial_capital"])
        status = AlgorithmStatus(rawValue: row["status"]) ?? .stopped
        createdAt = row.time("created_at")
        stoppedAt = row.optionalTime("stopped_at")
    }

    /// `TICKER_algotype_YYYYMMDD_HHMMSS`, from the creation time in UTC.
    public static func displayName(ticker: String, algorithmType: String, createdAt: Timestamp) -> String {
        let text = createdAt.text // YYYY-MM-DDTHH:MM:SSZ
        let digits = text.filter(\.isNumber)
        let date = digits.prefix(8)
        let time = digits.dropFirst(8).prefix(6)
        return "\(ticker)_\(algorithmType)_\(date)_\(time)"
    }
}

/// Buy or sell, as the `transactions.type` column spells it.
public enum TradeSide: String, Codable, Sendable, CaseIterable {
    case buy, sell
}

/// A row of `transactions`: immutable history, never updated or deleted.
public struct Trade: Hashable, Sendable {
    public let id: Int64
    public let algorithmId: Int64
    public let side: TradeSide
    public let shares: Int
    public let price: Decimal
    public let timestamp: Timestamp

    init(row: Row) {
        id = row["id"]
        algorithmId = row["algorithm_id"]
        side = TradeSide(rawValue: row["type"]) ?? .buy
        shares = row["shares"]
        price = Money.decimal(fromStored: row["price"])
        timestamp = row.time("timestamp")
    }

    public init(id: Int64, algorithmId: Int64, side: TradeSide, shares: Int, price: Decimal, timestamp: Timestamp) {
        self.id = id
        self.algorithmId = algorithmId
        self.side = side
        self.shares = shares
        self.price = price
        self.timestamp = timestamp
    }
}

extension AlgorithmInstance: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, displayName = "display_name", algorithmType = "algorithm_type", ticker
        case initialCapital = "initial_capital", status, createdAt = "created_at", stoppedAt = "stopped_at"
    }
}

extension Trade: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, algorithmId = "algorithm_id", side = "type", shares, price, timestamp
    }
}
