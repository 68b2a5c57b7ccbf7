import Foundation
import GRDB

/// One algorithm the executor can (or can't) run, as it published it in system.db's `algorithm_catalog`.
public struct CatalogEntry: Hashable, Sendable, Codable {
    /// Compiled into the executor, or a script file in the algorithm folder.
    public enum Kind: String, Sendable, Codable { case swift, script }
    /// Whether the executor can run it (a card can be created only for ok).
    public enum Status: String, Sendable, Codable { case ok, error }

    public let name: String
    public let kind: Kind
    public let summary: String
    public let barsNeeded: Int?
    public let status: Status
    public var error: String? = nil
    /// The script's file (nil for Swift).
    public var path: String? = nil
    /// FNV-1a 64 of the script's bytes, hex (nil for Swift): what changed when it changed.
    public var fileHash: String? = nil
    /// When this row last changed.
    public var updatedAt: Timestamp? = nil

    enum CodingKeys: String, CodingKey {
        case name, kind, summary, barsNeeded = "bars_needed", status, error, path, fileHash = "file_hash", updatedAt = "updated_at"
    }
}

extension CatalogEntry {
    init(row: Row) {
        name = row["name"]
        kind = Kind(rawValue: row["kind"]) ?? .script
        summary = row["summary"]
        barsNeeded = row["bars_needed"]
        status = Status(rawValue: row["status"]) ?? .error
        error = row["error"]
        path = row["path"]
        fileHash = row["file_hash"]
        updatedAt = row.optionalTime("updated_at")
    }

    /// The same row without its time: what decides whether it changed.
    func sameContent(as other: CatalogEntry) -> Bool {
        name == other.name && kind == other.kind && summary == other.summary && barsNeeded == other.barsNeeded
            && status == other.status && error == other.error && path == other.path && fileHash == other.fileHash
    }
}

// algorithm_catalog: what the executor can run, written by it alone; the api and the CLI only read it
// (the api never runs an algorithm's code to find out what it is).
extension SystemDatabase {
    /// Replaces the catalog with `entries` in one transaction; a row whose content is unchanged keeps its
    /// `updated_at`.
    public func publishCatalog(_ entries: [CatalogEntry], now: Timestamp = .now()) throws {
        try pool.write { db in
            let existing = try Row.fetchAll(db, sql: "SELECT * FROM algorithm_catalog").map(CatalogEntry.init(row:))
            let keep = Set(entries.map { "\($0.kind.rawValue)/\($0.name)" })
            for old in existing where !keep.contains("\(old.kind.rawValue)/\(old.name)") {
                try db.execute(sql: "DELETE FROM algorithm_catalog WHERE name = ? AND kind = ?", arguments: [old.name, old.kind.rawValue])
            }
            for entry in entries {
                if let old = existing.first(where: { $0.name == entry.name && $0.kind == entry.kind }), old.sameContent(as: entry) { continue }
                try db.execute(
                    sql: """
                        INSERT INTO algorithm_catalog (name, kind, summary, bars_needed, status, error, path, file_hash, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (name, kind) DO UPDATE SET summary = excluded.summary, bars_needed = excluded.bars_needed,
                            status = excluded.status, error = excluded.error, path = excluded.path,
                            file_hash = excluded.file_hash, updated_at = excluded.updated_at
                        """,
                    arguments: [
                        entry.name, entry.kind.rawValue, entry.summary, entry.barsNeeded, entry.status.rawValue, entry.error,
                        entry.path, entry.fileHash, now.text,
                    ])
            }
        }
    }

    /// The published catalog, by name then kind.
    public func catalog() throws -> [CatalogEntry] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM algorithm_catalog ORDER BY name, kind").map(CatalogEntry.init(row:))
        }
    }
}

extension SystemDatabase {
    /// The published catalog on a read-only connection, for the doctor: nil before the table existed.
    public static func inspectCatalog(path: String) throws -> [CatalogEntry]? {
        let queue = try DatabaseFile.readOnly(path)
        defer { try? queue.close() }
        return try queue.read { db in
            guard try db.tableExists("algorithm_catalog") else { return nil }
            return try Row.fetchAll(db, sql: "SELECT * FROM algorithm_catalog ORDER BY name, kind").map(CatalogEntry.init(row:))
        }
    }
}
