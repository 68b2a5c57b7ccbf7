import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Alpaca's trading REST v2 and market-data REST v2, for the calls AutoTrader makes.
///
/// The same code talks to Alpaca on a Pi and to `autotrader-sim` in tests: only the
/// URLs in `AlpacaConfiguration` differ. Credentials go in Alpaca's headers and are
/// never logged. Retries follow what is safe:
/// - HTTP 429: wait as `Retry-After` / `X-Ratelimit-Reset` say (all requests share the pause), then retry;
/// - 5xx and no answer: bounded retries with backoff for reads and cancels; an order
///   submit is repeated only with the same `client_order_id`, so Alpaca itself
///   refuses a duplicate — and that refusal is answered with the order the first
///   attempt created.
public struct AlpacaClient: Sendable {
    public let configuration: AlpacaConfiguration
    public let retryPolicy: RetryPolicy
    let http: HTTPClient
    let logger: Logger
    let rateLimit = RateLimitGate()

    /// How hard to try before giving up.
    public struct RetryPolicy: Sendable {
        /// Attempts for a failure that may be transient (5xx, no answer), the first included.
        public var maxAttempts = 4
        /// Waits for a 429 before giving up.
        public var maxRateLimitWaits = 6
        public var baseDelay: Duration = .milliseconds(200)
        public var maxDelay: Duration = .seconds(5)
        /// Never wait longer than this for a rate-limit reset, whatever the headers say.
        public var maxRateLimitDelay: Duration = .seconds(60)

        public init() {}
    }

    public init(
        configuration: AlpacaConfiguration, retryPolicy: RetryPolicy = RetryPolicy(), httpClient: HTTPClient = .shared,
        logger: Logger = Logger(label: "alpaca")
    ) {
        self.configuration = configuration
        self.retryPolicy = retryPolicy
        self.http = httpClient
        self.logger = logger
    }

    // MARK: - Trading

    public func account() async throws -> AlpacaAccount {
        try await get(configuration.tradingURL, "/v2/account")
    }

    /// The asset, or nil when Alpaca doesn't know the symbol.
    public func asset(symbol: String) async throws -> AlpacaAsset? {
        do {
            return try await get(configuration.tradingURL, "/v2/assets/\(Self.pathComponent(symbol))")
        } catch let error as AlpacaError where error.isNotFound {
            return nil
        }
    }

    public func clock() async throws -> AlpacaClock {
        try await get(configuration.tradingURL, "/v2/clock")
    }

    public func positions() async throws -> [AlpacaPosition] {
        try await get(configuration.tradingURL, "/v2/positions")
    }

    /// Submits a day order (market, or limit when the request has a limit). Safe to call again with the same request after a crash or
    /// a lost answer: the same `client_order_id` can only ever make one order, which is returned.
    public func submitOrder(_ order: OrderRequest) async throws -> AlpacaOrder {
        let body = try JSONEncoder.alpaca.encode(order)
        do {
            return try await send(.POST, configuration.tradingURL, "/v2/orders", body: body, repeatable: true)
        } catch let error as AlpacaError where error.isDuplicateClientOrderID {
            // Ours from an earlier attempt whose answer was lost, or from before a restart.
            guard let existing = try await self.order(clientOrderID: order.clientOrderId) else { throw error }
            guard existing.symbol == order.symbol, existing.side == order.side, existing.qty == Decimal(order.qty) else {
                throw error
            }
            logger.info("order already submitted; using it", metadata: [
                "client_order_id": "\(order.clientOrderId)", "order_id": "\(existing.id)", "status": "\(existing.status)",
            ])
            return existing
        }
    }

    /// The order, or nil when Alpaca has none with that id.
    public func order(id: String) async throws -> AlpacaOrder? {
        do {
            return try await get(configuration.tradingURL, "/v2/orders/\(Self.pathComponent(id))")
        } catch let error as AlpacaError where error.isNotFound {
            return nil
        }
    }

    /// The order with this client order id, or nil when there is none (it was never received).
    public func order(clientOrderID: String) async throws -> AlpacaOrder? {
        do {
            return try await get(
                configuration.tradingURL, "/v2/orders:by_client_order_id",
                query: [URLQueryItem(name: "client_order_id", value: clientOrderID)])
        } catch let error as AlpacaError where error.isNotFound {
            return nil
        }
    }

    /// Which orders `orders(…)` lists.
    public enum OrderListStatus: String, Sendable { case open, closed, all }

    public func orders(
        status: OrderListStatus = .open, limit: Int = 500, after: Date? = nil, until: Date? = nil, ascending: Bool = false,
        symbols: [String] = []
    ) async throws -> [AlpacaOrder] {
        var query = [
            URLQueryItem(name: "status", value: status.rawValue), URLQueryItem(name: "limit", value: String(limit)),
            URLQueryItem(name: "direction", value: ascending ? "asc" : "desc"),
        ]
        if let after { query.append(URLQueryItem(name: "after", value: RFC3339.format(after))) }
        if let until { query.append(URLQueryItem(name: "until", value: RFC3339.format(until))) }
        if !symbols.isEmpty { query.append(URLQueryItem(name: "symbols", value: symbols.joined(separator: ","))) }
        return try await get(configuration.tradingURL, "/v2/orders", query: query)
    }

