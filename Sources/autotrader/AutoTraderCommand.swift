import ArgumentParser
import AutoTraderCore
import Foundation
import TradingAlgorithms

@main
struct AutoTraderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autotrader",
        abstract: "AutoTrader's command-line tool: databases, cards, the PIN, the market calendar and bar imports.",
        discussion: """
            Database paths come from --system-db / --stocks-db, else AUTOTRADER_SYSTEM_DB / \
            AUTOTRADER_STOCKS_DB (environment or the config file named by AUTOTRADER_CONFIG, \
            default /etc/autotrader/autotrader.env), else system_databse/system.db and \
            database/stocks.db under AUTOTRADER_HOME or the current folder.
            """,
        subcommands: [
            InitCommand.self, StatusCommand.self, AlgorithmsCommand.self, TransactionsCommand.self,
            DecisionsCommand.self, SetPINCommand.self, CalendarCommand.self, BarsCommand.self, IndicatorsCommand.self,
            ReconcileCommand.self, DoctorCommand.self, ModeCommand.self, BackupCommand.self, RunCommand.self,
            BacktestCommand.self, NotifyCommand.self,
        ]
    )
}

/// The database options every command that touches a database takes.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("system-db"), help: "Path of system.db.")
    var systemDatabase: String?

    @Option(name: .customLong("stocks-db"), help: "Path of stocks.db.")
    var stocksDatabase: String?

    func settings() throws -> Settings { try Settings.load() }

    func systemPath() throws -> String { try systemDatabase ?? settings().systemDatabasePath }
    func stocksPath() throws -> String { try stocksDatabase ?? settings().stocksDatabasePath }

    func openSystem(create: Bool = false) throws -> SystemDatabase {
        try SystemDatabase.open(path: systemPath(), create: create)
    }

    func openStocks(create: Bool = false) throws -> StocksDatabase {
        try StocksDatabase.open(path: stocksPath(), create: create)
    }
}

/// Pretty, stable JSON for `--json` output (snake_case keys come from the types' coding keys).
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Left-aligned text columns, padded to the widest cell.
func printTable(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        let cells = row.enumerated().map { column, cell in
            let padding = String(repeating: " ", count: widths[column] - cell.count)
            return rightAligned.contains(column) ? padding + cell : cell + padding
        }
        print(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
}

/// A refusal of the request itself (bad input, unknown id …): printed as `Error: …`, exit code 1.
/// Usage mistakes stay ArgumentParser's `ValidationError` (with the usage line, exit code 64).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
}

/// Runs a core call, turning its typed error into a plain message without a usage line.
func failing<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as AutoTraderError {
        throw CommandFailure(description: error.description)
    }
}
