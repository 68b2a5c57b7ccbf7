import Foundation
import Testing
@testable import AutoTraderSim

/// The simulator's msgpack codec against byte sequences written out from the msgpack spec
/// (github.com/msgpack/msgpack/blob/master/spec.md), and round trips across every size class.
@Suite struct SimMsgPackTests {
    @Test func encodesTheSpecsFormats() {
        #expect(MsgPack.nil.bytes == [0xC0])
        #expect(MsgPack.bool(true).bytes == [0xC3])
        #expect(MsgPack.int(5).bytes == [0x05])
        #expect(MsgPack.int(-1).bytes == [0xFF])
        #expect(MsgPack.int(-33).bytes == [0xD0, 0xDF])
        #expect(MsgPack.int(200).bytes == [0xCC, 0xC8])
        #expect(MsgPack.int(70_000).bytes == [0xCE, 0x00, 0x01, 0x11, 0x70])
        #expect(MsgPack.double(1.5).bytes == [0xCB, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0])
        #expect(MsgPack.string("T").bytes == [0xA1, 0x54])
        #expect(MsgPack.array([.int(1), .int(2)]).bytes == [0x92, 0x01, 0x02])
        #expect(MsgPack.object([("T", .string("b"))]).bytes == [0x81, 0xA1, 0x54, 0xA1, 0x62])
        // Timestamps: 32-bit seconds, 64-bit nanoseconds + 34-bit seconds, 96-bit for negative seconds.
        #expect(MsgPack.timestamp(seconds: 1, nanoseconds: 0).bytes == [0xD6, 0xFF, 0, 0, 0, 1])
        #expect(MsgPack.timestamp(seconds: 1, nanoseconds: 1).bytes == [0xD7, 0xFF, 0, 0, 0, 0x04, 0, 0, 0, 1])
        #expect(MsgPack.timestamp(seconds: -1, nanoseconds: 0).bytes
                == [0xC7, 12, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    }

    @Test func roundTripsEverySizeClass() throws {
        let values: [MsgPack] = [
            .nil, .bool(false), .int(0), .int(127), .int(128), .int(65_535), .int(65_536), .int(Int64.max), .int(-32),
            .int(-129), .int(-32_769), .int(Int64.min), .uint(UInt64.max), .double(-0.25), .string(""),
            .string(String(repeating: "x", count: 31)), .string(String(repeating: "y", count: 200)),
            .string(String(repeating: "z", count: 70_000)), .binary([1, 2, 3]), .array(Array(repeating: .int(1), count: 20)),
            .map((0..<17).map { MsgPack.Pair(.string("k\($0)"), .int(Int64($0))) }),
            .timestamp(seconds: 1_717_507_800, nanoseconds: 0), .timestamp(seconds: 1_717_507_800, nanoseconds: 123_456_789),
            .timestamp(seconds: 1 << 40, nanoseconds: 5), .ext(type: 5, data: [9, 9]),
        ]
        for value in values {
            #expect(try MsgPack.decode(value.bytes) == value, "\(value)")
        }
        #expect(throws: MsgPack.DecodingError.self) { try MsgPack.decode([0x92, 0x01]) }
        #expect(throws: MsgPack.DecodingError.self) { try MsgPack.decode([0x01, 0x02]) }
    }

    @Test func clientMessagesReadTheSameInEitherCodec() throws {
        let packed = MsgPack.object([("action", .string("subscribe")), ("bars", .array([.string("AAPL")]))]).bytes
        let json = Array(#"{"action":"subscribe","bars":["AAPL"]}"#.utf8)
        let fromPacked = try #require(StreamHub.clientObject(packed) as? [String: Any])
        let fromJSON = try #require(StreamHub.clientObject(json) as? [String: Any])
        #expect(fromPacked["action"] as? String == "subscribe" && fromJSON["action"] as? String == "subscribe")
        #expect(fromPacked["bars"] as? [String] == ["AAPL"] && fromJSON["bars"] as? [String] == ["AAPL"])
        #expect(MsgPack.timestamp(seconds: 1_717_507_800, nanoseconds: 0).jsonObject as? String == "2024-06-04T13:30:00Z")
        #expect(MsgPack.timestamp(rfc3339: "2024-06-04T13:30:00.5Z") == .timestamp(seconds: 1_717_507_800, nanoseconds: 500_000_000))
    }

    @Test func barsInMsgPackCarryTheJSONKeysAndATimestamp() throws {
        let json = SimWire.StreamMessage.frame([.success("connected")])
        #expect(json == #"[{"T":"success","msg":"connected"}]"#)
        let frame = try MsgPack.decode(SimWire.StreamMessage.msgpackFrame([.success("connected")]))
        #expect(frame == .array([.object([("T", .string("success")), ("msg", .string("connected"))])]))
    }
}
