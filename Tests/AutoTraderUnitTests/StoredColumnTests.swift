@testable import AutoTraderCore
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
