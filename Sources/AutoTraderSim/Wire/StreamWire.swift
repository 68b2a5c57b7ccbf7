import AutoTraderCore
import Foundation

// The v2 stock stream's server messages. Shapes from ../shared/alpaca-fixtures: stream_welcome.json,
// stream_authenticated.json, stream_errors.json, stream_subscription_ack.json,
// stream_subscribe_unsubscribe_exchange.json, stream_data_examples.json, stream_updated_bar_u.json.

extension SimWire {
    /// One element of a stream frame. Every frame is a JSON array; control messages go one per frame,
    /// bars are batched.
    public enum StreamMessage: Encodable, Sendable, Equatable {
        /// `{"T":"success","msg":"connected"}` / `"authenticated"`.
        case success(String)
        /// `{"T":"error","code":402,"msg":"auth failed"}`.
        case error(code: Int, message: String)
        /// `{"T":"subscription","trades":[…],"quotes":[…],"bars":[…],…}`: the complete current set, one array
        /// of symbols per channel listed.
        case subscription([String: [String]])
        /// `{"T":"b","S":"AAPL","o":…,"h":…,"l":…,"c":…,"v":…,"t":…,"n":…,"vw":…}`: a minute bar.
        case bar(symbol: String, Bar)
        /// `T` `u`: a corrected minute bar, replacing the one with the same `t`.
        case updatedBar(symbol: String, Bar)
        /// `T` `d`: today's daily bar so far (stamped at New York midnight), sent after each regular minute's bar;
        /// the one sent after the session's last minute is the day's bar.
        case dailyBar(symbol: String, Bar)

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: SimWireKey.self)
            switch self {
            case .success(let message):
                try c.encode("success", forKey: SimWireKey("T"))
                try c.encode(message, forKey: SimWireKey("msg"))
            case .error(let code, let message):
                try c.encode("error", forKey: SimWireKey("T"))
                try c.encode(code, forKey: SimWireKey("code"))
                try c.encode(message, forKey: SimWireKey("msg"))
            case .subscription(let channels):
                try c.encode("subscription", forKey: SimWireKey("T"))
                for (channel, symbols) in channels where channel != "T" {
                    try c.encode(symbols, forKey: SimWireKey(channel))
                }
            case .bar(let symbol, let bar), .updatedBar(let symbol, let bar), .dailyBar(let symbol, let bar):
                try c.encode(barType, forKey: SimWireKey("T"))
                try c.encode(symbol, forKey: SimWireKey("S"))
                // The bar's own keys beside T and S, in the same object (as Alpaca flattens them).
                try bar.encode(to: encoder)
            }
        }

        private var barType: String {
            switch self {
            case .updatedBar: "u"
            case .dailyBar: "d"
            default: "b"
            }
        }

        /// The same message in msgpack mode: the same keys, `t` as the timestamp extension (type −1).
        var msgpack: MsgPack {
            switch self {
            case .success(let message):
                return .object([("T", .string("success")), ("msg", .string(message))])
            case .error(let code, let message):
                return .object([("T", .string("error")), ("code", .int(Int64(code))), ("msg", .string(message))])
            case .subscription(let channels):
                return .object([("T", .string("subscription"))] + channels.keys.sorted().filter { $0 != "T" }.map { channel in
                    (channel, .array((channels[channel] ?? []).map(MsgPack.string)))
                })
            case .bar(let symbol, let bar), .updatedBar(let symbol, let bar), .dailyBar(let symbol, let bar):
                return .object([
                    ("T", .string(barType)), ("S", .string(symbol)), ("o", .double(bar.open)), ("h", .double(bar.high)),
                    ("l", .double(bar.low)), ("c", .double(bar.close)), ("v", .int(bar.volume)),
                    ("t", .timestamp(seconds: bar.start.secondsSinceEpoch, nanoseconds: 0)), ("n", .int(bar.tradeCount)), ("vw", .double(bar.vwap)),
                ])
            }
        }

        /// Messages as one msgpack frame: an array of maps.
        static func msgpackFrame(_ messages: [StreamMessage]) -> [UInt8] {
            MsgPack.array(messages.map(\.msgpack)).bytes
        }

        /// Messages as the text of one frame: a JSON array.
        static func frame(_ messages: [StreamMessage]) -> String {
            // Encoding plain strings, numbers and arrays cannot fail.
            String(decoding: (try? SimWire.data(messages)) ?? Data("[]".utf8), as: UTF8.self)
        }
    }
}
