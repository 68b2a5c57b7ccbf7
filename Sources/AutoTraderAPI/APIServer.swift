import AutoTraderCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import HummingbirdTLS
import NIOSSL
import ServiceLifecycle
import Synchronization
import TradingAlgorithms

/// How the api runs: where it listens, what it serves, how it paces itself.
public struct APIOptions: Sendable {
    /// Loopback by default: the kiosk on the Pi itself. The LAN (0.0.0.0) is the owner's explicit choice.
    public var host = "127.0.0.1"
    public var port = 5001
    /// The dashboard's files (served at `/`).
    public var frontendPath: String
    public var heartbeatInterval: Duration = .seconds(5)
    /// How long every reader (cards, cash, health) reuses the broker's clock and account.
    public var brokerCacheFor: Duration = .seconds(5)
    public var pinPolicy = PINGuessPolicy()
    /// Names and addresses besides loopback and the machine's own that `Host` may carry.
    public var allowedHosts = ""
    /// PEM files: with both, the api serves HTTPS only.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    public var limits = ConnectionLimits()
    /// Where the owner's phone notifications go (nil: none; the outbox's rows are marked skipped).
    public var notifyTarget: NotifyTarget?
    /// How often the trading watch judges halted/resumed and looks for the close.
    public var notifyWatchInterval: Duration = .seconds(5)

    public init(frontendPath: String) { self.frontendPath = frontendPath }
}

/// Assembles the api: routes, the PIN guard, static files, the heartbeat.
public enum APIServer {
    public static let serviceName = "api"
    /// Bodies are small JSON objects; anything bigger is refused with 413.
    public static let maxBodyBytes = 4096

    /// The application. `onListening` gets the host and the bound port (useful with port 0).
    public static func buildApplication(
        options: APIOptions, alpaca: AlpacaConfiguration, system: SystemDatabase, stocks: StocksDatabase,
        logger: Logger, notifier: SystemdNotifier = SystemdNotifier(),
        onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void = { _, _ in }
    ) throws -> some ApplicationProtocol {
        // The dashboard must answer quickly when the broker doesn't: one attempt, a short deadline.
        var quick = alpaca
        quick.requestTimeout = .seconds(2)
        var retryOnce = AlpacaClient.RetryPolicy()
        retryOnce.maxAttempts = 2
        retryOnce.maxRateLimitWaits = 1
        retryOnce.maxRateLimitDelay = .seconds(2)
        let client = AlpacaClient(configuration: quick, retryPolicy: retryOnce, logger: logger)
        var snapshotPolicy = AlpacaClient.RetryPolicy()
        snapshotPolicy.maxAttempts = 1
        snapshotPolicy.maxRateLimitWaits = 0
        let snapshotClient = AlpacaClient(configuration: quick, retryPolicy: snapshotPolicy, logger: logger)

        let reader = CardReader(system: system, stocks: stocks)
        let statistics = RequestStatistics()
        let equity = EquityHistory(system: system, stocks: stocks)
        let routes = APIRoutes(
            system: system, stocks: stocks, reader: reader, cards: try CardsCache(reader: reader, equity: equity),
            equity: equity,
            broker: BrokerSnapshotCache(
                client: snapshotClient, freshFor: options.brokerCacheFor, staleFor: max(.seconds(10), options.brokerCacheFor * 3), logger: logger),
            assets: AssetLookups(client: client),
            client: client, mode: alpaca.mode,
            pins: PINGuard(system: system, policy: options.pinPolicy, mode: alpaca.mode, logger: logger),
            creation: CardCreation(system: system, compiled: AlgorithmRegistry.catalog),
            heartbeatInterval: max(1, Int64(options.heartbeatInterval.seconds.rounded(.up))), logger: logger)

        let router = Router(context: APIRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.middlewares.add(BrowserSafetyMiddleware(
            hosts: AllowedHosts(extra: options.allowedHosts), scheme: options.tlsCertificatePath == nil ? "http" : "https"))
        router.middlewares.add(APIErrorMiddleware(logger: logger, statistics: statistics))
        router.middlewares.add(StaticFilesMiddleware(
            files: FileMiddleware(
                options.frontendPath,
                // The dashboard's files are not versioned by name: let browsers keep them but always revalidate (ETag).
                cacheControl: .init([(MediaType(type: .any), [.noCache])]),
                searchForIndexHtml: true, logger: logger)))
        routes.add(to: router)

        let status = APIStatus(
            writer: HeartbeatWriter(system: system, service: serviceName), interval: options.heartbeatInterval,
            statistics: statistics, mode: alpaca.mode)
        let heartbeat = HeartbeatService(reporting: status, interval: options.heartbeatInterval, notifier: notifier, logger: logger)
        let host = options.host
        return Application(
            router: router,
            server: try serverBuilder(options),
            configuration: .init(address: .hostname(host, port: options.port), serverName: "autotrader-api", backlog: 1024),
            // Notifications: the watch writes halted/resumed and the close summary; the sender delivers the outbox.
            services: [
                heartbeat, NotificationService(system: system, target: options.notifyTarget, logger: logger),
                TradingWatch(routes: routes, interval: options.notifyWatchInterval, logger: logger),
            ],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? options.port
                status.listening(host: host, port: port)
                onListening(host, port)
            },
            logger: logger)
    }
}

