import AutoTraderCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TradingAlgorithms

/// `POST /api/backtests` and `GET /api/backtests/{id}`: backtests asked for by the dashboard's add dialog.
/// The api never runs algorithm code: a request is validated like a card create (the ticker known and
/// tradable at the broker, the algorithm in the executor's catalog with status ok, the capital whole cents)
/// and queued in system.db; the executor runs it at low priority and writes the result, which `GET` reads.
/// No PIN (it moves no money), but each client may queue only a few a minute and the queue is bounded.
struct BacktestRoutes: Sendable {
    let system: SystemDatabase
    let assets: AssetLookups
    let throttle: BacktestThrottle
    let limits: BacktestQueueLimits
    let logger: Logger

    /// The most sessions a request may ask for (about a year).
    static let maxSessions = 260
    static let defaultSessions = 20
    /// How long a client whose share of the queue (or everybody's) is used up is asked to wait.
    static let queueFullRetryAfter = 30

    init(system: SystemDatabase, assets: AssetLookups, logger: Logger, throttle: BacktestThrottle = BacktestThrottle()) {
        self.system = system
        self.assets = assets
        self.throttle = throttle
        self.limits = BacktestQueueLimits()
        self.logger = logger
    }

    func add(to router: Router<APIRequestContext>) {
        router.post("/api/backtests") { request, context in try await self.queue(request, context) }
        router.get("/api/backtests/{id}") { _, context in try self.job(context) }
    }

    // MARK: - Queue

    func queue(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try APIRoutes.onlyQueryParameters(request.uri.queryParameters, allowed: [])
        let input = try await JSONInput.read(request, allowed: ["ticker", "algorithm", "capital", "sessions"])
        let rawTicker = try input.string("ticker")!
        let algorithm = try input.string("algorithm")!
        let capital = try input.number("capital")
        let sessions = try Self.sessions(input)

        let ticker = rawTicker.trimmingCharacters(in: .whitespaces).uppercased()
        guard Validation.isValidTicker(ticker) else {
            throw APIError.badRequest("\(String(rawTicker.prefix(20)).debugDescription) is not a ticker: use 1–10 letters or dots starting with a letter, e.g. NVDA or BRK.B")
        }
        try checkAlgorithm(algorithm)
        guard capital > 0 else { throw APIError.badRequest("capital must be more than 0") }
        guard Money.decimalPlaces(capital) <= 2 else {
            throw APIError.badRequest("capital \(capital.plainString) has more than two decimals (whole cents only)")
        }
        guard Validation.isValidCapital(capital) else { throw APIError.badRequest("capital \(capital.plainString) is too large") }

        // The same request made lately costs nothing: its row (queued, running or done) answers it.
        if let earlier = try system.recentBacktest(ticker: ticker, algorithm: algorithm, capital: capital, sessions: sessions, within: limits.reuseWithin) {
            return try Self.response(earlier, reused: true)
        }
        if let wait = await throttle.take(client: context.clientKey) {
            throw APIError(
                .tooManyRequests, "too many backtests asked for lately: try again in \(wait) s",
                headers: [.retryAfter: String(wait)], extra: ["retry_after": .number(Decimal(wait))])
        }
        guard let asset = try await assets.asset(symbol: ticker, client: context.clientKey) else {
            throw APIError.badRequest(CardRefusal.unknownTicker(ticker).description)
        }
        guard asset.isTradableEquity else {
            throw APIError.badRequest(CardRefusal.notTradable(ticker, status: asset.status, tradable: asset.tradable).description)
        }
        let queued: (job: BacktestJob, reused: Bool)
        do {
            queued = try system.enqueueBacktest(
                ticker: ticker, algorithm: algorithm, capital: capital, sessions: sessions, client: context.clientKey, limits: limits)
        } catch let full as BacktestQueueFull {
            let wait = Self.queueFullRetryAfter
            throw APIError(
                full.perClient ? .tooManyRequests : .serviceUnavailable, full.description,
                headers: [.retryAfter: String(wait)], extra: ["retry_after": .number(Decimal(wait))])
        }
        if !queued.reused {
            logger.info("backtest queued", metadata: [
                "backtest": "\(queued.job.id)", "ticker": "\(ticker)", "algorithm": "\(algorithm)", "sessions": "\(sessions)",
                "client": "\(context.clientKey)",
            ])
        }
        return try Self.response(queued.job, reused: queued.reused)
    }

