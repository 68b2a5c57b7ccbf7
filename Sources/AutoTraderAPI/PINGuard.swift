import AutoTraderCore
import Foundation
import HTTPTypes
import Hummingbird

/// Counts wrong PINs per client and locks a client out after too many.
///
/// Five wrong PINs from one client (its IP address) within a minute lock it out for a minute:
/// every PIN-guarded request from it then gets 429 with `Retry-After` until the lockout ends,
/// whatever PIN it sends. A right PIN clears the client's count. The state is in memory (this
/// actor): a restart of the api forgets it, which only gives an attacker one more round of five
/// guesses per restart — restarts are systemd's, not the client's, to make.
public actor PINThrottle {
    public struct Policy: Sendable {
        public var maxFailures = 5
        public var window: Duration = .seconds(60)
        public var lockout: Duration = .seconds(60)
        /// At most this many clients are remembered (the oldest entries are dropped first).
        public var maxClients = 10_000
        public init() {}
    }

    private struct Client {
        var failures: [ContinuousClock.Instant] = []
        var lockedUntil: ContinuousClock.Instant?
    }

    private let policy: Policy
    private var clients: [String: Client] = [:]

    public init(policy: Policy = Policy()) { self.policy = policy }

    /// Seconds left of the client's lockout (rounded up), or nil when it may try.
    public func lockoutRemaining(client: String, now: ContinuousClock.Instant = .now) -> Int? {
        guard let until = clients[client]?.lockedUntil else { return nil }
        guard until > now else {
            clients[client] = nil
            return nil
        }
        return max(1, Int((until - now).seconds.rounded(.up)))
    }

    /// Records a wrong PIN; returns the lockout's seconds if this one started it.
    @discardableResult
    public func recordFailure(client: String, now: ContinuousClock.Instant = .now) -> Int? {
        if clients.count >= policy.maxClients, clients[client] == nil { prune(now: now) }
        var entry = clients[client] ?? Client()
        entry.failures = entry.failures.filter { now - $0 < policy.window }
        entry.failures.append(now)
        if entry.failures.count >= policy.maxFailures {
            entry.failures.removeAll()
            entry.lockedUntil = now + policy.lockout
            clients[client] = entry
            return max(1, Int(policy.lockout.seconds.rounded(.up)))
        }
        clients[client] = entry
        return nil
    }

    public func recordSuccess(client: String) {
        clients[client] = nil
    }

    private func prune(now: ContinuousClock.Instant) {
        clients = clients.filter { _, entry in
            (entry.lockedUntil.map { $0 > now } ?? false) || entry.failures.contains { now - $0 < policy.window }
        }
        if clients.count >= policy.maxClients {
            // Still full of live entries: forget the ones with the fewest failures (a flood of new addresses).
            let keep = clients.sorted { ($0.value.lockedUntil != nil ? 1000 : $0.value.failures.count) > ($1.value.lockedUntil != nil ? 1000 : $1.value.failures.count) }
                .prefix(policy.maxClients / 2)
            clients = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}

/// Checks the PIN of state-changing requests against system.db's, in constant time, through the throttle.
struct PINGuard: Sendable {
    let system: SystemDatabase
    let throttle: PINThrottle

    /// Refuses a locked-out client before anything else is looked at (429 with Retry-After).
    func checkNotLockedOut(_ context: APIRequestContext) async throws {
        if let seconds = await throttle.lockoutRemaining(client: context.clientKey) {
            throw Self.lockedOut(seconds)
        }
    }

    /// Verifies `pin`: missing → 401, wrong → 403 (counted; the fifth within a minute locks the client out), right → passes.
    func verify(_ pin: String?, context: APIRequestContext) async throws {
        try await checkNotLockedOut(context)
        guard let pin, !pin.isEmpty else {
            throw APIError(.unauthorized, "this request needs the PIN (header X-PIN or field \"pin\")")
        }
        let stored = try system.pin()
        if Self.constantTimeEquals(pin, stored) {
            await throttle.recordSuccess(client: context.clientKey)
            return
        }
        if let seconds = await throttle.recordFailure(client: context.clientKey) {
            // This wrong PIN was the last one allowed: it is still answered as wrong, and what follows is locked out.
            _ = seconds
        }
        throw APIError(.forbidden, "wrong PIN")
    }

    static func lockedOut(_ seconds: Int) -> APIError {
        APIError(
            .tooManyRequests, "too many wrong PINs: try again in \(seconds) s",
            headers: [.retryAfter: String(seconds)], extra: ["retry_after": .number(Decimal(seconds))])
    }

    /// Compares every byte whatever the inputs (the time depends only on the longer length).
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        let length = max(x.count, y.count)
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count) | UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<length {
            let left = index < x.count ? x[index] : 0
            let right = index < y.count ? y[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}
