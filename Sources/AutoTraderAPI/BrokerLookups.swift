import AutoTraderCore
import Foundation

/// A token bucket: `capacity` requests at once, refilled at `perMinute`.
struct TokenBucket: Sendable {
    let capacity: Double
    let perMinute: Double
    private(set) var tokens: Double
    private var updatedAt: ContinuousClock.Instant

    init(capacity: Double, perMinute: Double, now: ContinuousClock.Instant = .now) {
        self.capacity = capacity
        self.perMinute = perMinute
        tokens = capacity
        updatedAt = now
    }

    /// Takes one token, or returns the seconds until one is there.
    mutating func take(now: ContinuousClock.Instant = .now) -> Int? {
        let elapsed = (now - updatedAt).seconds
        tokens = min(capacity, tokens + elapsed * perMinute / 60)
        updatedAt = now
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        return max(1, Int(((1 - tokens) * 60 / perMinute).rounded(.up)))
    }

    func isFull(now: ContinuousClock.Instant = .now) -> Bool {
        tokens + (now - updatedAt).seconds * perMinute / 60 >= capacity
    }
}

/// Asset look-ups for the api, so that nobody can spend the account's request budget through it.
///
/// Alpaca allows 200 requests a minute per account, shared by the streamer, the executor and the api,
/// and the executor needs them to trade. Answers are cached (an asset for a day, an unknown symbol for
/// an hour), one request is in flight per symbol however many clients ask, and look-ups that must reach
/// the broker are limited per client and in total (`Budget`): a flood from any number of clients costs
/// the broker at most `total.perMinute` (+ its burst) a minute. The clock and the account come from
/// `BrokerSnapshotCache`, at most one refresh per `--broker-cache` seconds.
actor AssetLookups {
    struct Budget: Sendable {
        var perClientBurst: Double = 5
        var perClientPerMinute: Double = 10
        var totalBurst: Double = 10
        var totalPerMinute: Double = 20
        var keepKnown: Duration = .seconds(86_400)
        var keepUnknown: Duration = .seconds(3600)
    }

    /// Refused: the client (or everybody together) asked the broker too often lately.
    struct Throttled: Error {
        let retryAfter: Int
    }

    private let client: AlpacaClient
    private let budget: Budget
    private var cache: [String: (asset: AlpacaAsset?, until: ContinuousClock.Instant)] = [:]
    private var inFlight: [String: Task<AlpacaAsset?, any Error>] = [:]
    private var total: TokenBucket
    private var perClient: [String: TokenBucket] = [:]

    init(client: AlpacaClient, budget: Budget = Budget()) {
        self.client = client
        self.budget = budget
        total = TokenBucket(capacity: budget.totalBurst, perMinute: budget.totalPerMinute)
    }

    /// The broker's asset, nil when it doesn't know the symbol. Throws `Throttled` or the broker's error.
    /// `limited: false` is for requests that passed the PIN (a create): the owner's, never throttled; they are
    /// bounded by the PIN's own rules instead.
    func asset(symbol: String, client clientKey: String, limited: Bool = true) async throws -> AlpacaAsset? {
        let now = ContinuousClock.now
        if let cached = cache[symbol], cached.until > now { return cached.asset }
        if let running = inFlight[symbol] { return try await running.value }
        if limited { try spend(clientKey, now: now) }
        let client = self.client
        let task = Task { try await client.asset(symbol: symbol) }
        inFlight[symbol] = task
        defer { inFlight[symbol] = nil }
        let asset = try await task.value
        remember(symbol, asset)
        return asset
    }

    private func remember(_ symbol: String, _ asset: AlpacaAsset?) {
        let now = ContinuousClock.now
        if cache.count >= 10_000 { cache = cache.filter { $0.value.until > now } }
        if cache.count >= 10_000 { cache.removeAll() }
        cache[symbol] = (asset, now + (asset == nil ? budget.keepUnknown : budget.keepKnown))
    }

    private func spend(_ clientKey: String, now: ContinuousClock.Instant) throws {
        if perClient.count >= 10_000 { perClient = perClient.filter { !$0.value.isFull(now: now) } }
        var bucket = perClient[clientKey] ?? TokenBucket(capacity: budget.perClientBurst, perMinute: budget.perClientPerMinute, now: now)
        if let wait = bucket.take(now: now) {
            perClient[clientKey] = bucket
            throw Throttled(retryAfter: wait)
        }
        perClient[clientKey] = bucket
        if let wait = total.take(now: now) { throw Throttled(retryAfter: wait) }
    }
}