extension APIServer {
    /// HTTP/1.1 with the connection guard (caps, timeouts, body limits), over TLS when a certificate is given.
    static func serverBuilder(_ options: APIOptions) throws -> HTTPServerBuilder {
        let counter = ConnectionCounter()
        let limits = options.limits
        let http = HTTPServerBuilder.http1(configuration: .init(
            additionalChannelHandlers: [ConnectionGuardHandler(counter: counter, limits: limits, tls: options.tlsCertificatePath != nil)],
            idleTimeout: .nanoseconds(Int64(limits.idleTimeout.seconds * 1e9))))
        guard let certificatePath = options.tlsCertificatePath, let keyPath = options.tlsKeyPath else { return http }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw APIConfigurationError("cannot read the TLS certificate \(certificatePath) or key \(keyPath) (PEM files): \(error)")
        }
        guard !chain.isEmpty else { throw APIConfigurationError("no certificate in \(certificatePath)") }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return try .tls(http, tlsConfiguration: tls)
    }
}

/// A setting the api can't start with; says which and why.
public struct APIConfigurationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Serves frontend/ for everything outside /api: an /api path never falls through to a file.
struct StaticFilesMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let files: FileMiddleware<APIRequestContext, LocalFileSystem>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/api" || path.hasPrefix("/api/") { return try await next(request, context) }
        return try await files.handle(request, context: context, next: next)
    }
}

/// Counts answers for the heartbeat's detail.
final class RequestStatistics: Sendable {
    private let counts = Mutex<(requests: Int, serverErrors: Int)>((0, 0))
    func record(status: Int) {
        counts.withLock { counts in
            counts.requests += 1
            if status >= 500 { counts.serverErrors += 1 }
        }
    }
    var snapshot: (requests: Int, serverErrors: Int) { counts.withLock { $0 } }
}

/// What the api's heartbeat (service "api") says: `starting` until it listens (then it is ready), the
/// requests answered so far.
final class APIStatus: HeartbeatReporting {
    struct Detail: Encodable {
        let mode: String
        let listening: String?
        let requests: Int
        let serverErrors: Int
        let heartbeatInterval: Double
        enum CodingKeys: String, CodingKey {
            case mode, listening, requests, serverErrors = "server_errors", heartbeatInterval = "heartbeat_interval"
        }
    }

    let heartbeatWriter: HeartbeatWriter
    let readiness = ServiceReadiness()
    let interval: Duration
    let statistics: RequestStatistics
    let mode: TradingMode
    private let address = Mutex<String?>(nil)

    init(writer: HeartbeatWriter, interval: Duration, statistics: RequestStatistics, mode: TradingMode) {
        self.heartbeatWriter = writer
        self.interval = interval
        self.statistics = statistics
        self.mode = mode
    }

    /// Called once the socket is bound: the first "running" beat and READY=1 follow at once.
    func listening(host: String, port: Int) {
        let address = "http://\(host):\(port)"
        self.address.withLock { $0 = address }
        readiness.ready(status: "listening on \(address)")
    }

    func heartbeatReport() -> HeartbeatReport {
        let counts = statistics.snapshot
        let address = self.address.withLock { $0 }
        return HeartbeatReport(
            state: address == nil ? .starting : .running,
            detail: Detail(
                mode: mode.rawValue, listening: address, requests: counts.requests, serverErrors: counts.serverErrors,
                heartbeatInterval: interval.seconds),
            status: "\(counts.requests) requests; \(mode.rawValue)")
    }
}
