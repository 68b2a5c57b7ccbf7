import ArgumentParser
import AutoTraderCore
import Foundation
import Logging
import TradingAlgorithms

/// `autotrader-executor`: the trading service. A thin layer over `ExecutorService` (AutoTraderCore).
@main
struct ExecutorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autotrader-executor",
        abstract: "Runs every running algorithm each market minute and trades crash-safely.",
        discussion: """
            Follows the broker's clock (Alpaca's, or autotrader-sim's when no keys are configured). As soon as \
            a market minute's bars are in stocks.db it runs each running card's algorithm, applies the guards, \
            writes an order intent to system.db, sends it, and records the fill as a transaction in the same \
            SQLite transaction that closes the intent. Fills are learned from Alpaca's trade-updates stream as \
            they happen; polling is the fallback while the stream is down, and reconciles at each (re)connect. On start it reconciles every open intent with the broker \
            by client_order_id. Carries out "sell everything, then stop" requests. Logs every decision to \
            system.db (decisions), writes a heartbeat row and, under systemd, sd_notify READY/WATCHDOG/STATUS. \
            SIGTERM or SIGINT: exits 0 within 2 s (an order in flight is reconciled on the next start).
            """)

    @OptionGroup var service: ServiceOptions

    @Option(help: "Seconds a decision may take before it is abandoned.")
    var decisionTimeout: Double = 2

    @Option(help: "Seconds an order intent unknown to the broker may be in flight before it is closed unsent.")
    var notFoundGrace: Double = 5

    @Option(help: "on: learn fills from Alpaca's trade-updates stream as they happen, polling as the fallback; off: by polling alone.")
    var tradeUpdates: TradeUpdates = .on

    @Option(help: "Seconds an open order waits for its trade update before it is asked about anyway (while the stream listens).")
    var streamedLook: Double = 30

    @Option(help: "Days the decision log keeps its 'hold' rows (0: for good); orders, refusals and errors are always kept.")
    var keepHolds = 7

    @Option(name: .customLong("algorithm-dir"), help: "The folder of script algorithms (default: AUTOTRADER_ALGORITHM_DIR, else algorithm/ under AUTOTRADER_HOME).")
    var algorithmDirectory: String?

    @Option(name: .customLong("script-memory-mb"), help: "Each script worker's address-space limit in MiB (0: none).")
    var scriptMemory = 1024

    func validate() throws {
        guard decisionTimeout > 0, notFoundGrace >= 0, keepHolds >= 0 else {
            throw ValidationError("--decision-timeout must be positive, --not-found-grace and --keep-holds not negative")
        }
        guard streamedLook > 0 else { throw ValidationError("--streamed-look must be positive") }
    }

    func run() async throws {
        let logger = service.logging.bootstrap(label: "autotrader-executor")
        let settings = try service.settings()
        let alpaca = try AlpacaConfiguration.resolve(settings)
        let system = try SystemDatabase.open(path: service.systemPath(settings))
        try system.limitWriterCache() // months of small writes: memory stays flat
        let stocksPath = service.stocksPath(settings)
        _ = try StocksDatabase.open(path: stocksPath) // checks the file and its schema before trading
        var options = ExecutorOptions()
        options.decisionTimeLimit = .seconds(decisionTimeout)
        options.notFoundGrace = .seconds(notFoundGrace)
        options.keepHoldDays = keepHolds == 0 ? nil : keepHolds
        options.tradeUpdates = tradeUpdates == .on
        options.streamedLook = .seconds(streamedLook)
        var scriptOptions = ScriptAlgorithms.Options(directory: algorithmDirectory ?? settings.algorithmDirectory)
        scriptOptions.timeLimit = options.decisionTimeLimit
        scriptOptions.memoryLimitBytes = scriptMemory > 0 ? UInt64(scriptMemory) << 20 : nil
        let scripts = ScriptAlgorithms(options: scriptOptions, compiled: AlgorithmRegistry.catalog, system: system, logger: logger)
        let executor = try ExecutorService(
            configuration: alpaca, system: system, stocksPath: stocksPath,
            calendar: try MarketCalendar(), catalog: AlgorithmRegistry.catalog, options: options, logger: logger,
            scripts: scripts)
        // The backtests the api queued, one at a time on a thread at the lowest priority: never before a live minute.
        let backtests = BacktestQueueService(
            system: system,
            runner: BacktestQueueRunner(
                system: system, stocks: try StocksDatabase.open(path: stocksPath), calendar: try MarketCalendar(),
                compiled: AlgorithmRegistry.catalog, client: AlpacaClient(configuration: alpaca, logger: logger),
                scripts: ScriptBacktest.Options(queueOf: scriptOptions), logger: logger),
            logger: logger)
        // SIGTERM / SIGINT: the executor stops, then its heartbeat marks the row stopped; exit 0 within 2 s.
        try await ServiceRunner(logger: logger).run([
            HeartbeatService(reporting: executor, interval: service.heartbeatInterval, logger: logger), executor, backtests,
        ])
    }
}

/// `--trade-updates`: whether fills are learned from the stream (the parser refuses any other word).
enum TradeUpdates: String, CaseIterable, ExpressibleByArgument {
    case on, off
}
