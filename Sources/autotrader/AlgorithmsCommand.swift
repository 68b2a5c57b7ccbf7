import ArgumentParser
import AutoTraderCore
import Foundation
import TradingAlgorithms

struct AlgorithmsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "algorithms", abstract: "List, create and stop algorithms.",
        subcommands: [List.self, Available.self, Create.self, Stop.self])

    struct Available: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The algorithms a card can be created for, with their status.",
            discussion: """
                Reads the catalog the executor publishes in system.db: the compiled Swift algorithms and the \
                scripts of the algorithm folder (AUTOTRADER_ALGORITHM_DIR, default algorithm/ under AUTOTRADER_HOME). \
                A broken script or a name clash is listed with status error and the reason. Until an executor has \
                published, this build's compiled algorithms are listed.
                """)

        @OptionGroup var databases: DatabaseOptions

        @Flag(help: "Print JSON: one object per algorithm with name, kind, summary, bars_needed, status, error.")
        var json = false

        struct Row: Encodable {
            let entry: CatalogEntry
            enum CodingKeys: String, CodingKey { case name, kind, summary, barsNeeded = "bars_needed", status, error }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(entry.name, forKey: .name)
                try container.encode(entry.kind.rawValue, forKey: .kind)
                try container.encode(entry.summary, forKey: .summary)
                try container.encode(entry.barsNeeded, forKey: .barsNeeded)
                try container.encode(entry.status.rawValue, forKey: .status)
                try container.encode(entry.error, forKey: .error)
            }
        }

        func run() throws {
            let entries = try AvailableAlgorithms.list(system: try databases.openSystem(), compiled: AlgorithmRegistry.catalog)
            if json { return try printJSON(entries.map(Row.init(entry:))) }
            printTable(
                ["NAME", "KIND", "STATUS", "BARS", "SUMMARY"],
                entries.map {
                    [$0.name, $0.kind.rawValue, $0.status.rawValue, $0.barsNeeded.map(String.init) ?? "-",
                     $0.status == .ok ? $0.summary : "error: \($0.error ?? "")"]
                }, rightAligned: [3])
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List algorithms (all, or by status) as cards.")

        @OptionGroup var databases: DatabaseOptions

        @Option(help: "running, stopped or all.")
        var status: String = "all"

        @Flag(help: "Print JSON card objects.")
        var json = false

        func run() throws {
            let filter: AlgorithmStatus?
            switch status {
            case "all": filter = nil
            case let value: 
                guard let parsed = AlgorithmStatus(rawValue: value) else {
                    throw ValidationError("--status must be running, stopped or all, not \(value.debugDescription)")
                }
                filter = parsed
            }
            let reader = CardReader(system: try databases.openSystem(), stocks: try databases.openStocks())
            let cards = try reader.cards(status: filter)
            if json { return try printJSON(cards) }
            if cards.isEmpty { return print("No algorithms.") }
            printCards(cards)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a running algorithm for a ticker with its own capital.",
            discussion: """
                Checks what the dashboard checks: the broker must trade the ticker, and the capital must fit in the \
                broker's cash less what running algorithms were given (so the broker — Alpaca, or autotrader-sim in \
                simulated mode — must be reachable). Nothing is created when a check fails.
                """)

        @OptionGroup var databases: DatabaseOptions

        @Option(help: "The ticker it trades, e.g. NVDA or BRK.B.")
        var ticker: String

        @Option(name: .customLong("type"), help: "The algorithm's name (its file in algorithm/), e.g. sma_crossover.")
        var algorithmType: String

        @Option(help: "Its allocation in dollars, e.g. 1000 or 2500.50.")
        var capital: String

        @Flag(help: "Print the new card as JSON.")
        var json = false

        func run() async throws {
            guard let amount = Money.parse(capital) else {
                throw ValidationError("--capital must be a plain amount like 1000 or 2500.50, not \(capital.debugDescription)")
            }
            let system = try databases.openSystem()
            let alpaca = try AlpacaConfiguration.resolve(try databases.settings())
            let creation = CardCreation(system: system, compiled: AlgorithmRegistry.catalog)
            let algorithm: AlgorithmInstance
            do {
                algorithm = try await creation.create(
                    ticker: ticker, algorithmType: algorithmType, capital: amount, broker: AlpacaClient(configuration: alpaca))
            } catch let error as AlpacaError {
                throw CommandFailure(description: "the broker (\(alpaca.tradingURL.absoluteString)) could not be asked, so nothing was created: \(error)")
            } catch let error as CardRefusal {
                throw CommandFailure(description: error.description)
            } catch let error as InsufficientCash {
                throw CommandFailure(description: error.description)
            } catch let error as AutoTraderError {
                throw CommandFailure(description: error.description)
            }
            let card = try CardReader(system: system, stocks: try databases.openStocks()).card(id: algorithm.id)
            if json { return try printJSON(card) }
            print("Created algorithm \(algorithm.id): \(algorithm.displayName) with \(Money.centsText(algorithm.initialCapital))")
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop an algorithm for good (its history stays).",
            discussion: "One that holds shares needs --sell (sell them, then stop) or --keep-shares (they stay in the account, managed by nothing).")

        @OptionGroup var databases: DatabaseOptions

        @Argument(help: "The algorithm's id.")
        var id: Int64

        @Flag(help: "Sell its shares first: the executor sells them at the next market minute, then stops it.")
        var sell = false

        @Flag(name: .customLong("keep-shares"), help: "Stop it even though it holds shares: they stay in the broker account, managed by nothing.")
        var keepShares = false

        func run() throws {
            let system = try databases.openSystem()
            if sell, try failing({ try system.position(algorithmId: id).shares }) > 0 {
                let algorithm = try failing { try system.algorithm(id: id) }
                guard algorithm.status == .running else { throw CommandFailure(description: AutoTraderError.algorithmAlreadyStopped(id: id).description) }
                try failing { _ = try system.requestLiquidation(algorithmId: id) }
                let shares = try system.position(algorithmId: id).shares
                print("Asked the executor to sell the \(shares) shares of \(algorithm.ticker) that algorithm \(id) holds at the next market minute, and then stop it.")
                return
            }
            if sell && keepShares { throw ValidationError("--sell and --keep-shares contradict each other: choose one") }
            let stopped = try failing { try system.stopAlgorithm(id: id, keepingShares: keepShares) }
            let shares = try system.position(algorithmId: id).shares
            print("Stopped algorithm \(id) (\(stopped.displayName)) at \(stopped.stoppedAt?.text ?? "-")")
            if shares > 0 {
                print("Note: it still holds \(shares) shares of \(stopped.ticker) in the broker account.")
            }
        }
    }
}

