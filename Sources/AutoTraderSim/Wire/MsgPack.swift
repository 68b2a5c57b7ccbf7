import AutoTraderCore
import Foundation

/// A small MessagePack codec for the streams (https://github.com/msgpack/msgpack/blob/master/spec.md):
/// what Alpaca's msgpack mode needs — nil, bools, integers, float64, strings, binary, arrays, maps and the
/// timestamp extension (type −1). Maps keep their key order. Written for the simulator alone (nothing is
/// shared with the client under test).
public enum MsgPack: Equatable, Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case binary([UInt8])
    case array([MsgPack])
    /// Key/value pairs in order.
    case map([Pair])
    /// The timestamp extension (type −1): whole seconds since the epoch and the nanoseconds beyond them.
    case timestamp(seconds: Int64, nanoseconds: UInt32)
    /// Any other extension type.
    case ext(type: Int8, data: [UInt8])

    public struct Pair: Equatable, Sendable {
        public var key: MsgPack
        public var value: MsgPack
        public init(_ key: MsgPack, _ value: MsgPack) {
            self.key = key
            self.value = value
        }
    }

    /// A map with string keys, in the order given.
    public static func object(_ pairs: [(String, MsgPack)]) -> MsgPack {
        .map(pairs.map { Pair(.string($0.0), $0.1) })
    }

    /// An RFC 3339 time as the timestamp extension (nil when it isn't one).
    static func timestamp(rfc3339 text: String) -> MsgPack? {
        guard let (seconds, nanoseconds) = RFC3339Parts.parse(text) else { return nil }
        return .timestamp(seconds: seconds, nanoseconds: UInt32(nanoseconds))
    }

    // MARK: - Encoding

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        write(to: &out)
        return out
    }

    public func write(to out: inout [UInt8]) {
        switch self {
        case .nil: out.append(0xC0)
        case .bool(let value): out.append(value ? 0xC3 : 0xC2)
        case .int(let value):
            if value >= 0 { Self.writeUnsigned(UInt64(value), to: &out) } else { Self.writeNegative(value, to: &out) }
        case .uint(let value): Self.writeUnsigned(value, to: &out)
        case .double(let value):
            out.append(0xCB)
            Self.append(value.bitPattern, bytes: 8, to: &out)
        case .string(let value):
            let utf8 = Array(value.utf8)
            switch utf8.count {
            case 0..<32: out.append(0xA0 | UInt8(utf8.count))
            case 32..<256: out += [0xD9, UInt8(utf8.count)]
            case 256..<65_536: out.append(0xDA); Self.append(UInt64(utf8.count), bytes: 2, to: &out)
            default: out.append(0xDB); Self.append(UInt64(utf8.count), bytes: 4, to: &out)
            }
            out += utf8
        case .binary(let data):
            switch data.count {
            case 0..<256: out += [0xC4, UInt8(data.count)]
            case 256..<65_536: out.append(0xC5); Self.append(UInt64(data.count), bytes: 2, to: &out)
            default: out.append(0xC6); Self.append(UInt64(data.count), bytes: 4, to: &out)
            }
            out += data
        case .array(let items):
            Self.writeHeader(count: items.count, fix: 0x90, sixteen: 0xDC, thirtyTwo: 0xDD, to: &out)
            for item in items { item.write(to: &out) }
        case .map(let pairs):
            Self.writeHeader(count: pairs.count, fix: 0x80, sixteen: 0xDE, thirtyTwo: 0xDF, to: &out)
            for pair in pairs {
                pair.key.write(to: &out)
                pair.value.write(to: &out)
            }
        case .timestamp(let seconds, let nanoseconds):
            if nanoseconds == 0, seconds >= 0, seconds <= Int64(UInt32.max) {
                out += [0xD6, 0xFF] // fixext 4: seconds as uint32
                Self.append(UInt64(seconds), bytes: 4, to: &out)
            } else if seconds >= 0, seconds < (1 << 34) {
                out += [0xD7, 0xFF] // fixext 8: nanoseconds in the top 30 bits, seconds in the low 34
                Self.append(UInt64(nanoseconds) << 34 | UInt64(seconds), bytes: 8, to: &out)
            } else {
                out += [0xC7, 12, 0xFF] // ext 8, 12 bytes: uint32 nanoseconds, int64 seconds
                Self.append(UInt64(nanoseconds), bytes: 4, to: &out)
                Self.append(UInt64(bitPattern: seconds), bytes: 8, to: &out)
            }
        case .ext(let type, let data):
            switch data.count {
            case 1: out.append(0xD4)
            case 2: out.append(0xD5)
            case 4: out.append(0xD6)
            case 8: out.append(0xD7)
            case 16: out.append(0xD8)
            case 0..<256: out += [0xC7, UInt8(data.count)]
            case 256..<65_536: out.append(0xC8); Self.append(UInt64(data.count), bytes: 2, to: &out)
            default: out.append(0xC9); Self.append(UInt64(data.count), bytes: 4, to: &out)
            }
            out.append(UInt8(bitPattern: type))
            out += data
        }
    }

    private static func writeHeader(count: Int, fix: UInt8, sixteen: UInt8, thirtyTwo: UInt8, to out: inout [UInt8]) {
        if count < 16 { out.append(fix | UInt8(count)) }
        else if count < 65_536 { out.append(sixteen); append(UInt64(count), bytes: 2, to: &out) }
        else { out.append(thirtyTwo); append(UInt64(count), bytes: 4, to: &out) }
    }

    private static func writeUnsigned(_ value: UInt64, to out: inout [UInt8]) {
        switch value {
        case 0..<128: out.append(UInt8(value))
        case 128..<256: out += [0xCC, UInt8(value)]
        case 256..<65_536: out.append(0xCD); append(value, bytes: 2, to: &out)
        case 65_536..<(1 << 32): out.append(0xCE); append(value, bytes: 4, to: &out)
        default: out.append(0xCF); append(value, bytes: 8, to: &out)
        }
    }

    private static func writeNegative(_ value: Int64, to out: inout [UInt8]) {
        switch value {
        case -32 ..< 0: out.append(UInt8(bitPattern: Int8(value)))
        case -128 ..< -32: out += [0xD0, UInt8(bitPattern: Int8(value))]
        case -32_768 ..< -128: out.append(0xD1); append(UInt64(bitPattern: value), bytes: 2, to: &out)
        case -2_147_483_648 ..< -32_768: out.append(0xD2); append(UInt64(bitPattern: value), bytes: 4, to: &out)
        default: out.append(0xD3); append(UInt64(bitPattern: value), bytes: 8, to: &out)
        }
    }

    /// The low `bytes` bytes of `value`, big-endian.
    private static func append(_ value: UInt64, bytes: Int, to out: inout [UInt8]) {
        for index in stride(from: bytes - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }

    // MARK: - Decoding

    public struct DecodingError: Error, CustomStringConvertible {
        public let description: String
    }

    /// One value from the start of `bytes`; the rest must be empty.
    public static func decode(_ bytes: [UInt8]) throws -> MsgPack {
        var reader = Reader(bytes: bytes)
        let value = try reader.value(depth: 0)
        guard reader.offset == bytes.count else { throw DecodingError(description: "trailing bytes after the value") }
        return value
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, offset + count <= bytes.count else { throw DecodingError(description: "truncated") }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }

        mutating func number(_ count: Int) throws -> UInt64 {
            try take(count).reduce(0) { $0 << 8 | UInt64($1) }
        }

        mutating func value(depth: Int) throws -> MsgPack {
            guard depth < 64 else { throw DecodingError(description: "nested too deep") }
            let head = try number(1)
            switch head {
            case 0x00...0x7F: return .int(Int64(head))
            case 0x80...0x8F: return try map(Int(head & 0x0F), depth)
            case 0x90...0x9F: return try array(Int(head & 0x0F), depth)
            case 0xA0...0xBF: return try string(Int(head & 0x1F))
            case 0xC0: return .nil
            case 0xC2: return .bool(false)
            case 0xC3: return .bool(true)
            case 0xC4: return .binary(Array(try take(Int(try number(1)))))
            case 0xC5: return .binary(Array(try take(Int(try number(2)))))
            case 0xC6: return .binary(Array(try take(Int(try number(4)))))
            case 0xC7: return try ext(Int(try number(1)))
            case 0xC8: return try ext(Int(try number(2)))
            case 0xC9: return try ext(Int(try number(4)))
            case 0xCA: return .double(Double(Float(bitPattern: UInt32(try number(4)))))
            case 0xCB: return .double(Double(bitPattern: try number(8)))
            case 0xCC: return .int(Int64(try number(1)))
            case 0xCD: return .int(Int64(try number(2)))
            case 0xCE: return .int(Int64(try number(4)))
            case 0xCF:
                let value = try number(8)
                return value <= UInt64(Int64.max) ? .int(Int64(value)) : .uint(value)
            case 0xD0: return .int(Int64(Int8(truncatingIfNeeded: try number(1))))
            case 0xD1: return .int(Int64(Int16(truncatingIfNeeded: try number(2))))
            case 0xD2: return .int(Int64(Int32(truncatingIfNeeded: try number(4))))
            case 0xD3: return .int(Int64(bitPattern: try number(8)))
            case 0xD4: return try ext(1)
            case 0xD5: return try ext(2)
            case 0xD6: return try ext(4)
            case 0xD7: return try ext(8)
            case 0xD8: return try ext(16)
            case 0xD9: return try string(Int(try number(1)))
            case 0xDA: return try string(Int(try number(2)))
            case 0xDB: return try string(Int(try number(4)))
            case 0xDC: return try array(Int(try number(2)), depth)
            case 0xDD: return try array(Int(try number(4)), depth)
            case 0xDE: return try map(Int(try number(2)), depth)
            case 0xDF: return try map(Int(try number(4)), depth)
            case 0xE0...0xFF: return .int(Int64(Int8(bitPattern: UInt8(head))))
            default: throw DecodingError(description: "unused type byte 0xC1")
            }
        }

        mutating func string(_ count: Int) throws -> MsgPack {
            guard let text = String(validating: try take(count), as: UTF8.self) else {
                throw DecodingError(description: "string is not UTF-8")
            }
            return .string(text)
        }

        mutating func array(_ count: Int, _ depth: Int) throws -> MsgPack {
            guard count <= bytes.count - offset else { throw DecodingError(description: "truncated") }
            var items: [MsgPack] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try value(depth: depth + 1)) }
            return .array(items)
        }

        mutating func map(_ count: Int, _ depth: Int) throws -> MsgPack {
            guard count <= bytes.count - offset else { throw DecodingError(description: "truncated") }
            var pairs: [Pair] = []
            pairs.reserveCapacity(count)
            for _ in 0..<count {
                let key = try value(depth: depth + 1)
                pairs.append(Pair(key, try value(depth: depth + 1)))
            }
            return .map(pairs)
        }

        mutating func ext(_ count: Int) throws -> MsgPack {
            let type = Int8(bitPattern: UInt8(try number(1)))
            let data = Array(try take(count))
            guard type == -1 else { return .ext(type: type, data: data) }
            var inner = Reader(bytes: data)
            switch count {
            case 4: return .timestamp(seconds: Int64(try inner.number(4)), nanoseconds: 0)
            case 8:
                let packed = try inner.number(8)
                return .timestamp(seconds: Int64(packed & ((1 << 34) - 1)), nanoseconds: UInt32(packed >> 34))
            case 12:
                let nanoseconds = UInt32(try inner.number(4))
                return .timestamp(seconds: Int64(bitPattern: try inner.number(8)), nanoseconds: nanoseconds)
            default: throw DecodingError(description: "timestamp extension of \(count) bytes")
            }
        }
    }

    // MARK: - Conversions

    /// As JSONSerialization would give it (maps with string keys → [String: Any], timestamps → RFC 3339 text),
    /// so client messages in either codec are read by the same code.
    public var jsonObject: Any {
        switch self {
        case .nil: return NSNull()
        case .bool(let value): return value
        case .int(let value): return Int(value)
        case .uint(let value): return value
        case .double(let value): return value
        case .string(let value): return value
        case .binary(let data): return data
        case .array(let items): return items.map(\.jsonObject)
        case .map(let pairs):
            var object: [String: Any] = [:]
            for pair in pairs {
                guard case .string(let key) = pair.key else { continue }
                object[key] = pair.value.jsonObject
            }
            return object
        case .timestamp(let seconds, let nanoseconds):
            return RFC3339Parts.format(seconds: seconds, nanoseconds: Int(nanoseconds))
        case .ext(_, let data): return data
        }
    }

    /// A JSONSerialization value as msgpack (numbers that are whole stay integers, booleans stay booleans).
    public static func from(jsonObject value: Any) -> MsgPack {
        switch value {
        case is NSNull: return .nil
        case let text as String: return .string(text)
        case let object as [String: Any]:
            return .map(object.keys.sorted().map { Pair(.string($0), from(jsonObject: object[$0]!)) })
        case let items as [Any]: return .array(items.map(from(jsonObject:)))
        case let number as NSNumber:
            // JSONSerialization's booleans are NSNumbers of type "c", its fractions of type "d" or "f".
            switch String(cString: number.objCType) {
            case "c", "B": return .bool(number.boolValue)
            case "d", "f": return .double(number.doubleValue)
            default: return .int(number.int64Value)
            }
        case let flag as Bool: return .bool(flag)
        case let integer as Int: return .int(Int64(integer))
        case let double as Double: return .double(double)
        default: return .nil
        }
    }
}

/// RFC 3339 ↔ (seconds, nanoseconds), for the timestamp extension.
enum RFC3339Parts {
    static func parse(_ text: String) -> (Int64, Int)? { RFC3339.parseParts(text) }

    static func format(seconds: Int64, nanoseconds: Int) -> String {
        let whole = Timestamp(secondsSinceEpoch: seconds).text // "YYYY-MM-DDTHH:MM:SSZ"
        guard nanoseconds > 0 else { return whole }
        var fraction = String(format: "%09d", nanoseconds)
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return whole.dropLast() + "." + fraction + "Z"
    }
}
