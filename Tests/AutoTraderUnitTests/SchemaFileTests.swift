import Foundation
import GRDB
import Testing
@testable import AutoTraderCore

/// system_databse/schema.sql and database/schema.sql are what the migrations produce;
/// these tests fail when the two drift apart (refresh with AUTOTRADER_UPDATE_SCHEMA=1).
@Suite struct SchemaFileTests {
    static let repository = Repository.root
    static let designPath = repository.deletingLastPathComponent().appendingPathComponent("shared/DESIGN.md").path

    static func dump(_ pool: DatabasePool) throws -> String {
        let statements = try pool.read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
        }
        let version = try pool.read { try DatabaseFile.userVersion($0) }
        return "-- Generated from the migrations (schema version \(version)); a test checks it.\n"
            + statements.map { $0 + ";\n" }.joined()
    }

    func check(_ actual: String, against relativePath: String) throws {
        let path = Self.repository.appendingPathComponent(relativePath).path
        if ProcessInfo.processInfo.environment["AUTOTRADER_UPDATE_SCHEMA"] == "1" {
            try actual.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        #expect(actual == expected, "\(relativePath) is out of date: run the tests with AUTOTRADER_UPDATE_SCHEMA=1")
    }

    @Test func systemSchemaFileMatchesTheMigrations() throws {
        let directory = TemporaryDirectory("schema")
        let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        try check(try Self.dump(system.pool), against: "system_databse/schema.sql")
    }

    @Test func stocksSchemaFileMatchesTheMigrations() throws {
        try check(try Self.dump(SharedStocks.database.pool), against: "database/schema.sql")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: designPath),
                   "../shared/DESIGN.md is absent: cannot compare system.db's tables with the original design"))
    func theThreeOriginalTablesAreExactlyTheDesignsText() throws {
        let design = try String(contentsOfFile: Self.designPath, encoding: .utf8)
        let directory = TemporaryDirectory("schema")
        let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        let stored = try system.pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT sql FROM sqlite_master WHERE name IN ('algorithm_instances', 'transactions', 'system_config')
                ORDER BY rowid
                """)
        }
        #expect(stored.count == 3)
        for statement in stored {
            // `.schema` prints what SQLite stored: the design's statement, comments and all.
            #expect(design.contains(statement), "not in DESIGN.md as written:\n\(statement)")
        }
        #expect(try system.pin() == "2020")
    }
}
