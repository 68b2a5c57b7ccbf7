import ArgumentParser
import AutoTraderCore
import Foundation
import TradingAlgorithms

/// `autotrader indicators FILE.csv`: what the shared indicators compute, to compare with a charting tool.
struct IndicatorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "indicators",
        abstract: "Print sma20, sma50, ema12, ema26, macd, macd_signal, macd_hist and rsi14 for a CSV of closes.",
        discussion: """
            FILE.csv has the columns timestamp,close (a header line is optional; other columns are \
            refused). Output is CSV with the input's two columns followed by the indicators, blank \
            during warm-up. Definitions: SMA is the plain mean; EMA uses k = 2/(N+1) and is seeded with \
            the SMA of its first N values; MACD = EMA12 − EMA26, its signal line the EMA9 of MACD (seeded \
            the same way) and the histogram their difference; RSI14 uses Wilder's smoothing seeded with \
            the average gain and loss of the first 14 changes.
            """)

    @Argument(help: "A CSV file with timestamp,close rows, oldest first.")
    var file: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw CommandFailure(description: "cannot read \(file)")
        }
        var rows: [(String, String, Double)] = []
        var previous: Timestamp?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            let number = index + 1
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if rows.isEmpty, previous == nil, fields.map({ $0.lowercased() }) == ["timestamp", "close"] { continue }
            guard fields.count == 2 else {
                throw CommandFailure(description: "\(file):\(number): expected 2 columns (timestamp,close), found \(fields.count)")
            }
            guard let time = Timestamp(fields[0]) else {
                throw CommandFailure(description: "\(file):\(number): \(AutoTraderError.invalidTimestamp(fields[0]).description)")
            }
            guard let close = Double(fields[1]), close.isFinite, close > 0 else {
                throw CommandFailure(description: "\(file):\(number): close \(fields[1].debugDescription) is not a price above 0")
            }
            if let previous, time <= previous {
                throw CommandFailure(description: "\(file):\(number): \(time) is not after the row before (\(previous)); rows must be oldest first")
            }
            previous = time
            rows.append((fields[0], fields[1], close))
        }
        let closes = rows.map(\.2)
        let sma20 = Indicators.sma(closes, period: 20)
        let sma50 = Indicators.sma(closes, period: 50)
        let ema12 = Indicators.ema(closes, period: 12)
        let ema26 = Indicators.ema(closes, period: 26)
        let macd = Indicators.macd(closes)
        let rsi14 = Indicators.rsi(closes, period: 14)
        func cell(_ value: Double?, _ places: Int = 4) -> String { value.map { Indicators.format($0, places: places) } ?? "" }
        var output = "timestamp,close,sma20,sma50,ema12,ema26,macd,macd_signal,macd_hist,rsi14\n"
        for index in rows.indices {
            output += [
                rows[index].0, rows[index].1, cell(sma20[index]), cell(sma50[index]), cell(ema12[index]), cell(ema26[index]),
                cell(macd.macd[index]), cell(macd.signal[index]), cell(macd.histogram[index]), cell(rsi14[index], 2),
            ].joined(separator: ",") + "\n"
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}

/// `autotrader decisions ID`: why a card did or did not trade.
struct DecisionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decisions", abstract: "List an algorithm's decisions (why it did or did not trade), newest first.")

    @OptionGroup var log: AlgorithmLogOptions

    @Option(help: "Show at most this many.")
    var limit: Int = 30

    func run() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        let system = try log.databases.openSystem()
        let decisions = try failing { try system.decisions(algorithmId: log.id, limit: limit) }
        try log.show(
            decisions, none: "Algorithm \(log.id) has no decisions yet (the executor logs one per market minute).",
            header: ["MINUTE", "DECISION", "SHARES", "REASON", "OUTCOME"], rightAligned: [2]
        ) {
            [$0.minute.text, $0.decision.rawValue, $0.shares.map(String.init) ?? "", $0.reason, $0.outcome]
        }
    }
}

/// `autotrader reconcile`: the cards' shares against the broker's positions.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare, per ticker, the shares all cards hold by their transactions with the broker's positions.",
        discussion: "Exit status 0 when every ticker agrees, 1 when any differs (each difference is explained), 2 when the broker can't be asked.")

    @OptionGroup var databases: DatabaseOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let settings = try databases.settings()
        let system = try databases.openSystem()
        let client = AlpacaClient(configuration: try AlpacaConfiguration.resolve(settings))
        let positions: [AlpacaPosition]
        do {
            positions = try await client.positions()
        } catch {
            FileHandle.standardError.write(Data("Error: cannot read the broker's positions: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let result = try PositionReconciliation.compare(system: system, brokerPositions: positions)
        if json {
            try printJSON(result.lines)
        } else if result.lines.isEmpty {
            print("No card has traded and the broker account holds no shares.")
        } else {
            printTable(
                ["TICKER", "CARDS", "BROKER", ""],
                result.lines.map { [$0.ticker, String($0.cardShares), $0.brokerShares.plainString, $0.matches ? "ok" : "DIFFERS"] },
                rightAligned: [1, 2])
            for line in result.differences { print("- " + (line.explanation ?? "")) }
            if result.differences.isEmpty { print("Every ticker agrees.") }
        }
        if !result.differences.isEmpty { throw ExitCode(1) }
    }
}
