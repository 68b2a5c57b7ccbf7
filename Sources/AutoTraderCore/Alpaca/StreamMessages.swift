import Foundation

/// One element of a frame from Alpaca's stock stream. Every frame is a JSON array;
/// control messages come one per frame, data may be batched and mixed.
public enum StreamMessage: Sendable, Equatable {
    case success(String)
    case error(code: Int, message: String)
    case subscription(StreamSubscription)
    /// `b`: a minute bar, pushed right after its minute ends.
    case bar(symbol: String, AlpacaBar)
    /// `u`: a corrected minute bar that replaces the earlier one with the same time.
    case updatedBar(symbol: String, AlpacaBar)
    /// `d`: today's daily bar so far.
    case dailyBar(symbol: String, AlpacaBar)
    /// Any other type (trades, quotes, statuses …): AutoTrader subscribes to none, but must not choke on them.
    case other(type: String)

    /// Decodes one frame's text into its messages.
    public static func decodeFrame(_ data: Data) throws -> [StreamMessage] {
        try JSONDecoder().decode([Element].self, from: data).map(\.message)
    }

    struct Element: Decodable {
        let message: StreamMessage

        enum CodingKeys: String, CodingKey { case T, msg, code, S }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let type = try c.decode(String.self, forKey: .T)
            switch type {
            case "success":
                message = .success(try c.decode(String.self, forKey: .msg))
            case "error":
                message = .error(code: try c.decode(Int.self, forKey: .code), message: try c.decodeIfPresent(String.self, forKey: .msg) ?? "")
            case "subscription":
                message = .subscription(try StreamSubscription(from: decoder))
            case "b", "u", "d":
                let symbol = try c.decode(String.self, forKey: .S)
                let bar = try AlpacaBar(from: decoder)
                message = type == "b" ? .bar(symbol: symbol, bar) : type == "u" ? .updatedBar(symbol: symbol, bar) : .dailyBar(symbol: symbol, bar)
            default:
                message = .other(type: type)
            }
        }
    }
}

/// The full set of symbols per channel the server says this connection is subscribed to.
public struct StreamSubscription: Decodable, Sendable, Equatable {
    public var trades: [String] = []
    public var quotes: [String] = []
    public var bars: [String] = []
    public var updatedBars: [String] = []
    public var dailyBars: [String] = []
    public var statuses: [String] = []

    enum CodingKeys: String, CodingKey { case trades, quotes, bars, updatedBars, dailyBars, statuses }
}

extension StreamSubscription {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        trades = try c.decodeIfPresent([String].self, forKey: .trades) ?? []
        quotes = try c.decodeIfPresent([String].self, forKey: .quotes) ?? []
        bars = try c.decodeIfPresent([String].self, forKey: .bars) ?? []
        updatedBars = try c.decodeIfPresent([String].self, forKey: .updatedBars) ?? []
        dailyBars = try c.decodeIfPresent([String].self, forKey: .dailyBars) ?? []
        statuses = try c.decodeIfPresent([String].self, forKey: .statuses) ?? []
    }
}

/// A message from client to stream: auth, subscribe, unsubscribe.
public struct StreamClientMessage: Codable, Sendable, Equatable {
    public var action: String
    public var key: String?
    public var secret: String?
    public var trades: [String]?
    public var quotes: [String]?
    public var bars: [String]?
    public var updatedBars: [String]?
    public var dailyBars: [String]?
    public var statuses: [String]?

    public static func auth(key: String, secret: String) -> StreamClientMessage {
        StreamClientMessage(action: "auth", key: key, secret: secret)
    }

    public static func subscribe(bars: [String], updatedBars: [String]) -> StreamClientMessage {
        StreamClientMessage(action: "subscribe", bars: bars, updatedBars: updatedBars)
    }

    public static func unsubscribe(bars: [String], updatedBars: [String]) -> StreamClientMessage {
        StreamClientMessage(action: "unsubscribe", bars: bars, updatedBars: updatedBars)
    }
}
