import ArgumentParser
import AutoTraderCore
import Foundation

struct BarsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bars", abstract: "Load minute bars into stocks.db.", subcommands: [Import.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Import minute bars from a CSV file, all or nothing.",
            discussion: """
                Columns: ticker,timestamp,open,high,low,close,volume (optionally trade_count,vwap); \
                a header line naming them is optional and may order them freely. Timestamps are the \
                minute's start in UTC (2024-06-04T14:30:00Z). A bar for a minute already stored \
                replaces it. Every row is checked first: if any is bad, each bad row is reported by \
                line number and nothing is written.
                """)

        @OptionGroup var databases: DatabaseOptions

        @Argument(help: "The CSV file.")
        var file: String

        @Flag(help: "Leave out rows outside regular market hours instead of refusing the file.")
        var skipOutsideHours = false

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure(description: "cannot read \(file)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw CommandFailure(description: "\(file) is not UTF-8 text")
            }
            let parsed = BarCSVImport(calendar: try MarketCalendar(), skipOutsideHours: skipOutsideHours).parse(text)
            if !parsed.errors.isEmpty {
                let shown = parsed.errors.prefix(50)
                var lines = shown.map { "  \(file):\($0.line): \($0.reason)" }
                if parsed.errors.count > shown.count { lines.append("  … and \(parsed.errors.count - shown.count) more") }
                throw CommandFailure(
                    description: "\(parsed.errors.count) bad row(s); nothing was imported:\n" + lines.joined(separator: "\n"))
            }
            let stocks = try databases.openStocks()
            try stocks.insert(parsed.bars)
            let tickers = Set(parsed.bars.map(\.ticker)).sorted()
            var message = "Imported \(parsed.bars.count) bar(s) for \(tickers.count) ticker(s)"
            if !tickers.isEmpty && tickers.count <= 10 { message += " (\(tickers.joined(separator: ", ")))" }
            if parsed.skippedOutsideHours > 0 { message += "; left out \(parsed.skippedOutsideHours) row(s) outside regular hours" }
            print(message + ".")
        }
    }
}
