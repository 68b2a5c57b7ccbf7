import ArgumentParser
import AutoTraderCore
import Foundation
import GRDB

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create system.db and stocks.db, or bring existing ones up to date (never loses data).")

    @OptionGroup var databases: DatabaseOptions

    func run() throws {
        for (name, path, open) in [
            ("system.db", try databases.systemPath(), { (path: String) throws -> DatabasePool in
                try SystemDatabase.open(path: path, create: true).pool }),
            ("stocks.db", try databases.stocksPath(), { (path: String) throws -> DatabasePool in
                try StocksDatabase.open(path: path, create: true).pool }),
        ] as [(String, String, (String) throws -> DatabasePool)] {
            let existed = FileManager.default.fileExists(atPath: path)
            let pool = try open(path)
            let version = try pool.read { try DatabaseFile.userVersion($0) }
            print("\(name): \(existed ? "up to date" : "created") at \(path) (schema version \(version))")
        }
    }
}
