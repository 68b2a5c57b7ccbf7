import Foundation
import GRDB

/// Tells whether another connection (any process, this one's writer included) committed to a
/// database since the last look: SQLite's `PRAGMA data_version` on a dedicated read-only connection.
/// Costs one pragma (no disk read) per call.
public final class ChangeWatch: Sendable {
    private let queue: DatabaseQueue

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        configuration.label = "change-watch"
        queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    public func version() throws -> Int64 {
        try queue.inDatabase { db in try Int64.fetchOne(try db.cachedStatement(sql: "PRAGMA data_version")) ?? 0 }
    }
}
