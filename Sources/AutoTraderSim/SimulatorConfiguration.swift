import AutoTraderCore
import Foundation

/// Everything `autotrader-sim` can be told on its command line.
public struct SimulatorConfiguration: Sendable {
    /// How a market order's fill price is chosen.
    public enum FillPriceRule: String, Sendable, CaseIterable {
        /// The open of the symbol's first bar that starts at or after the submission (waits for it).
        case nextOpen = "next-open"
        /// At once, at the latest close (orders sent while the market is closed still wait for the next open).
        case lastClose = "last-close"
    }

    /// Every M-th REST request starts a burst of N `429` answers.
    public struct RateLimitBurst: Sendable, Equatable {
        public var count: Int
        public var every: Int

        public init(count: Int, every: Int) {
            self.count = count
            self.every = every
        }

        /// Parses `N:M`.
        public init?(_ text: String) {
            let parts = text.split(separator: ":")
            guard parts.count == 2, let count = Int(parts[0]), let every = Int(parts[1]), count > 0, every > 0 else { return nil }
            self.init(count: count, every: every)
        }
    }

    public var host = SimulatorDefaults.host
    public var port = SimulatorDefaults.port
    public var keyID = SimulatorDefaults.keyID
    public var secretKey = SimulatorDefaults.secretKey

    /// Seeds the bars and every random fault decision.
    public var seed: UInt64 = 1
    /// The simulated instant at start-up; nil = the real now.
    public var start: Date?
    /// Simulated seconds per real second.
    public var speed: Double = 1
    /// Jump from a session's close straight to the next open (about a real second after the close).
    public var skipClosed = false
    /// Also produce bars 04:00–09:30 and 16:00–20:00 New York time on trading days.
    public var extendedHours = false
    /// Extra letter-only symbols (ZZAAA, ZZAAB …) added to the universe.
    public var syntheticSymbols = 0

    /// What kind of account the paper account is.
    public enum AccountType: String, Sendable, CaseIterable {
        /// A new Alpaca paper account: margin (multiplier 4 at $25,000 equity or more, else 2), shorting allowed.
        case margin
        /// Multiplier 1, no shorting: buying power is the cash not held for open buys.
        case cash
    }

    public var cash: Decimal = 100_000
    public var accountType: AccountType = .margin
    public var fillPrice: FillPriceRule = .nextOpen
    /// The HTTP status of a duplicate client_order_id (Alpaca's is unverified; 422 is the best guess).
    public var duplicateClientOrderIDStatus = 422

    /// Seconds a stream connection has to authenticate.
    public var authTimeout: Double = 10
    /// Authenticated stream connections allowed per key and feed.
    public var maxConnections = 1
    /// Feeds the key's "plan" includes; the others answer 409 at auth.
    public var feeds: Set<String> = ["iex", "sip"]
    /// Distinct symbols one connection may subscribe to (nil = no limit).
    public var symbolLimit: Int?
    /// Real milliseconds between a minute's end and its bars on the stream.
    public var barDelayMilliseconds = 50
    /// Probability that a bar is corrected (a `u` message) about 30 simulated seconds after its minute.
    public var updatedBarRate: Double = 0
    /// Remember the real instant each bar frame is handed to its socket (for `GET /sim/sends`; off by default).
    public var recordSends = false

    /// X-Ratelimit-Limit (requests per real minute).
    public var rateLimit = 200
    /// Answer 429 once the per-minute limit is used up (off by default: the headers alone are reported).
    public var enforceRateLimit = false

    // Faults.
    public var errorRate: Double = 0
    public var latencyMilliseconds = 0
    public var rateLimitBurst: RateLimitBurst?
    public var disconnectEvery: Double?
    public var rejectRate: Double = 0
    public var partialFillRate: Double = 0
    /// Every N-th regular minute of a session opens `gapPercent` above the previous close (nil: no forced gaps).
    public var gapEvery: Int?
    public var gapPercent: Double = 2

    public init() {}

    /// Why the configuration can't run, or nil.
    public var problem: String? {
        if speed <= 0 || !speed.isFinite { return "--speed must be a positive number" }
        for (name, rate) in [("--error-rate", errorRate), ("--reject-rate", rejectRate),
                             ("--partial-fill-rate", partialFillRate), ("--updated-bar-rate", updatedBarRate)]
        where !(0...1).contains(rate) {
            return "\(name) must be between 0 and 1"
        }
        if !(0...65535).contains(port) { return "--port must be 0…65535" }
        if cash < 0 { return "--cash must not be negative" }
        if authTimeout <= 0 { return "--auth-timeout must be positive" }
        if maxConnections < 1 { return "--max-connections must be at least 1" }
        if let symbolLimit, symbolLimit < 1 { return "--symbol-limit must be at least 1" }
        if feeds.isEmpty || !feeds.isSubset(of: ["iex", "sip"]) { return "--feeds takes iex, sip or iex,sip" }
        if let disconnectEvery, disconnectEvery <= 0 { return "--disconnect-every must be positive" }
        if latencyMilliseconds < 0 || barDelayMilliseconds < 0 { return "delays must not be negative" }
        if !(400...599).contains(duplicateClientOrderIDStatus) { return "--duplicate-client-order-id-status must be a 4xx or 5xx status" }
        if syntheticSymbols < 0 || syntheticSymbols > 26 * 26 * 26 { return "--synthetic-symbols must be 0…17576" }
        if rateLimit < 1 { return "--rate-limit must be at least 1" }
        if let gapEvery, gapEvery < 1 { return "--gap-every must be at least 1" }
        if !(-50...50).contains(gapPercent) { return "--gap-percent must be between -50 and 50" }
        if let start {
            let calendar = try? MarketCalendar()
            if let calendar, !calendar.coveredRange.contains(Timestamp(start)) {
                return "--start must lie in \(MarketCalendar.supportedYears.lowerBound)–\(MarketCalendar.supportedYears.upperBound) (the calendar's years)"
            }
        }
        return nil
    }
}
