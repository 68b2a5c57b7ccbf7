/// How a stream client paces its reconnections, for both of Alpaca's streams: exponential from `initial` to
/// `maximum` with half of each step random (so many clients don't return in step), the count started again by a
/// connection that stayed up, and a long fixed wait after what only a configuration change can fix.
/// The defaults suit Alpaca; tests shorten them.
public struct ReconnectBackoff: Sendable {
    public var initial: Duration = .milliseconds(500)
    public var maximum: Duration = .seconds(30)
    /// A connection that lived (market data) or listened (trade updates) this long resets the count.
    public var healthyAfter: Duration = .seconds(30)
    /// The wait after the keys, the feed or the upgrade were refused: retrying fast can't help.
    public var refused: Duration = .seconds(300)
    /// Market data: the least wait after "connection limit exceeded" (the old session needs a moment to go).
    public var connectionLimit: Duration = .seconds(5)
    /// Trade updates: how long authenticating and listening may take before the connection is tried again.
    public var handshake: Duration = .seconds(10)

    public init() {}

    /// The market-data stream's pacing.
    public static let marketData = ReconnectBackoff()

    /// The trading stream's: a refusal is retried after a minute.
    public static let tradeUpdates: ReconnectBackoff = {
        var backoff = ReconnectBackoff()
        backoff.refused = .seconds(60)
        return backoff
    }()

    /// The wait before the next attempt after `failures` in a row (1 for the first).
    public func delay(afterFailures failures: Int) -> Duration {
        let step = min(maximum, initial * (1 << min(max(failures - 1, 0), 16)))
        return step / 2 + (step / 2) * Double.random(in: 0...1)
    }
}
