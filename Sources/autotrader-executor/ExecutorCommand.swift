import ArgumentParser
import AutoTraderCore
import Foundation
import Logging
import TradingAlgorithms

/// `autotrader-executor`: the trading service. A thin layer over `ExecutorService` (AutoTraderCore).
struct ExecutorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autotrader-executor",
        abstract: "Runs every running algorithm each market minute and trades crash-safely.",
        discussion: """
            Follows the broker's clock (Alpaca's, or autotrader-sim's when no keys are configured). As soon as \
            a market minute's bars are in stocks.db it runs each running card's algorithm, applies the guards, \
            writes an order intent to system.db, sends it, and records the fill as a transaction in the same \
            SQLite transaction that closes the intent. On start it reconciles every open intent with the broker \
            by client_order_id. Carries out "sell everything, then stop" requests. Logs every decision to \
            system.db (decisions), writes a heartbeat row and, under systemd, sd_notify READY/WATCHDOG/STATUS. \
            SIGTERM or SIGINT: exits 0 within 2 s (an order in flight is reconciled on the next start).
            """)

    @Option(name: .customLong("system-db"), help: "Path of system.db (default: AUTOTRADER_SYSTEM_DB or the AUTOTRADER_HOME layout).")
    var systemDatabase: String?

    @Option(name: .customLong("stocks-db"), help: "Path of stocks.db (default: AUTOTRADER_STOCKS_DB or the AUTOTRADER_HOME layout).")
    var stocksDatabase: String?

    @Option(help: "Configuration file (default: $AUTOTRADER_CONFIG, else /etc/autotrader/autotrader.env when present).")
    var config: String?

    @Option(name: .customLong("decision-timeout"), help: "Seconds a decision may take before it is abandoned.")
    var decisionTimeout: Double = 2

    @Option(name: .customLong("heartbeat-interval"), help: "Seconds between heartbeat rows.")
    var heartbeatInterval: Double = 5

    @Option(name: .customLong("not-found-grace"), help: "Seconds an order intent unknown to the broker may be in flight before it is closed unsent.")
    var notFoundGrace: Double = 5

    @Option(name: .customLong("keep-holds"), help: "Days the decision log keeps its 'hold' rows (0: for good); orders, refusals and errors are always kept.")
    var keepHolds = 7

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard decisionTimeout > 0, heartbeatInterval > 0, notFoundGrace >= 0, keepHolds >= 0 else {
            throw ValidationError("--decision-timeout and --heartbeat-interval must be positive, --not-found-grace and --keep-holds not negative")
        }
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        ServiceLogging.bootstrap(level: level) // one line per event; syslog priorities when stderr is the journal
        let logger = Logger(label: "autotrader-executor")
        let settings = try Settings.load(configPath: config)
        let alpaca = try AlpacaConfiguration.resolve(settings)
        let system = try SystemDatabase.open(path: systemDatabase ?? settings.systemDatabasePath)
        try system.limitWriterCache() // months of small writes: memory stays flat
        let stocksPath = stocksDatabase ?? settings.stocksDatabasePath
        _ = try StocksDatabase.open(path: stocksPath) // checks the file and its schema before trading
        var options = ExecutorOptions()
        options.decisionTimeLimit = .milliseconds(Int64(decisionTimeout * 1000))
        options.heartbeatInterval = .milliseconds(Int64(heartbeatInterval * 1000))
        options.notFoundGrace = .milliseconds(Int64(notFoundGrace * 1000))
        options.keepHoldDays = keepHolds == 0 ? nil : keepHolds
        let service = try ExecutorService(
            configuration: alpaca, system: system, stocksPath: stocksPath, calendar: try MarketCalendar(),
            catalog: AlgorithmRegistry.catalog, options: options, logger: logger)

        // SIGTERM / SIGINT: stop gracefully, and exit 0 within 2 s whatever happens.
        let shutdown = ShutdownSignals()
        await service.start()
        await shutdown.wait(logger: logger)
        await service.shutdown()
    }
}

extension ExecutorCommand {
    /// Parses and runs (top-level code can't use `@main` with an async command in a file named main.swift).
    static func launch() async {
        do {
            var command = try parseAsRoot()
            if let executor = command as? ExecutorCommand {
                try await executor.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
