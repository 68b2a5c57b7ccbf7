import Foundation

/// Alpaca writes money and quantities as JSON strings ("4000.32"), sometimes as
/// numbers; these helpers read either into an exact `Decimal` and write strings back.
extension KeyedDecodingContainer {
    func decodeDecimal(_ key: Key) throws -> Decimal {
        guard let value = try decodeDecimalIfPresent(key) else {
            throw DecodingError.valueNotFound(Decimal.self, .init(codingPath: codingPath + [key], debugDescription: "missing decimal"))
        }
        return value
    }

    func decodeDecimalIfPresent(_ key: Key) throws -> Decimal? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let text = try? decode(String.self, forKey: key) {
            guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), !text.isEmpty else {
                throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not a decimal: \(text)")
            }
            return value
        }
        return try decode(Decimal.self, forKey: key)
    }

    /// A decimal field that mocks sometimes fill with placeholder text: nil rather than a failure.
    func decodeLenientDecimal(_ key: Key) -> Decimal? {
        (try? decodeDecimalIfPresent(key)) ?? nil
    }

    func decodeDateIfPresent(_ key: Key) throws -> Date? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        let text = try decode(String.self, forKey: key)
        guard let date = RFC3339.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not an RFC 3339 time: \(text)")
        }
        return date
    }

    func decodeDate(_ key: Key) throws -> Date {
        guard let date = try decodeDateIfPresent(key) else {
            throw DecodingError.valueNotFound(Date.self, .init(codingPath: codingPath + [key], debugDescription: "missing time"))
        }
        return date
    }
}

extension JSONDecoder {
    /// A decoder for Alpaca payloads (every model reads its own snake_case keys and times).
    static var alpaca: JSONDecoder { JSONDecoder() }
}

extension JSONEncoder {
    static var alpaca: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }
}
