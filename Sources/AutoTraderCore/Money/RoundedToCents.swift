import Foundation

/// An amount kept exact in memory that `Encodable` writes rounded to cents: money leaves the program in cents
/// (the api's and the CLI's JSON), while sums and valuations use the exact stored value.
@propertyWrapper
public struct RoundedToCents: Hashable, Sendable, Encodable {
    public var wrappedValue: Decimal

    public init(wrappedValue: Decimal) {
        self.wrappedValue = wrappedValue
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Money.rounded(wrappedValue))
    }
}
