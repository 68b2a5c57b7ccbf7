import ArgumentParser
import AutoTraderAPI
import AutoTraderCore
import Foundation
import Hummingbird
import Logging

/// `autotrader-api`: the dashboard's HTTP API. A thin layer over `AutoTraderAPI`.
struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autotrader-api",
        abstract: "Serves the dashboard (frontend/) and its JSON API under /api.",
        discussion: """
            Reads and writes system.db and reads stocks.db; asks Alpaca (or autotrader-sim when no keys are \
            configured: AUTOTRADER_SIM_URL) for the clock, the account and assets. Everything that changes \
            state needs the PIN. Prints "autotrader-api listening on http://HOST:PORT" once it listens (with \
            --port 0, the port it got). Writes a heartbeat row (service_heartbeats, service "api") and, under \
            systemd, sd_notify READY/WATCHDOG/STATUS. SIGTERM or SIGINT: finishes the requests under way and \
            exits 0. Logs go to standard error; they never hold the PIN or a key.
            """)

    @Option(help: "Port to listen on (default: AUTOTRADER_API_PORT, else 5001); 0 picks a free one.")
    var port: Int?

    @Option(help: "Address to listen on (default: AUTOTRADER_API_BIND, else 0.0.0.0: the kiosk and phones on the LAN).")
    var bind: String?

    @Option(help: "Folder of the dashboard's files (default: frontend under AUTOTRADER_HOME, else the current folder).")
    var frontend: String?

    @Option(name: .customLong("system-db"), help: "Path of system.db (default: AUTOTRADER_SYSTEM_DB or the AUTOTRADER_HOME layout).")
    var systemDatabase: String?

    @Option(name: .customLong("stocks-db"), help: "Path of stocks.db (default: AUTOTRADER_STOCKS_DB or the AUTOTRADER_HOME layout).")
    var stocksDatabase: String?

    @Option(help: "Configuration file (default: $AUTOTRADER_CONFIG, else /etc/autotrader/autotrader.env when present).")
    var config: String?

    @Option(name: .customLong("heartbeat-interval"), help: "Seconds between heartbeat rows.")
    var heartbeatInterval: Double = 5

    @Option(name: .customLong("broker-cache"), help: "Seconds GET /api/algorithms reuses the broker's clock and account.")
    var brokerCache: Double = 2

    @Option(name: .customLong("pin-lockout"), help: "Seconds a client is locked out after 5 wrong PINs within a minute.")
    var pinLockout: Double = 60

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be 0…65535") }
        guard heartbeatInterval > 0, brokerCache >= 0, pinLockout > 0 else {
            throw ValidationError("--heartbeat-interval and --pin-lockout must be positive, --broker-cache not negative")
        }
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        ServiceLogging.bootstrap(level: level) // one line per event; syslog priorities when stderr is the journal
        var logger = Logger(label: "autotrader-api")
        logger.logLevel = level
        let settings = try Settings.load(configPath: config)
        let alpaca = try AlpacaConfiguration.resolve(settings)

        var resolvedPort = 5001
        if let port {
            resolvedPort = port
        } else if let text = settings.values["AUTOTRADER_API_PORT"], !text.isEmpty {
            guard let value = Int(text), (0...65535).contains(value) else {
                throw ValidationError("AUTOTRADER_API_PORT must be a port number, not \(text.debugDescription)")
            }
            resolvedPort = value
        }
        let host = bind ?? settings.values["AUTOTRADER_API_BIND"].flatMap { $0.isEmpty ? nil : $0 } ?? "0.0.0.0"

        let system = try SystemDatabase.open(path: systemDatabase ?? settings.systemDatabasePath)
        let stocks = try StocksDatabase.open(path: stocksDatabase ?? settings.stocksDatabasePath)
        var options = APIOptions(frontendPath: frontend ?? settings.home + "/frontend")
        options.host = host
        options.port = resolvedPort
        options.heartbeatInterval = .milliseconds(Int64(heartbeatInterval * 1000))
        options.brokerCacheFor = .milliseconds(Int64(brokerCache * 1000))
        options.pinPolicy.lockout = .milliseconds(Int64(pinLockout * 1000))
        if !FileManager.default.fileExists(atPath: options.frontendPath + "/index.html") {
            logger.warning("no dashboard to serve: index.html not found", metadata: ["frontend": "\(options.frontendPath)"])
        }
        logger.info("api starting", metadata: [
            "alpaca": "\(alpaca.description)", "system_db": "\(system.path)", "stocks_db": "\(stocks.path)",
            "frontend": "\(options.frontendPath)",
        ])
        let app = try APIServer.buildApplication(
            options: options, alpaca: alpaca, system: system, stocks: stocks, logger: logger
        ) { host, port in
            // Tests read this line to learn the port; written unbuffered.
            FileHandle.standardOutput.write(Data("autotrader-api listening on http://\(host):\(port)\n".utf8))
        }
        try await app.runService()
    }
}

extension APICommand {
    /// Parses and runs (top-level code can't use `@main` with an async command in a file named main.swift).
    static func launch() async {
        do {
            var command = try parseAsRoot()
            if let api = command as? APICommand {
                try await api.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