    /// Asks Alpaca to cancel an order (accepted means requested: the final state arrives later).
    /// An order that can no longer be canceled (filled, already canceled) is not an error here:
    /// the caller reads the order to see how it ended.
    public func cancelOrder(id: String) async throws {
        do {
            let _: Empty = try await send(.DELETE, configuration.tradingURL, "/v2/orders/\(Self.pathComponent(id))", repeatable: true)
        } catch let error as AlpacaError where error.status == 422 {
            logger.info("order no longer cancelable", metadata: ["order_id": "\(id)", "reason": "\(error.message)"])
        }
    }

    // MARK: - Market data

    /// Minute bars of several symbols with `from <= t < to`, page by page (each page handed over as it arrives).
    public func minuteBars(
        symbols: [String], from: Timestamp, to: Timestamp, pageLimit: Int = 10_000,
        onPage: @Sendable ([String: [AlpacaBar]]) async throws -> Void
    ) async throws {
        guard !symbols.isEmpty, from < to else { return }
        var token: String?
        repeat {
            var query = [
                URLQueryItem(name: "symbols", value: symbols.joined(separator: ",")),
                URLQueryItem(name: "timeframe", value: "1Min"),
                URLQueryItem(name: "start", value: from.text),
                // Alpaca's end is inclusive; bars are stamped with their start, so stop a second before `to`.
                URLQueryItem(name: "end", value: to.adding(seconds: -1).text),
                URLQueryItem(name: "limit", value: String(pageLimit)),
                URLQueryItem(name: "feed", value: configuration.feed),
                URLQueryItem(name: "adjustment", value: "raw"),
                URLQueryItem(name: "sort", value: "asc"),
            ]
            if let token { query.append(URLQueryItem(name: "page_token", value: token)) }
            let page: AlpacaMultiBarsPage = try await get(configuration.dataURL, "/v2/stocks/bars", query: query)
            try await onPage(page.bars)
            token = page.nextPageToken
        } while token != nil
    }

    /// All the minute bars of several symbols with `from <= t < to`, gathered.
    public func minuteBars(symbols: [String], from: Timestamp, to: Timestamp) async throws -> [String: [AlpacaBar]] {
        let collector = BarCollector()
        try await minuteBars(symbols: symbols, from: from, to: to) { await collector.add($0) }
        return await collector.bars
    }

    /// The newest bar of each symbol (symbols without one are absent).
    public func latestBars(symbols: [String]) async throws -> [String: AlpacaBar] {
        guard !symbols.isEmpty else { return [:] }
        let answer: AlpacaLatestBars = try await get(
            configuration.dataURL, "/v2/stocks/bars/latest",
            query: [URLQueryItem(name: "symbols", value: symbols.joined(separator: ",")), URLQueryItem(name: "feed", value: configuration.feed)])
        return answer.bars
    }

    public func latestBar(symbol: String) async throws -> AlpacaBar? {
        try await latestBars(symbols: [symbol])[symbol]
    }

    // MARK: - Requests

    struct Empty: Decodable {}

    func get<T: Decodable>(_ base: URL, _ path: String, query: [URLQueryItem] = []) async throws -> T {
        try await send(.GET, base, path, query: query, repeatable: true)
    }

