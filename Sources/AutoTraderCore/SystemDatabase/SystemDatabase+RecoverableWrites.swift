import GRDB

extension SystemDatabase {
    /// A write that a power cut may undo but the broker can always redo: marking an intent sent and closing
    /// it with its fill. Committed without waiting for the disk (`synchronous = NORMAL` for this one
    /// transaction), so the minute's hundred closes and marks cost no fsync each.
    ///
    /// Why that is safe: a SIGKILL loses nothing either way (the commit is in the OS's cache); only a
    /// power cut or kernel crash can drop it, and only until the next `FULL` commit (the next minute's
    /// intents, any card change), whose fsync of the WAL carries every frame before it. A dropped close
    /// leaves its intent open, and reconciling with the broker by client order id closes it again and
    /// records the fill once (closing is idempotent) — the "lost last write is fetched again" rule stocks.db
    /// lives by. The intent itself is still written `FULL` before anything is sent.
    func writeRecoverable<T>(_ updates: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            defer { try? db.execute(sql: "PRAGMA synchronous = \(SystemSchema.schema.synchronous)") }
            var result: T?
            try db.inTransaction {
                result = try updates(db)
                return .commit
            }
            return result!
        }
    }
}
