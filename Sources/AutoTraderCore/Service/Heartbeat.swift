import Foundation
import GRDB

/// A row of `service_heartbeats` (system.db): one per service, rewritten every few seconds.
public struct ServiceHeartbeat: Hashable, Sendable {
    public enum State: String, Sendable, Codable {
        case starting, running, degraded, stopping, stopped
    }

    public var service: String
    public var pid: Int32
    public var startedAt: Timestamp
    public var lastHeartbeat: Timestamp
    public var state: State
    /// JSON object text.
    public var detail: String

    init(row: Row) {
        service = row["service"]
        pid = row["pid"]
        startedAt = row.time("started_at")
        lastHeartbeat = row.time("last_heartbeat")
        state = State(rawValue: row["state"]) ?? .degraded
        detail = row["detail"]
    }

    /// The detail as a JSON object (empty when it isn't one).
    public var detailObject: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(detail.utf8))) as? [String: Any] ?? [:]
    }
}

/// Writes one service's heartbeat row.
public struct HeartbeatWriter: Sendable {
    public let system: SystemDatabase
    public let service: String
    public let pid: Int32
    public let startedAt: Timestamp

    public init(system: SystemDatabase, service: String, pid: Int32 = ProcessInfo.processInfo.processIdentifier, startedAt: Timestamp = .now()) {
        self.system = system
        self.service = service
        self.pid = pid
        self.startedAt = startedAt
    }

    /// Upserts the row; `detail` is encoded as a JSON object with sorted keys.
    public func beat<Detail: Encodable & Sendable>(state: ServiceHeartbeat.State, detail: Detail, now: Timestamp = .now()) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(detail), as: UTF8.self)
        try await system.writeHeartbeat(service: service, pid: pid, startedAt: startedAt, state: state, detail: text, now: now)
    }
}
