import ArgumentParser
import AutoTraderCore
import AutoTraderSim
import Foundation
import Logging
import ServiceLifecycle

/// `autotrader-sim`: the command line, turned into a `SimulatorConfiguration` for the library.
@main
struct SimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autotrader-sim",
        abstract: "A local Alpaca-compatible exchange: trading REST, market-data REST and the bar stream on one port.",
        discussion: """
            Speaks Alpaca's wire protocol (Trading API v2, Market Data v2 stock bars, the v2 stock stream at \
            /v2/iex and /v2/sip) with deterministic synthetic minute bars and a paper matching engine, so \
            AutoTrader's services can't tell it from Alpaca except by its URL. Prints exactly one line, \
            "autotrader-sim listening on http://HOST:PORT", once it listens; logs go to standard error.

            Inspection endpoints for tests (no key, loopback only): GET /sim/orders, /sim/fills, \
            /sim/bars?symbols=A,B&start=&end=, /sim/stats, /sim/clock, /sim/sends (with --record-sends); \
            POST /sim/disconnect, POST /sim/silence[?seconds=N] (open connections stay open but send nothing).

            Every random choice (bars, faults, order ids) comes from --seed: the same seed and the same \
            sequence of requests give the same results.
            """)

    @OptionGroup(title: "Listening and keys") var listen: SimulatorListenOptions
    @OptionGroup(title: "Market and clock") var market: SimulatorMarketOptions
    @OptionGroup(title: "Paper account and orders") var account: SimulatorAccountOptions
    @OptionGroup(title: "Bar stream") var stream: SimulatorStreamOptions
    @OptionGroup(title: "Rate limits and injected faults") var faults: SimulatorFaultOptions
    @OptionGroup var logging: LogLevelOption

    /// Each group sets its own part of the configuration; the whole is then checked as one.
    func makeConfiguration() throws -> SimulatorConfiguration {
        var configuration = SimulatorConfiguration()
        listen.apply(to: &configuration, environment: ProcessInfo.processInfo.environment)
        try market.apply(to: &configuration)
        try account.apply(to: &configuration)
        stream.apply(to: &configuration)
        try faults.apply(to: &configuration)
        if let problem = configuration.problem { throw ValidationError(problem) }
        return configuration
    }

    /// Runs until SIGTERM or SIGINT, printing `autotrader-sim listening on http://HOST:PORT` once listening.
    func run() async throws {
        let configuration = try makeConfiguration()
        let logger = logging.bootstrap(label: "autotrader-sim")
        logger.info("starting", metadata: [
            "start": "\(RFC3339.format(configuration.start ?? Date()))", "speed": "\(configuration.speed)",
            "seed": "\(configuration.seed)", "skip_closed": "\(configuration.skipClosed)",
            "fill_price": "\(configuration.fillPrice.rawValue)", "key_id": "\(configuration.keyID)",
            "account": "\(configuration.accountType.rawValue)",
        ])
        let app = try Simulator.buildApplication(configuration, logger: logger) { host, port in
            // Tests read this line to learn the port; a pipe or file would otherwise hold it in a buffer.
            FileHandle.standardOutput.write(Data("autotrader-sim listening on http://\(host):\(port)\n".utf8))
            SystemdNotifier().ready(status: "listening on http://\(host):\(port)") // Type=notify under systemd
        }
        // The exchange closes its streams itself and waits for its clients' requests to end; a client that never
        // lets go (one stalled in a test, a hung dashboard) can't keep it running past this.
        try await ServiceRunner(logger: logger, exitDeadline: .seconds(10)).run([app])
    }
}

/// Where the simulator listens and the one key pair it accepts.
struct SimulatorListenOptions: ParsableArguments {
    @Option(help: "Address to listen on.")
    var host = SimulatorDefaults.host

    @Option(help: "Port to listen on; 0 picks a free one (read it from the \"listening on\" line).")
    var port = SimulatorDefaults.port

    @Option(help: "API key id to accept (default: $AUTOTRADER_SIM_KEY_ID, else \(SimulatorDefaults.keyID)).")
    var keyID: String?

    @Option(help: "API secret to accept (default: $AUTOTRADER_SIM_SECRET_KEY, else the built-in simulator secret).")
    var secretKey: String?

    func apply(to configuration: inout SimulatorConfiguration, environment: [String: String]) {
        configuration.host = host
        configuration.port = port
        configuration.keyID = keyID ?? environment["AUTOTRADER_SIM_KEY_ID"] ?? SimulatorDefaults.keyID
        configuration.secretKey = secretKey ?? environment["AUTOTRADER_SIM_SECRET_KEY"] ?? SimulatorDefaults.secretKey
    }
}

/// The synthetic market: its seed, its clock and its universe.
struct SimulatorMarketOptions: ParsableArguments {
    @Option(help: "Seed for the bars and for every random fault decision.")
    var seed: UInt64 = 1

    @Option(help: "Simulated start time, YYYY-MM-DDTHH:MM:SSZ (default: the real now).")
    var start: String?

    @Option(help: "Simulated seconds per real second (60 = one trading minute per second).")
    var speed: Double = 1

    @Flag(help: "About a real second after a close, jump the clock to the next open (no waiting out nights and weekends).")
    var skipClosed = false

    @Flag(help: "Also stream and serve bars 04:00–09:30 and 16:00–20:00 New York time on trading days.")
    var extendedHours = false