    /// Sends one request, retrying as the policy allows, and decodes the answer.
    /// `repeatable`: sending it twice can't do harm (reads, cancels, and order submits,
    /// which carry their own client_order_id).
    func send<T: Decodable>(
        _ method: HTTPMethod, _ base: URL, _ path: String, query: [URLQueryItem] = [], body: Data? = nil, repeatable: Bool
    ) async throws -> T {
        var components = URLComponents(url: base, resolvingAgainstBaseURL: false)!
        components.percentEncodedPath = components.percentEncodedPath.trimmingCharacters(in: CharacterSet(charactersIn: "/")).isEmpty
            ? path : "/" + components.percentEncodedPath.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path
        if !query.isEmpty { components.queryItems = query }
        // URLComponents leaves '+' and ':' alone in queries; Alpaca's times need '+' escaped.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        guard let url = components.url?.absoluteString else { throw AlpacaError.configuration("cannot build a URL for \(path)") }

        var transientFailures = 0
        var rateLimitWaits = 0
        while true {
            try await rateLimit.waitIfPaused()
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "APCA-API-KEY-ID", value: configuration.keyID)
            request.headers.add(name: "APCA-API-SECRET-KEY", value: configuration.secretKey)
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "AutoTrader/1")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(data: body))
            }
            let started = ContinuousClock.now
            let status: Int
            let headers: HTTPHeaders
            let data: Data
            do {
                let response = try await http.execute(request, timeout: .init(configuration.requestTimeout))
                status = Int(response.status.code)
                headers = response.headers
                var buffer = try await response.body.collect(upTo: 64 << 20)
                data = buffer.readData(length: buffer.readableBytes) ?? Data()
            } catch {
                let reason = Self.describeTransport(error)
                transientFailures += 1
                guard repeatable, transientFailures < retryPolicy.maxAttempts else {
                    logger.warning("request failed", metadata: ["method": "\(method.rawValue)", "path": "\(path)", "reason": "\(reason)"])
                    throw AlpacaError.transport(reason)
                }
                let delay = backoff(transientFailures)
                logger.notice("request failed; retrying", metadata: [
                    "method": "\(method.rawValue)", "path": "\(path)", "reason": "\(reason)", "retry_in_ms": "\(delay.milliseconds)",
                ])
                try await Task.sleep(for: delay)
                continue
            }
            logger.trace("request", metadata: [
                "method": "\(method.rawValue)", "path": "\(path)", "status": "\(status)",
                "ms": "\((ContinuousClock.now - started).milliseconds)",
            ])

            switch status {
            case 200..<300:
                if let remaining = headers.first(name: "X-Ratelimit-Remaining").flatMap(Int.init), remaining == 0 {
                    // Every request of this client now waits for the window to reset: say so, trading is on hold.
                    let delay = rateLimitDelay(headers)
                    logger.warning("the account's request budget is used up; requests wait for the next window", metadata: [
                        "limit": "\(headers.first(name: "X-Ratelimit-Limit") ?? "?")", "wait_ms": "\(delay.milliseconds)",
                    ])
                    await rateLimit.pause(for: delay)
                }
                if T.self == Empty.self { return Empty() as! T }
                do {
                    return try JSONDecoder.alpaca.decode(T.self, from: data)
                } catch {
                    throw AlpacaError.invalidResponse("\(method.rawValue) \(path): \(error)")
                }
            case 429:
                rateLimitWaits += 1
                guard rateLimitWaits <= retryPolicy.maxRateLimitWaits else { throw AlpacaError.rateLimited(attempts: rateLimitWaits) }
                let delay = rateLimitDelay(headers)
                logger.notice("rate limited; waiting", metadata: ["path": "\(path)", "wait_ms": "\(delay.milliseconds)"])
                await rateLimit.pause(for: delay)
            case 500..<600:
                let error = Self.apiError(status: status, data: data)
                transientFailures += 1
                guard repeatable, transientFailures < retryPolicy.maxAttempts else {
                    logger.warning("request failed", metadata: ["method": "\(method.rawValue)", "path": "\(path)", "status": "\(status)"])
                    throw error
                }
                let delay = backoff(transientFailures)
                logger.notice("server error; retrying", metadata: [
                    "method": "\(method.rawValue)", "path": "\(path)", "status": "\(status)", "retry_in_ms": "\(delay.milliseconds)",
                ])
                try await Task.sleep(for: delay)
            default:
                throw Self.apiError(status: status, data: data)
            }
        }
    }

    /// Exponential backoff with equal jitter: half the step fixed, half random.
    func backoff(_ failures: Int) -> Duration {
        let step = min(retryPolicy.maxDelay, retryPolicy.baseDelay * (1 << min(failures - 1, 16)))
        let half = step / 2
        return half + half * Double.random(in: 0...1)
    }

    /// How long a 429 (or an exhausted window) says to wait.
    func rateLimitDelay(_ headers: HTTPHeaders) -> Duration {
        var seconds: Double = 1
        if let retryAfter = headers.first(name: "Retry-After").flatMap(Double.init) {
            seconds = retryAfter
        } else if let reset = headers.first(name: "X-Ratelimit-Reset").flatMap(Double.init) {
            seconds = reset - Date().timeIntervalSince1970
        }
        let bounded = min(max(seconds, 0.1), Double(retryPolicy.maxRateLimitDelay.components.seconds))
        return .milliseconds(Int64(bounded * 1000)) + .milliseconds(Int64.random(in: 0...100))
    }

    static func apiError(status: Int, data: Data) -> AlpacaError {
        if let body = try? JSONDecoder().decode(AlpacaErrorBody.self, from: data) {
            return .api(status: status, code: body.code, message: body.message)
        }
        let text = String(decoding: data.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return .api(status: status, code: nil, message: text.isEmpty ? "HTTP \(status)" : text)
    }

    static func describeTransport(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "timed out"
            case .remoteConnectionClosed: return "the connection was closed"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }

    /// Percent-encodes one path segment (symbols may hold dots, ids are UUIDs).
    static func pathComponent(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? text
    }
}

/// A pause shared by every request of one client, so a 429 stops them all, not just the one that saw it.
actor RateLimitGate {
    private var pausedUntil: ContinuousClock.Instant?

    func pause(for delay: Duration) {
        let until = ContinuousClock.now + delay
        if pausedUntil.map({ $0 < until }) ?? true { pausedUntil = until }
    }

    func waitIfPaused() async throws {
        while let until = pausedUntil, until > .now {
            try await Task.sleep(until: until, clock: .continuous)
        }
        pausedUntil = nil
    }
}

/// Gathers pages of bars by symbol.
actor BarCollector {
    var bars: [String: [AlpacaBar]] = [:]
    func add(_ page: [String: [AlpacaBar]]) {
        for (symbol, list) in page { bars[symbol, default: []].append(contentsOf: list) }
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
