/// An optional that a synthesized `Encodable` writes as `null` when it is nil, where Swift would leave the key out.
///
/// The api's and the CLI's JSON keep every key of a row, as the original design's does (`"stopped_at": null`), so
/// a reader can tell "no value" from "no such field". Marking the field once replaces a hand-written
/// `encode(to:)` that listed every key only to say this.
@propertyWrapper
public struct ExplicitNull<Value> {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }
}

extension ExplicitNull: Encodable where Value: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue {
            try container.encode(wrappedValue)
        } else {
            try container.encodeNil()
        }
    }
}

extension ExplicitNull: Equatable where Value: Equatable {}
extension ExplicitNull: Hashable where Value: Hashable {}
extension ExplicitNull: Sendable where Value: Sendable {}
