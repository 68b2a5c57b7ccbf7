import Foundation
import GRDB

/// One numbered schema step. Steps are applied in order, each in its own
/// transaction that also sets `PRAGMA user_version` to its number, so a crash
/// mid-migration leaves the previous version intact.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let apply: @Sendable (Database) throws -> Void

    public init(version: Int, name: String, apply: @escaping @Sendable (Database) throws -> Void) {
        self.version = version
        self.name = name
        self.apply = apply
    }
}

/// What it takes to open one of AutoTrader's databases: its migrations and durability.
public struct DatabaseSchema: Sendable {
    public let name: String
    public let migrations: [Migration]
    /// `FULL` for money, `NORMAL` where a lost last write is simply fetched again.
    public let synchronous: String
    /// Page cache of the writing connection, in KiB (bulk inserts of bars need more than SQLite's 2 MiB default).
    public let writerCacheKiB: Int
    /// Bytes of the file every connection memory-maps: reads then come straight from the OS page
    /// cache instead of a `pread` per page (0: off).
    public var mmapBytes: Int = 0

    public var latestVersion: Int { migrations.map(\.version).max() ?? 0 }
}

/// Opens a WAL-mode SQLite database shared by several processes, creating and migrating it safely.
public enum DatabaseFile {
    /// How long a connection waits for another process's write lock before giving up.
    /// Writes here last milliseconds; the generous limit only matters when a disk stalls.
    public static let busyTimeout: TimeInterval = 30

    /// Opens the database at `path`. Create-or-migrate runs under an exclusive file
    /// lock (`path.lock`), so any number of processes may call this at the same
    /// instant on a file that does not exist yet.
    ///
    /// - Parameter create: when false, a missing file is an error instead of a new empty database.
    public static func open(path: String, schema: DatabaseSchema, create: Bool) throws -> DatabasePool {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: path) {
            guard create else { throw DatabaseFileError.missing(path: path, name: schema.name) }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }

        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.maximumReaderCount = 4 // a Pi has four cores and little memory
        configuration.label = schema.name
        let synchronous = schema.synchronous, mmapBytes = schema.mmapBytes
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            if mmapBytes > 0 { try db.execute(sql: "PRAGMA mmap_size = \(mmapBytes)") }
        }
        // Readers get GRDB's own 10 s busy timeout for read-only pool connections: in WAL
        // mode a reader waits only for rare WAL-index recovery, never for writers.

        let lock = try FileLock(path: path + ".lock")
        let pool = try DatabasePool(path: path, configuration: configuration)
        try migrate(pool, schema: schema, path: path)
        withExtendedLifetime(lock) {}

        // GRDB's pool switches its writer to synchronous=NORMAL when it enables WAL,
        // after `prepareDatabase` ran: set ours again on the (single, lasting) writer.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(schema.synchronous)")
            try db.execute(sql: "PRAGMA cache_size = -\(schema.writerCacheKiB)")
        }
        return pool
    }

    /// Bounds the writer's page cache of a process that runs for months and gives back what it holds now.
    /// A cache fills with every page touched until its bound, so a bound sized for bulk work reads as
    /// memory growing with the data (the 30-day soak saw it).
    public static func limitWriterCache(_ pool: DatabasePool, kibibytes: Int) throws {
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA cache_size = -\(kibibytes)")
            try db.execute(sql: "PRAGMA shrink_memory")
        }
    }

    /// The schema version recorded in the file.
    public static func userVersion(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
    }

    private static func migrate(_ pool: DatabasePool, schema: DatabaseSchema, path: String) throws {
        try pool.writeWithoutTransaction { db in
            let current = try userVersion(db)
            guard current <= schema.latestVersion else {
                throw AutoTraderError.databaseNewerThanProgram(path: path, version: current, known: schema.latestVersion)
            }
            for migration in schema.migrations.sorted(by: { $0.version < $1.version }) where migration.version > current {
                try db.inTransaction(.immediate) {
                    try migration.apply(db)
                    try db.execute(sql: "PRAGMA user_version = \(migration.version)")
                    return .commit
                }
            }
        }
    }
}

/// Errors opening a database file.
public enum DatabaseFileError: Error, CustomStringConvertible, LocalizedError {
    case missing(path: String, name: String)

    public var description: String {
        switch self {
        case .missing(let path, let name):
            return "\(name) not found at \(path): create it with `autotrader init` (or point to it with the path option)"
        }
    }

    public var errorDescription: String? { description }
}

extension DatabaseFile {
    /// "ok", or what is wrong: the schema version against the program's, and one cheap read of `table`.
    static func status(_ pool: DatabasePool, expected: Int, table: String) throws -> String {
        try pool.read { db in
            let version = try userVersion(db)
            guard version == expected else { return "schema version \(version), expected \(expected)" }
            _ = try Row.fetchOne(db, sql: "SELECT 1 FROM \(table) LIMIT 1")
            return "ok"
        }
    }
}

extension DatabaseFile {
    /// A read-only connection: it can never migrate or change a database (for inspection, the doctor's).
    static func readOnly(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    /// `PRAGMA quick_check` (["ok"] when sound) and the schema version, read-only.
    public static func quickCheck(path: String) throws -> (check: [String], version: Int) {
        let queue = try readOnly(path)
        defer { try? queue.close() }
        return try queue.read { db in (try String.fetchAll(db, sql: "PRAGMA quick_check"), try userVersion(db)) }
    }
}

extension DatabaseFile {
    /// The schema version of the file at `path`, read-only (nothing is migrated).
    public static func schemaVersion(path: String) throws -> Int {
        let queue = try readOnly(path)
        defer { try? queue.close() }
        return try queue.read { try userVersion($0) }
    }

    /// SQLite's online backup of `source` into a new file at `destination`, read through a read-only
    /// connection (a consistent copy of the last commit, never a migration); returns the copy's quick_check.
    public static func onlineBackup(from source: String, to destination: String) throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        let reader = try DatabaseQueue(path: source, configuration: configuration)
        let copy = try DatabaseQueue(path: destination)
        try reader.backup(to: copy)
        let check = try copy.read { try String.fetchAll($0, sql: "PRAGMA quick_check") }
        try copy.close()
        try reader.close()
        return check
    }
}
