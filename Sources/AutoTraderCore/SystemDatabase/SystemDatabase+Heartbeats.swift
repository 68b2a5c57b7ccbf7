import Foundation
import GRDB

// service_heartbeats: one row per service, rewritten every few seconds.
extension SystemDatabase {
    /// Every service's heartbeat row, by service name.
    public func heartbeats() throws -> [ServiceHeartbeat] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM service_heartbeats ORDER BY service").map(ServiceHeartbeat.init(row:))
        }
    }

    public func heartbeat(service: String) throws -> ServiceHeartbeat? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM service_heartbeats WHERE service = ?", arguments: [service])
                .map(ServiceHeartbeat.init(row:))
        }
    }

    /// Upserts one service's row.
    func writeHeartbeat(service: String, pid: Int32, startedAt: Timestamp, state: ServiceHeartbeat.State, detail: String, now: Timestamp) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO service_heartbeats (service, pid, started_at, last_heartbeat, state, detail)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (service) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at,
                        last_heartbeat = excluded.last_heartbeat, state = excluded.state, detail = excluded.detail
                    """,
                arguments: [service, Int64(pid), startedAt.text, now.text, state.rawValue, detail])
        }
    }
}
