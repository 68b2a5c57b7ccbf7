import Foundation
import GRDB

// Reads of a system.db file on a read-only connection of their own, for the doctor: they work on a database
// of any schema version, and can never migrate or change it.
extension SystemDatabase {
    /// The PIN as stored (nil: none) and the wrong PINs since `wrongSince` (0 before pin_attempts existed).
    public static func inspectPIN(path: String, wrongSince: Timestamp) throws -> (pin: String?, wrong: Int) {
        let queue = try DatabaseFile.readOnly(path)
        defer { try? queue.close() }
        return try queue.read { db in
            let pin = try String.fetchOne(db, sql: "SELECT value FROM system_config WHERE key = 'pin'")
            guard try db.tableExists("pin_attempts") else { return (pin, 0) }
            let wrong = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM pin_attempts WHERE outcome = 'wrong' AND at >= ?", arguments: [wrongSince.text])
            return (pin, wrong ?? 0)
        }
    }

    /// Every heartbeat row ([] before service_heartbeats existed).
    public static func inspectHeartbeats(path: String) throws -> [ServiceHeartbeat] {
        let queue = try DatabaseFile.readOnly(path)
        defer { try? queue.close() }
        return try queue.read { db in
            guard try db.tableExists("service_heartbeats") else { return [] }
            return try Row.fetchAll(db, sql: "SELECT * FROM service_heartbeats").map(ServiceHeartbeat.init(row:))
        }
    }
}
