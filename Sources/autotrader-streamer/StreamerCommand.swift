import ArgumentParser
import AutoTraderCore
import Foundation
import Logging

/// `autotrader-streamer`: the market-data service. A thin layer over `StreamerService` (AutoTraderCore).
struct StreamerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autotrader-streamer",
        abstract: "Streams minute bars for exactly the tickers of running algorithms into stocks.db, with backfill and gap repair.",
        discussion: """
            Reads the running algorithms from system.db every second and keeps Alpaca's bar stream (or \
            autotrader-sim's, when no keys are configured: AUTOTRADER_SIM_URL) subscribed to their tickers. \
            Writes every regular-hours bar to stocks.db as it arrives, backfills history over REST when a \
            ticker is first needed and repairs gaps after every reconnect or restart. Writes a heartbeat \
            row (service_heartbeats in system.db) and, under systemd, sd_notify READY/WATCHDOG/STATUS. \
            SIGTERM or SIGINT: writes what is pending and exits 0 within 2 s. Logs go to standard error.
            """)

    @Option(name: .customLong("system-db"), help: "Path of system.db (default: AUTOTRADER_SYSTEM_DB or the AUTOTRADER_HOME layout).")
    var systemDatabase: String?

    @Option(name: .customLong("stocks-db"), help: "Path of stocks.db (default: AUTOTRADER_STOCKS_DB or the AUTOTRADER_HOME layout).")
    var stocksDatabase: String?

    @Option(help: "Configuration file (default: $AUTOTRADER_CONFIG, else /etc/autotrader/autotrader.env when present).")
    var config: String?

    @Option(name: .customLong("lookback-sessions"), help: "Whole sessions of history before today's to backfill (at least 2).")
    var lookbackSessions = 2

    @Option(name: .customLong("lookback-minutes"), help: "Market minutes of history the longest indicator needs (more sessions are fetched when needed).")
    var lookbackMinutes = 0

    @Option(name: .customLong("poll-interval"), help: "Seconds between reads of system.db for running algorithms.")
    var pollInterval: Double = 1

    @Option(name: .customLong("heartbeat-interval"), help: "Seconds between heartbeat rows.")
    var heartbeatInterval: Double = 5

    @Option(name: .customLong("idle-timeout"), help: "Replace a stream connection silent this many seconds while the market is open (0: never).")
    var idleTimeout: Double = 150

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard pollInterval > 0, heartbeatInterval > 0, idleTimeout >= 0 else {
            throw ValidationError("--poll-interval and --heartbeat-interval must be positive, --idle-timeout not negative")
        }
        guard lookbackSessions >= 2 else { throw ValidationError("--lookback-sessions must be at least 2") }
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        ServiceLogging.bootstrap(level: level) // one line per event; syslog priorities when stderr is the journal
        let logger = Logger(label: "autotrader-streamer")
        let settings = try Settings.load(configPath: config)
        let alpaca = try AlpacaConfiguration.resolve(settings)
        let system = try SystemDatabase.open(path: systemDatabase ?? settings.systemDatabasePath)
        let stocks = try StocksDatabase.open(path: stocksDatabase ?? settings.stocksDatabasePath)
        try stocks.limitWriterCache() // months of small writes, not a bulk import: memory stays flat
        var options = StreamerOptions()
        options.lookbackSessions = lookbackSessions
        options.lookbackMinutes = lookbackMinutes
        options.pollInterval = .milliseconds(Int64(pollInterval * 1000))
        options.heartbeatInterval = .milliseconds(Int64(heartbeatInterval * 1000))
        options.idleTimeout = idleTimeout > 0 ? .milliseconds(Int64(idleTimeout * 1000)) : nil
        let service = StreamerService(
            configuration: alpaca, system: system, stocks: stocks, calendar: try MarketCalendar(), options: options, logger: logger)

        // SIGTERM / SIGINT: stop gracefully, and exit 0 within 2 s whatever happens.
        let shutdown = ShutdownSignals()
        await service.start()
        await shutdown.wait(logger: logger)
        await service.shutdown()
    }
}

extension StreamerCommand {
    /// Parses and runs (top-level code can't use `@main` with an async command in a file named main.swift).
    static func launch() async {
        do {
            var command = try parseAsRoot()
            if let streamer = command as? StreamerCommand {
                try await streamer.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
