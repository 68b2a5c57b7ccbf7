import AutoTraderCore
import Foundation

/// Every random decision the simulator makes about faults and orders, from the seed: for a given seed and
/// request order the same requests fail, the same orders are rejected or partly filled, the same ids come out.
public final class FaultInjector: @unchecked Sendable {
    /// What to do to one REST request.
    public enum RequestFault: Sendable, Equatable {
        case none
        /// Answer 500 without doing anything.
        case failBefore
        /// Do the work (e.g. accept the order), then answer 500 anyway.
        case failAfter
    }

    /// What will happen to an accepted order.
    public struct OrderFate: Sendable, Equatable {
        public var reject: Bool
        /// Fill only this many shares (the rest stays open until canceled or the day ends).
        public var partialQuantity: Int?
    }

    /// The rate-limit headers of one answer, and whether it is refused with 429.
    public struct RateLimitState: Sendable {
        public var limit: Int
        public var remaining: Int
        /// Epoch seconds (real time) when the window resets.
        public var reset: Int64
        public var throttled: Bool
    }

    private let configuration: SimulatorConfiguration
    private let lock = NSLock()
    private var requestRandom: SplitMix64
    private var orderRandom: SplitMix64
    private var idRandom: SplitMix64
    private var requestCount = 0
    private var burstRemaining = 0
    private var burstReset: Int64 = 0
    private var windowStart: Int64 = 0
    private var windowCount = 0

    public init(configuration: SimulatorConfiguration) {
        self.configuration = configuration
        requestRandom = SplitMix64(seed: StableHash.mix(configuration.seed, 0xE220))
        orderRandom = SplitMix64(seed: StableHash.mix(configuration.seed, 0x0DE2))
        idRandom = SplitMix64(seed: StableHash.mix(configuration.seed, 0x1D5))
    }

    /// Counts one authorized REST request against the per-minute window and the `--rate-limit-burst` schedule.
    public func rateLimit(nowEpoch: Double) -> RateLimitState {
        lock.lock()
        defer { lock.unlock() }
        let now = Int64(nowEpoch.rounded(.down))
        let minute = now - now % 60
        if minute != windowStart {
            windowStart = minute
            windowCount = 0
        }
        windowCount += 1
        requestCount += 1
        let limit = configuration.rateLimit
        if burstRemaining > 0 {
            burstRemaining -= 1
            return RateLimitState(limit: limit, remaining: 0, reset: burstReset, throttled: true)
        }
        if let burst = configuration.rateLimitBurst, requestCount % burst.every == 0 {
            burstRemaining = burst.count - 1
            burstReset = now + 1
            return RateLimitState(limit: limit, remaining: 0, reset: burstReset, throttled: true)
        }
        let remaining = max(0, limit - windowCount)
        let over = windowCount > limit
        return RateLimitState(limit: limit, remaining: remaining, reset: windowStart + 60,
                              throttled: over && configuration.enforceRateLimit)
    }

    /// The window as it stands, without counting a request (for answers that are not charged, such as 401).
    public func currentRateLimit(nowEpoch: Double) -> RateLimitState {
        lock.lock()
        defer { lock.unlock() }
        let now = Int64(nowEpoch.rounded(.down))
        let minute = now - now % 60
        let used = minute == windowStart ? windowCount : 0
        return RateLimitState(limit: configuration.rateLimit, remaining: max(0, configuration.rateLimit - used),
                              reset: minute + 60, throttled: false)
    }

    /// Whether this request gets an injected 500, and when (`mutating` requests may fail after doing their work).
    public func requestFault(mutating: Bool) -> RequestFault {
        guard configuration.errorRate > 0 else { return .none }
        lock.lock()
        defer { lock.unlock() }
        guard requestRandom.unit() < configuration.errorRate else { return .none }
        guard mutating else { return .failBefore }
        return requestRandom.unit() < 0.5 ? .failBefore : .failAfter
    }

    /// Decides at acceptance whether an order will be rejected or only partly filled.
    public func orderFate(quantity: Int) -> OrderFate {
        lock.lock()
        defer { lock.unlock() }
        // Always draw both, so one order's fate does not shift the next one's.
        let rejectDraw = orderRandom.unit(), partialDraw = orderRandom.unit(), sizeDraw = orderRandom.next()
        if rejectDraw < configuration.rejectRate { return OrderFate(reject: true, partialQuantity: nil) }
        guard partialDraw < configuration.partialFillRate, quantity >= 2 else { return OrderFate(reject: false, partialQuantity: nil) }
        return OrderFate(reject: false, partialQuantity: 1 + Int(sizeDraw % UInt64(quantity - 1)))
    }

    /// A fresh order id (UUID v4 shape), from the seed.
    public func nextOrderID() -> String {
        lock.lock()
        defer { lock.unlock() }
        return StableHash.uuid(from: &idRandom)
    }
}