    @Option(help: "Add N letter-only symbols (ZZAAA, ZZAAB, …) to the universe.")
    var syntheticSymbols = 0

    func apply(to configuration: inout SimulatorConfiguration) throws {
        configuration.seed = seed
        if let start {
            guard let date = RFC3339.parse(start) else { throw ValidationError("--start must look like 2024-06-04T13:30:00Z") }
            configuration.start = date
        }
        configuration.speed = speed
        configuration.skipClosed = skipClosed
        configuration.extendedHours = extendedHours
        configuration.syntheticSymbols = syntheticSymbols
    }
}

/// The paper account and how its orders are filled.
struct SimulatorAccountOptions: ParsableArguments {
    @Option(help: "Starting cash of the paper account, in dollars.")
    var cash = "100000"

    @Option(help: "margin (Alpaca's default for a paper account: buying power up to 4× equity, shorting) or cash (multiplier 1, no shorting).")
    var account: SimulatorConfiguration.AccountType = .margin

    @Option(help: "Market order fill price: next-open (open of the symbol's next bar) or last-close (at once, latest close).")
    var fillPrice: SimulatorConfiguration.FillPriceRule = .nextOpen

    @Option(help: "HTTP status for a reused client_order_id (Alpaca's is unverified).")
    var duplicateClientOrderIDStatus = 422

    func apply(to configuration: inout SimulatorConfiguration) throws {
        // Exact decimal dollars: a Double would round the account's cash.
        guard let money = Money.parse(cash) else { throw ValidationError("--cash must be a plain number of dollars") }
        configuration.cash = money
        configuration.accountType = account
        configuration.fillPrice = fillPrice
        configuration.duplicateClientOrderIDStatus = duplicateClientOrderIDStatus
    }
}

/// The bar stream's authentication, connection limits, feeds and timing.
struct SimulatorStreamOptions: ParsableArguments {
    @Option(help: "Seconds a stream connection has to authenticate.")
    var authTimeout: Double = 10

    @Option(help: "Authenticated stream connections allowed per key and feed.")
    var maxConnections = 1

    @Option(help: "Feeds the key's plan includes (iex, sip or iex,sip); others answer 409 at stream auth.")
    var feeds = "iex,sip"

    @Option(help: "Distinct symbols one stream connection may subscribe to (default: no limit).")
    var symbolLimit: Int?

    @Option(name: .customLong("bar-delay-ms"), help: "Real milliseconds between a minute's end and its bars on the stream.")
    var barDelay = 50

    @Option(help: "Probability that a bar is corrected ~30 simulated seconds after its minute (a `u` message).")
    var updatedBarRate: Double = 0

    @Flag(help: "Remember the real instant each bar frame goes to its socket, for GET /sim/sends (latency measurements).")
    var recordSends = false

    func apply(to configuration: inout SimulatorConfiguration) {
        configuration.authTimeout = authTimeout
        configuration.maxConnections = maxConnections
        configuration.feeds = Set(feeds.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        configuration.symbolLimit = symbolLimit
        configuration.barDelayMilliseconds = barDelay
        configuration.updatedBarRate = updatedBarRate
        configuration.recordSends = recordSends
    }
}

/// Alpaca's rate limit, and the faults a test can ask for: errors, latency, disconnects, rejections, gaps, partial fills.
struct SimulatorFaultOptions: ParsableArguments {
    @Option(help: "Requests per real minute reported in X-Ratelimit-Limit.")
    var rateLimit = 200

    @Flag(help: "Answer 429 once --rate-limit requests were made in the current minute.")
    var enforceRateLimit = false

    @Option(help: "Fraction of REST requests answered 500 (for POST/DELETE sometimes after the work was done).")
    var errorRate: Double = 0

    @Option(name: .customLong("latency-ms"), help: "Milliseconds added to every REST answer.")
    var latency = 0

    @Option(help: "N:M — every M-th REST request starts a burst of N 429 answers.")
    var rateLimitBurst: String?

    @Option(help: "Close every stream connection every S real seconds.")
    var disconnectEvery: Double?

    @Option(help: "Fraction of accepted orders that are then rejected.")
    var rejectRate: Double = 0

    @Option(help: "Every N-th regular minute opens --gap-percent above the previous close (a forced gap).")
    var gapEvery: Int?

    @Option(help: "The size of a forced gap, in percent (default 2).")
    var gapPercent: Double = 2

    @Option(help: "Fraction of orders that fill only part of their qty (the rest is canceled at the day's end or by DELETE).")
    var partialFillRate: Double = 0

    func apply(to configuration: inout SimulatorConfiguration) throws {
        configuration.rateLimit = rateLimit
        configuration.enforceRateLimit = enforceRateLimit
        configuration.errorRate = errorRate
        configuration.latencyMilliseconds = latency
        if let rateLimitBurst {
            guard let burst = SimulatorConfiguration.RateLimitBurst(rateLimitBurst) else {
                throw ValidationError("--rate-limit-burst takes N:M with both above 0, e.g. 3:20")
            }
            configuration.rateLimitBurst = burst
        }
        configuration.disconnectEvery = disconnectEvery
        configuration.rejectRate = rejectRate
        configuration.partialFillRate = partialFillRate
        configuration.gapEvery = gapEvery
        configuration.gapPercent = gapPercent
    }
}

extension SimulatorConfiguration.FillPriceRule: ExpressibleByArgument {}
extension SimulatorConfiguration.AccountType: ExpressibleByArgument {}