/// What the commands listing one algorithm's log (`transactions`, `decisions`) share: the databases, the
/// algorithm's id, and the choice of JSON or a table.
struct AlgorithmLogOptions: ParsableArguments {
    @OptionGroup var databases: DatabaseOptions

    @Argument(help: "The algorithm's id.")
    var id: Int64

    @Flag(help: "Print JSON.")
    var json = false

    /// The rows as JSON, or as a table under `header` (the sentence `none` when there are no rows).
    func show<Row: Encodable>(
        _ rows: [Row], none: String, header: [String], rightAligned: Set<Int>, cells: (Row) -> [String]
    ) throws {
        if json { return try printJSON(rows) }
        if rows.isEmpty { return print(none) }
        printTable(header, rows.map(cells), rightAligned: rightAligned)
    }
}

struct TransactionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transactions", abstract: "List an algorithm's transactions, newest first.")

    @OptionGroup var log: AlgorithmLogOptions

    @Option(help: "Show at most this many.")
    var limit: Int?

    func run() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        let system = try log.databases.openSystem()
        let trades = try failing { try system.trades(algorithmId: log.id, limit: limit) }
        try log.show(
            trades, none: "Algorithm \(log.id) has no transactions.",
            header: ["ID", "TIME", "TYPE", "SHARES", "PRICE", "AMOUNT"], rightAligned: [0, 3, 4, 5]
        ) {
            [String($0.id), $0.timestamp.text, $0.side.rawValue, String($0.shares), $0.price.plainString,
             Money.centsText(Decimal($0.shares) * $0.price)]
        }
    }
}
