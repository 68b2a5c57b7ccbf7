import AutoTraderCore
import Foundation

/// `--record-sends`: the real (wall-clock) instant each minute's bar frame was handed to a connection's
/// socket, so a benchmark can measure the time from the simulator sending a bar to its commit elsewhere.
/// One record per frame (a minute's bars for one connection), kept in memory; `GET /sim/sends` reads them.
public final class SendLog: @unchecked Sendable {
    public struct Record: Codable, Sendable, Equatable {
        /// Position in the log, from 1: `GET /sim/sends?after=N` returns the records after the N-th.
        public var seq: Int
        public var connection: Int
        /// The bar minute (the bars' `t`).
        public var minute: String
        public var bars: Int
        /// Seconds since 1970 (CLOCK_REALTIME), taken just before the frame is written to the socket.
        public var sentAt: Double

        enum CodingKeys: String, CodingKey {
            case seq, connection, minute, bars
            case sentAt = "sent_at"
        }
    }

    /// The most records kept: the oldest go first (a day at 60× is ~400 records per connection).
    public static let capacity = 200_000

    private let lock = NSLock()
    private var records: [Record] = []
    private var count = 0

    public init() {}

    public func record(connection: Int, minute: Timestamp, bars: Int, at instant: Double) {
        lock.withLock {
            count += 1
            records.append(Record(seq: count, connection: connection, minute: minute.text, bars: bars, sentAt: instant))
            if records.count > Self.capacity { records.removeFirst(records.count - Self.capacity / 2) }
        }
    }

    /// The records after the `after`-th, oldest first.
    public func records(after: Int) -> [Record] {
        lock.withLock { records.filter { $0.seq > after } }
    }
}
