import ArgumentParser
import AutoTraderCore
import Foundation

/// `autotrader backup`: SQLite's online backup of system.db (or stocks.db) while the services run.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy system.db (or stocks.db) with SQLite's online backup, safely while the services run.",
        discussion: """
            Reads the database through SQLite's backup API on a read-only connection: a consistent copy of the \
            last committed state, never a half-written page, and never a migration. Default destination: \
            backups/system-YYYYMMDDTHHMMSSZ.db beside the database. Prints the path of the copy. Restore: stop \
            the services, replace the file with the copy (and remove any stale -wal/-shm beside it), start them.
            """)

    @OptionGroup var databases: DatabaseOptions

    @Flag(help: "Back up stocks.db instead of system.db.")
    var stocks = false

    @Option(help: "Path of the copy (must not exist yet).")
    var to: String?

    @Flag(name: .customLong("check-outdated"),
          help: "Copy nothing; print `outdated` when this program would migrate the database (its schema version is older), else `current`.")
    var checkOutdated = false

    func run() throws {
        let source = stocks ? try databases.stocksPath() : try databases.systemPath()
        if checkOutdated {
            let schema = stocks ? StocksSchema.schema : SystemSchema.schema
            let version = try DatabaseFile.schemaVersion(path: source)
            return print(version < schema.latestVersion ? "outdated" : "current")
        }
        guard FileManager.default.fileExists(atPath: source) else {
            throw CommandFailure(description: "\(source) does not exist: nothing to back up")
        }
        let destination = to ?? Self.defaultDestination(for: source)
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw CommandFailure(description: "\(destination) already exists: choose another --to")
        }
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: destination).deletingLastPathComponent().path, withIntermediateDirectories: true)
        do {
            let check = try DatabaseFile.onlineBackup(from: source, to: destination)
            guard check == ["ok"] else { throw CommandFailure(description: "the copy at \(destination) fails quick_check: \(check.prefix(3))") }
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw CommandFailure(description: "backup of \(source) failed: \(error)")
        }
        print(destination)
    }

    static func defaultDestination(for source: String) -> String {
        let url = URL(fileURLWithPath: source)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let name = url.deletingPathExtension().lastPathComponent
        return url.deletingLastPathComponent().appendingPathComponent("backups/\(name)-\(formatter.string(from: Date())).db").path
    }
}
