import Foundation

/// The rules for values that come from people, the api or a file, in one place.
public enum Validation {
    /// 1–10 upper-case letters or dots, starting with a letter (NVDA, BRK.B).
    public static func isValidTicker(_ ticker: String) -> Bool {
        let bytes = Array(ticker.utf8)
        guard (1...10).contains(bytes.count), (65...90).contains(bytes[0]) else { return false }
        return bytes.allSatisfy { (65...90).contains($0) || $0 == UInt8(ascii: ".") }
    }

    /// An algorithm's name is its file name in algorithm/: lower-case snake case.
    public static func isValidAlgorithmType(_ type: String) -> Bool {
        let bytes = Array(type.utf8)
        guard (1...64).contains(bytes.count), (97...122).contains(bytes[0]) else { return false }
        return bytes.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == UInt8(ascii: "_") }
    }

    /// 4–8 ASCII digits.
    public static func isValidPIN(_ pin: String) -> Bool {
        (4...8).contains(pin.utf8.count) && pin.utf8.allSatisfy { (48...57).contains($0) }
    }

    public static let maximumCapital = Decimal(1_000_000_000_000)
    public static let maximumPrice = Decimal(1_000_000_000)

    /// More than 0, at most `maximumCapital`, whole cents.
    public static func isValidCapital(_ capital: Decimal) -> Bool {
        capital.isFinite && capital > 0 && capital <= maximumCapital && Money.decimalPlaces(capital) <= 2
    }

    /// More than 0, below `maximumPrice`. Finer than micro-dollars is rounded when stored.
    public static func isValidPrice(_ price: Decimal) -> Bool {
        price.isFinite && price > 0 && price < maximumPrice && Money.rounded(price, scale: Money.priceScale) > 0
    }
}
