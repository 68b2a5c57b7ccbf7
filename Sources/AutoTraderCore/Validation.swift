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

    /// A PIN as system.db may hold it: 4–12 ASCII digits (PINs set before the 6-digit rule were 4–8
    /// and keep working until changed).
    public static func isValidPIN(_ pin: String) -> Bool {
        (4...12).contains(pin.utf8.count) && pin.utf8.allSatisfy { (48...57).contains($0) }
    }

    /// Why a new PIN is refused, or nil when it may be set: 6–12 digits, not one digit repeated, not a run
    /// up or down (123456, 987654) — the first guesses anyone tries.
    public static func newPINProblem(_ pin: String) -> String? {
        let digits = Array(pin.utf8)
        guard (6...12).contains(digits.count), digits.allSatisfy({ (48...57).contains($0) }) else {
            return "the new PIN must be 6 to 12 digits"
        }
        if Set(digits).count == 1 { return "the new PIN must not be one digit repeated" }
        let steps = Set(zip(digits, digits.dropFirst()).map { (Int($1) - Int($0) + 10) % 10 })
        if steps == [1] || steps == [9] { return "the new PIN must not be a run of digits such as 123456" }
        return nil
    }

    /// How strong the PIN in use is, for the doctor and the dashboard.
    public enum PINStrength: String, Sendable {
        /// The PIN every new system.db starts with: anyone who read the README knows it.
        case factory
        /// Set before the 6-digit rule (or otherwise short of it): works, but should be changed.
        case weak
        case strong
    }

    public static func strength(ofPIN pin: String, factory: String) -> PINStrength {
        if pin == factory { return .factory }
        return newPINProblem(pin) == nil ? .strong : .weak
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
