import ArgumentParser
import AutoTraderCore
import Foundation
import Logging

/// `autotrader-streamer`: the market-data service. A thin layer over `StreamerService` (AutoTraderCore).
@main
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

    @OptionGroup var service: ServiceOptions

    @Option(help: "Whole sessions of history before today's to backfill (at least 2).")
    var lookbackSessions = 2

    @Option(help: "Market minutes of history the longest indicator needs (more sessions are fetched when needed).")
    var lookbackMinutes = 0

    @Option(help: "Seconds between reads of system.db for running algorithms.")
    var pollInterval: Double = 1

    @Option(help: "Replace a stream connection silent this many seconds while the market is open (0: never).")
    var idleTimeout: Double = 150

    func validate() throws {
        guard pollInterval > 0, idleTimeout >= 0 else {
            throw ValidationError("--poll-interval must be positive, --idle-timeout not negative")
        }
        guard lookbackSessions >= 2 else { throw ValidationError("--lookback-sessions must be at least 2") }
    }

    /// The command line's part of the streamer's options; the library's defaults stand for the rest.
    var streamerOptions: StreamerOptions {
        var options = StreamerOptions()
        options.lookbackSessions = lookbackSessions
        options.lookbackMinutes = lookbackMinutes
        options.pollInterval = .seconds(pollInterval)
        options.idleTimeout = idleTimeout > 0 ? .seconds(idleTimeout) : nil
        return options
    }

    func run() async throws {
        let logger = service.logging.bootstrap(label: "autotrader-streamer")
        let settings = try service.settings()
        let alpaca = try AlpacaConfiguration.resolve(settings)
        let system = try SystemDatabase.open(path: service.systemPath(settings))
        let stocks = try StocksDatabase.open(path: service.stocksPath(settings))
        try stocks.limitWriterCache() // months of small writes, not a bulk import: memory stays flat
        let streamer = StreamerService(
            configuration: alpaca, system: system, stocks: stocks, calendar: try MarketCalendar(),
            options: streamerOptions, logger: logger)
        // SIGTERM / SIGINT: the streamer stops, then its heartbeat marks the row stopped; exit 0 within 2 s.
        try await ServiceRunner(logger: logger).run([
            HeartbeatService(reporting: streamer, interval: service.heartbeatInterval, logger: logger), streamer,
        ])
    }
}