    /// `sessions`: a whole number 1…260, 20 when absent.
    static func sessions(_ input: JSONInput) throws -> Int {
        guard input.fields["sessions"] != nil else { return defaultSessions }
        let value = try input.number("sessions")
        guard value >= 1, value <= Decimal(maxSessions), Money.decimalPlaces(value) == 0 else {
            throw APIError.badRequest("sessions must be a whole number from 1 to \(maxSessions), not \(value.plainString)")
        }
        return NSDecimalNumber(decimal: value).intValue
    }

    /// The algorithm must be one a card could be created for (the executor's catalog, status ok) and one the
    /// Backtester can run, or `all`.
    func checkAlgorithm(_ name: String) throws {
        guard name != "all" else { return }
        let catalog = try AvailableAlgorithms.list(system: system, compiled: AlgorithmRegistry.catalog)
        let creatable = AvailableAlgorithms.creatable(catalog)
        guard creatable.contains(name) else {
            if let broken = catalog.first(where: { $0.name == name && $0.status == .error }) {
                throw APIError.badRequest("algorithm \(name) can't run: \(broken.error ?? "status error")")
            }
            throw APIError.badRequest(
                "unknown algorithm \(String(name.prefix(64)).debugDescription); available: \((creatable + ["all"]).joined(separator: ", "))")
        }
        if case .failure(let failure) = BacktestQueueRunner.entries(for: name, compiled: AlgorithmRegistry.catalog, catalog: catalog) {
            throw APIError.badRequest(failure.description)
        }
    }

    // MARK: - Read

    func job(_ context: APIRequestContext) throws -> Response {
        let text = context.parameters.get("id") ?? ""
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ (48...57).contains($0) }), let id = Int64(text), id > 0 else {
            throw APIError.badRequest("the backtest id must be a positive whole number, not \(String(text.prefix(40)).debugDescription)")
        }
        guard let job = try system.backtest(id: id) else {
            throw APIError.notFound("no backtest \(id) (old ones are deleted after \(limits.keepFor / 86_400) days)")
        }
        return try Self.response(job, reused: nil)
    }

    /// The row as JSON, its `result` spliced in exactly as the executor stored it (the CLI's `--json`).
    static func response(_ job: BacktestJob, reused: Bool?) throws -> Response {
        var fields: [String: JSONValue] = [
            "id": .number(Decimal(job.id)),
            "state": .string(job.state.rawValue),
            "ticker": .string(job.ticker),
            "algorithm": .string(job.algorithm),
            "capital": .number(Money.rounded(job.capital)),
            "sessions": .number(Decimal(job.sessions)),
            "created_at": .string(job.createdAt.text),
            "started_at": job.startedAt.map { .string($0.text) } ?? .null,
            "finished_at": job.finishedAt.map { .string($0.text) } ?? .null,
            "error": job.error.map { .string($0) } ?? .null,
        ]
        if let reused { fields["reused"] = .bool(reused) }
        var text = JSONValue.object(fields).encoded()
        text.removeLast() // the closing brace
        text += ",\"result\":"
        if job.state == .done, let result = job.result {
            text += result.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            text += "null"
        }
        text += "}"
        var response = JSONOutput.response(status: reused == nil ? .ok : .accepted, json: text)
        if reused != nil { response.headers[.location] = "/api/backtests/\(job.id)" }
        return response
    }
}

/// How many backtests each client may queue: a few at once, a few a minute (a token bucket per address).
actor BacktestThrottle {
    let burst: Double
    let perMinute: Double
    private var buckets: [String: TokenBucket] = [:]

    init(burst: Double = 6, perMinute: Double = 6) {
        self.burst = burst
        self.perMinute = perMinute
    }

    /// Takes one request from `client`'s allowance, or returns the seconds until it has one.
    func take(client: String, now: ContinuousClock.Instant = .now) -> Int? {
        if buckets.count >= 10_000 { buckets = buckets.filter { !$0.value.isFull(now: now) } }
        var bucket = buckets[client] ?? TokenBucket(capacity: burst, perMinute: perMinute, now: now)
        let wait = bucket.take(now: now)
        buckets[client] = bucket
        return wait
    }
}
