import AutoTraderCore
import Foundation
import Hummingbird

/// Reads a request's query string the way Alpaca's endpoints read theirs.
struct QueryValues {
    private let values: [String: String]

    init(_ request: Request) {
        var values: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            values[String(key)] = String(value)
        }
        self.values = values
    }

    /// The value, or nil when absent or empty.
    subscript(_ name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    /// A comma-separated list, trimmed, without empties or repeats, in the order given.
    func list(_ name: String) -> [String]? {
        guard let text = self[name] else { return nil }
        var seen = Set<String>(), result: [String] = []
        for part in text.split(separator: ",") {
            let item = part.trimmingCharacters(in: .whitespaces)
            if !item.isEmpty, seen.insert(item).inserted { result.append(item) }
        }
        return result
    }

    /// RFC 3339 (any fraction, `Z` or an offset) or a plain `YYYY-MM-DD` (midnight UTC); nil when absent.
    /// Throws `invalid` when present but unreadable.
    func time(_ name: String, invalid: AlpacaAPIError) throws -> Date? {
        guard let raw = self[name] else { return nil }
        // A '+' offset sent unencoded arrives as a space.
        let text = raw.replacingOccurrences(of: " ", with: "+")
        if let date = RFC3339.parse(text) { return date }
        if let day = CivilDate(text) { return day.utcMidnight.date }
        throw invalid
    }
}
