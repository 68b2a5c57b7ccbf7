import ArgumentParser
import AutoTraderCore
import Foundation

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create system.db and stocks.db, or bring existing ones up to date (never loses data).")

    @OptionGroup var databases: DatabaseOptions

    func run() throws {
        for (name, path, open) in [
            ("system.db", try databases.systemPath(), { (path: String) throws -> Int in
                try SystemDatabase.open(path: path, create: true).schemaVersion() }),
            ("stocks.db", try databases.stocksPath(), { (path: String) throws -> Int in
                try StocksDatabase.open(path: path, create: true).schemaVersion() }),
        ] as [(String, String, (String) throws -> Int)] {
            let existed = FileManager.default.fileExists(atPath: path)
            let version = try open(path)
            print("\(name): \(existed ? "up to date" : "created") at \(path) (schema version \(version))")
        }
    }
}
