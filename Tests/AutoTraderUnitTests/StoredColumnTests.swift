@testable import AutoTraderCore
import Foundation
import GRDB
import Testing

/// How stored time columns read back: a bad one never fails the read of its whole table.
struct StoredColumnTests {
    @Test func aTimeReadsAsItselfAnUnreadableOneAsTheEpochAndNullAsNothing() {
        let row = Row(["good": "2024-06-04T14:00:00Z", "bad": "June 4th", "null": nil as String?])
        #expect(row.time("good") == Timestamp("2024-06-04T14:00:00Z"))
        #expect(row.time("bad") == Timestamp(secondsSinceEpoch: 0))
        #expect(row.optionalTime("good") == Timestamp("2024-06-04T14:00:00Z"))
        #expect(row.optionalTime("bad") == nil)
        #expect(row.optionalTime("null") == nil)
    }

    @Test func aHeartbeatWithABadTimeStillReads() {
        let beat = ServiceHeartbeat(row: Row([
            "service": "executor", "pid": 42, "started_at": "garbage", "last_heartbeat": "2024-06-04T14:00:05Z",
            "state": "something newer", "detail": "{}",
        ]))
        #expect(beat.startedAt == Timestamp(secondsSinceEpoch: 0))
        #expect(beat.lastHeartbeat == Timestamp("2024-06-04T14:00:05Z"))
        #expect(beat.state == .degraded, "a state another version wrote reads as degraded")
    }
}

/// A heartbeat's detail carries the SQLite memory of its process beside the service's own keys.
struct HeartbeatDetailTests {
    struct ExecutorDetail: Encodable, Sendable {
        let cards: Int
        let lastError: String?
        enum CodingKeys: String, CodingKey { case cards, lastError = "last_error" }
    }

    @Test func theServicesKeysAndSQLitesMemoryAreOneObject() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(HeartbeatDetail(ExecutorDetail(cards: 3, lastError: "x"), sqliteMemoryBytes: 2_097_152)), as: UTF8.self)
        #expect(text == #"{"cards":3,"last_error":"x","sqlite_memory_bytes":2097152}"#)
        let database = try DatabaseQueue()
        try database.write { try $0.execute(sql: "CREATE TABLE t (x); INSERT INTO t VALUES (zeroblob(100000))") }
        #expect(HeartbeatDetail(["a": 1]).sqliteMemoryBytes > 100_000, "an open database's pages are counted")
    }
}
