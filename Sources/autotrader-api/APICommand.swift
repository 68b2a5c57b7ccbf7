import ArgumentParser
import AutoTraderAPI
import AutoTraderCore
import Foundation
import Hummingbird
import Logging

/// `autotrader-api`: the dashboard's HTTP API. A thin layer over `AutoTraderAPI`.
@main
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

    @OptionGroup var listen: ListenOptions

    @Option(help: "Folder of the dashboard's files (default: frontend under AUTOTRADER_HOME, else the current folder).")
    var frontend: String?

    @OptionGroup var service: ServiceOptions

    @Option(help: "Seconds every reader reuses the broker's clock and account (at most one refresh per period).")
    var brokerCache: Double = 5

    @OptionGroup var pinPolicy: PINPolicyOptions

    @OptionGroup var connectionLimits: ConnectionLimitOptions

    @Option(help: "Seconds between looks for a trading halt or the close (notifications).")
    var notifyWatchInterval: Double = 5

    func validate() throws {
        guard brokerCache >= 0 else { throw ValidationError("--broker-cache must not be negative") }
        guard notifyWatchInterval > 0 else { throw ValidationError("--notify-watch-interval must be positive") }
    }

    func run() async throws {
        let logger = service.logging.bootstrap(label: "autotrader-api")
        let settings = try service.settings()
        let alpaca = try AlpacaConfiguration.resolve(settings)
        let port = try listen.port(settings) // a bad AUTOTRADER_API_PORT stops us before any database opens

        let descriptors = FileDescriptorLimit.raiseToHardLimit()
        if (0..<2048).contains(descriptors) {
            logger.warning("few file descriptors: the connection caps need more (LimitNOFILE=8192 in the unit)", metadata: ["limit": "\(descriptors)"])
        }
        let system = try SystemDatabase.open(path: service.systemPath(settings))
        let stocks = try StocksDatabase.open(path: service.stocksPath(settings))
        var options = APIOptions(frontendPath: frontend ?? settings.home + "/frontend")
        options.host = listen.host(settings)
        options.port = port
        options.heartbeatInterval = service.heartbeatInterval
        options.brokerCacheFor = .milliseconds(Int64(brokerCache * 1000))
        options.limits = connectionLimits.limits
        options.pinPolicy = pinPolicy.policy
        options.allowedHosts = settings.values["AUTOTRADER_API_ALLOWED_HOSTS"] ?? ""
        let certificate = settings.values["AUTOTRADER_API_TLS_CERT"].flatMap { $0.isEmpty ? nil : $0 }
        let key = settings.values["AUTOTRADER_API_TLS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        guard (certificate == nil) == (key == nil) else {
            throw ValidationError("AUTOTRADER_API_TLS_CERT and AUTOTRADER_API_TLS_KEY go together: set both (PEM files) or neither")
        }
        options.tlsCertificatePath = certificate
        options.notifyWatchInterval = .milliseconds(Int64(notifyWatchInterval * 1000))
        do {
            options.notifyTarget = try NotifyTarget.configured(settings)
        } catch {
            // A bad notification URL must not take the dashboard down: said here and by the doctor.
            logger.error("notifications off: \(error)")
        }
        options.tlsKeyPath = key
        if !FileManager.default.fileExists(atPath: options.frontendPath + "/index.html") {
            logger.warning("no dashboard to serve: index.html not found", metadata: ["frontend": "\(options.frontendPath)"])
        }
        logger.info("api starting", metadata: [
            "alpaca": "\(alpaca.description)", "system_db": "\(system.path)", "stocks_db": "\(stocks.path)",
            "frontend": "\(options.frontendPath)",
        ])
        let app = try APIServer.buildApplication(
            options: options, alpaca: alpaca, system: system, stocks: stocks, logger: logger
        ) { [scheme = options.tlsCertificatePath == nil ? "http" : "https"] host, port in
            // Tests read this line to learn the port; written unbuffered.
            FileHandle.standardOutput.write(Data("autotrader-api listening on \(scheme)://\(host):\(port)\n".utf8))
        }
        // SIGTERM / SIGINT: the server finishes the requests under way, then the heartbeat marks the row
        // stopped; exit 0 at most 4 s later whatever is left.
        try await ServiceRunner(logger: logger, exitDeadline: .seconds(4)).run([app])
        logger.info("api stopped")
    }
}

/// `--port` and `--bind`: where the api listens, each falling back to the configuration file, then a default.
struct ListenOptions: ParsableArguments {
    @Option(help: "Port to listen on (default: AUTOTRADER_API_PORT, else 5001); 0 picks a free one.")
    var port: Int?

    @Option(help: "Address to listen on (default: AUTOTRADER_API_BIND, else 127.0.0.1: the kiosk only; 0.0.0.0 for phones on the LAN).")
    var bind: String?

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be 0…65535") }
    }

    /// `--port`, else AUTOTRADER_API_PORT (checked here: the file is read after parsing), else 5001.
    func port(_ settings: Settings) throws -> Int {
        if let port { return port }
        guard let text = settings.values["AUTOTRADER_API_PORT"], !text.isEmpty else { return 5001 }
        guard let value = Int(text), (0...65535).contains(value) else {
            throw ValidationError("AUTOTRADER_API_PORT must be a port number, not \(text.debugDescription)")
        }
        return value
    }

    /// `--bind`, else a non-empty AUTOTRADER_API_BIND, else loopback only.
    func host(_ settings: Settings) -> String {
        bind ?? settings.values["AUTOTRADER_API_BIND"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
    }
}

/// The PIN's guard against guessing, as `PINGuessPolicy` takes it (its longest wait stays the library's).
struct PINPolicyOptions: ParsableArguments {
    @Option(help: "Wrong PINs tolerated per hour, from all clients together.")
    var pinGuessesPerHour = 10

    @Option(help: "Seconds to wait after a wrong PIN, doubling with each one this hour.")
    var pinBackoff: Double = 1

    func validate() throws {
        guard pinBackoff >= 0, (1...100).contains(pinGuessesPerHour) else {
            throw ValidationError("--pin-backoff must not be negative, --pin-guesses-per-hour 1…100")
        }
    }

    var policy: PINGuessPolicy {
        var policy = PINGuessPolicy()
        policy.perHour = pinGuessesPerHour
        policy.backoff = pinBackoff
        return policy
    }
}

/// The per-connection limits the command line sets; the library's defaults stand for the rest (total, body).
struct ConnectionLimitOptions: ParsableArguments {
    @Option(help: "Seconds a connection may stay open without sending a whole request head.")
    var idleTimeout: Double = 15

    @Option(help: "Simultaneous connections kept from one address; more are closed at once.")
    var connectionsPerAddress = 32

    func validate() throws {
        guard idleTimeout > 0, (1...10_000).contains(connectionsPerAddress) else {
            throw ValidationError("--idle-timeout must be positive, --connections-per-address 1…10000")
        }
    }

    var limits: ConnectionLimits {
        var limits = ConnectionLimits()
        limits.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        limits.perAddress = connectionsPerAddress
        return limits
    }
}
