import Foundation

/// One message of Alpaca's trading stream (`/stream` at the trading URL) as a client reads it.
///
/// Unlike the market-data stream these are single objects, not arrays, keyed by `stream`:
/// `{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}`,
/// `{"stream":"listening","data":{"streams":["trade_updates"]}}` and
/// `{"stream":"trade_updates","data":{"event":"fill","order":{…},"price":…,"qty":…,…}}`.
/// Paper sends them in binary frames with JSON inside; the decoder takes the bytes of either kind of frame.
public enum TradeStreamMessage: Sendable {
    case authorization(authorized: Bool, action: String)
    case listening(streams: [String])
    case tradeUpdate(AlpacaTradeUpdate)
    /// A stream this client doesn't know (kept so a new one is ignored, not treated as an error).
    case other(stream: String)

    /// Decodes one frame's bytes. Throws `TradeStreamFrameError` for anything that is not a message above.
    public static func decode(_ data: Data) throws -> TradeStreamMessage {
        do {
            return try JSONDecoder.alpaca.decode(Envelope.self, from: data).message
        } catch let error as TradeStreamFrameError {
            throw error
        } catch {
            throw TradeStreamFrameError(reason: Self.describe(error), bytes: data.count)
        }
    }

    private struct Envelope: Decodable {
        let message: TradeStreamMessage

        enum CodingKeys: String, CodingKey { case stream, data }
        struct Authorization: Decodable { let status: String; let action: String? }
        struct Listening: Decodable { let streams: [String]? }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let stream = try c.decode(String.self, forKey: .stream)
            switch stream {
            case "authorization":
                let body = try c.decode(Authorization.self, forKey: .data)
                message = .authorization(authorized: body.status == "authorized", action: body.action ?? "")
            case "listening":
                message = .listening(streams: try c.decode(Listening.self, forKey: .data).streams ?? [])
            case "trade_updates":
                message = .tradeUpdate(try c.decode(AlpacaTradeUpdate.self, forKey: .data))
            default:
                message = .other(stream: stream)
            }
        }
    }

    /// A decoding error in a line: the field path and what was wrong, never the payload (it may carry account data).
    static func describe(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: return "missing \(path(context).isEmpty ? "" : path(context) + ".")\(key.stringValue)"
        case .valueNotFound(_, let context)?: return "no value at \(path(context)): \(context.debugDescription)"
        case .typeMismatch(_, let context)?: return "wrong type at \(path(context)): \(context.debugDescription)"
        case .dataCorrupted(let context)?:
            return context.codingPath.isEmpty ? "not JSON" : "bad value at \(path(context)): \(context.debugDescription)"
        default: return "\(error)"
        }
    }
}

/// A trading-stream frame that could not be read: what was wrong, and its size.
public struct TradeStreamFrameError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public let bytes: Int

    public var description: String { "unreadable trade-updates frame (\(bytes) bytes): \(reason)" }
}

/// What the client sends on the trading stream: `authenticate` (the docs' and alpaca-py's form), then `listen`.
/// Written here, independently of the simulator's reader.
enum TradeStreamRequest {
    static func authenticate(keyID: String, secretKey: String) throws -> String {
        try text(["action": "authenticate", "data": ["key_id": keyID, "secret_key": secretKey]])
    }

    static func listen(_ streams: [String]) throws -> String {
        try text(["action": "listen", "data": ["streams": streams]])
    }

    private static func text(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}

extension AlpacaConfiguration {
    /// The trading stream: the trading URL with a WebSocket scheme and the path `/stream`
    /// (`wss://paper-api.alpaca.markets/stream`, `ws://127.0.0.1:8765/stream` for the simulator).
    public var tradeUpdatesURL: URL {
        var components = URLComponents(url: tradingURL, resolvingAgainstBaseURL: false) ?? URLComponents()
        components.scheme = components.scheme == "http" || components.scheme == "ws" ? "ws" : "wss"
        let base = components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path
        components.path = base + "/stream"
        components.query = nil
        return components.url ?? tradingURL
    }
}
