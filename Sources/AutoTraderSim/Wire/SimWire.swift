import AutoTraderCore
import Foundation

/// Everything the simulator answers, as its own `Encodable` types written from Alpaca's documented payloads
/// (the real ones in `../shared/alpaca-fixtures`): Alpaca's exact key names, money and quantities as JSON
/// strings, times as RFC 3339 text the way Alpaca writes each of them, and `null` where Alpaca sends null.
///
/// The client's models (`AlpacaOrder`, `AlpacaAccount`, …) only decode; nothing here is shared with them, so
/// a misspelt key can no longer be wrong on both sides at once (a loopback test could not see that).
/// `SimulatorWireContractTests` compares every kind of answer with the real payloads.
public enum SimWire {
    /// Money and quantities: a plain decimal string (`"4000.32"`, `"-23140.2"`, `"0"`).
    static func decimal(_ value: Decimal) -> String { value.plainString }

    /// Order and account times: microseconds in UTC (`2021-04-21T13:43:12.476511Z`).
    static func time(_ date: Date) -> String { RFC3339.format(date) }

    static func time(_ date: Date?) -> String? { date.map(time) }

    /// New York's offset from UTC at an instant, in seconds (`-14400` in summer).
    static func newYorkOffset(_ date: Date) -> Int {
        TimeZone(identifier: "America/New_York")?.secondsFromGMT(for: date) ?? 0
    }

    /// The clock's `timestamp`: New York local time with a fraction and its offset
    /// (`2022-04-28T14:07:04.451420-04:00`; Alpaca writes nanoseconds, microseconds are as good).
    static func newYorkTime(_ date: Date) -> String { RFC3339.format(date, offsetSeconds: newYorkOffset(date)) }

    /// The clock's `next_open` / `next_close`: whole seconds, New York local time and offset, no fraction
    /// (`2022-04-29T09:30:00-04:00`).
    static func newYorkWholeSeconds(_ date: Date) -> String {
        let offset = newYorkOffset(date)
        let local = Timestamp(secondsSinceEpoch: Int64(date.timeIntervalSince1970.rounded(.down)) + Int64(offset))
        let sign = offset < 0 ? "-" : "+"
        let magnitude = abs(offset)
        return local.text.dropLast() + sign + String(format: "%02d:%02d", magnitude / 3600, magnitude / 60 % 60)
    }

    /// The encoder for every answer: keys sorted (deterministic output), slashes not escaped.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func data<T: Encodable>(_ value: T) throws -> Data { try encoder().encode(value) }
}

/// A key chosen at run time (symbols in a bars map, extra error fields, stream channels), or written as a
/// literal beside its value where an answer is encoded by hand (`SimWire.Order`).
struct SimWireKey: CodingKey, ExpressibleByStringLiteral {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init(stringLiteral value: String) { stringValue = value }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedEncodingContainer {
    /// Writes the value, or an explicit `null` (Swift's synthesized encoding would leave the key out,
    /// and Alpaca sends these keys with null).
    mutating func encodeOrNull<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}

// MARK: - Errors

extension SimWire {
    /// Alpaca's error body: `{"code": 40410000, "message": "order not found"}`, plus the string fields some
    /// 403s carry beside them (`available`, `existing_qty`, `held_for_orders`, `symbol` on insufficient qty).
    public struct Error: Encodable, Sendable, Equatable {
        public var code: Int
        public var message: String
        public var extra: [String: String]

        public init(code: Int, message: String, extra: [String: String] = [:]) {
            self.code = code
            self.message = message
            self.extra = extra
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: SimWireKey.self)
            for (key, value) in extra where key != "code" && key != "message" {
                try container.encode(value, forKey: SimWireKey(key))
            }
            try container.encode(code, forKey: SimWireKey("code"))
            try container.encode(message, forKey: SimWireKey("message"))
        }
    }
}
