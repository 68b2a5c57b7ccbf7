import Foundation

/// The broker's idea of now, read from `GET /v2/clock` and extrapolated in between.
///
/// The executor follows the broker's clock, not the machine's, so it runs at an accelerated
/// simulator's pace. Every request counts against the account's rate budget (Alpaca: 200 a minute,
/// shared by all three services), so the clock is read rarely and extrapolated at the rate it was
/// seen to run (1 against Alpaca, the `--speed` against the simulator): quickly at first, until that
/// rate is known, then every `refresh.open` while the market is open and every `refresh.closed` while it
/// is closed (an open must not be missed by long). The rate is measured from the first sample of the
/// current unbroken stretch, so it grows more exact with time instead of following the latency noise of
/// two close samples (at 600× a 20 ms hiccup is 12 s of broker time); a sample far off the prediction (the
/// simulator skipping a night, a restart) starts a new stretch and keeps the rate; two such in a row mean the
/// rate itself is wrong (a jump inside the first stretch, before any rate was known, poisons it: every later
/// sample is then "far off" and the rate would never be measured again), so it is measured afresh. A caller that sees the
/// clock lag (bars from a minute it says hasn't begun) calls `invalidate()`.
public actor BrokerClock {
    public typealias Source = @Sendable () async throws -> (time: Double, isOpen: Bool)

    /// How often the broker is asked.
    public struct Refresh: Sendable {
        /// Until the rate has been measured over 2 s.
        public var warmup: Duration = .milliseconds(500)
        public var open: Duration = .seconds(15)
        public var closed: Duration = .seconds(2)

        public init(warmup: Duration = .milliseconds(500), open: Duration = .seconds(15), closed: Duration = .seconds(2)) {
            self.warmup = warmup
            self.open = open
            self.closed = closed
        }
    }

    private let source: Source
    private let refresh: Refresh
    private var anchor: (broker: Double, wall: ContinuousClock.Instant, isOpen: Bool)?
    /// The first sample of the current stretch, and the rate measured from it (nil until measured).
    private var origin: (broker: Double, wall: ContinuousClock.Instant)?
    private var measuredRate: Double?
    /// Set by `invalidate()`: the next `now()` reads the broker.
    private var mustRead = false
    /// The last sample was far off the prediction.
    private var jumpedLast = false

    public init(refresh: Refresh = Refresh(), source: @escaping Source) {
        self.source = source
        self.refresh = refresh
    }

    /// A clock that reads the broker's through the client.
    public init(client: AlpacaClient, refresh: Refresh = Refresh()) {
        self.init(refresh: refresh) {
            let clock = try await client.clock()
            return (clock.timestamp.timeIntervalSince1970, clock.isOpen)
        }
    }

    /// The broker's now (seconds since the epoch) and whether it said the market is open.
    public func now() async throws -> (time: Double, isOpen: Bool) {
        let wall = ContinuousClock.now
        if !mustRead, let anchor, wall - anchor.wall < interval(isOpen: anchor.isOpen) {
            return (anchor.broker + seconds(wall - anchor.wall) * rate, anchor.isOpen)
        }
        let asked = ContinuousClock.now
        let sample = try await source()
        mustRead = false
        // The broker stamped its time somewhere during the request: the midpoint halves the error.
        let sampledAt = asked + (ContinuousClock.now - asked) / 2
        var isJump = false
        if let anchor, let start = origin {
            let predicted = anchor.broker + seconds(sampledAt - anchor.wall) * rate
            let stretch = sample.time - anchor.broker
            isJump = abs(sample.time - predicted) > max(30, 0.05 * abs(stretch)) && measuredRate != nil
            if isJump {
                origin = (sample.time, sampledAt) // a jump: a new stretch, the same rate
                if jumpedLast { measuredRate = nil } // twice running: the rate is what is wrong; warm up again
                jumpedLast = true
            } else if seconds(sampledAt - start.wall) >= 2 {
                // Over at least 2 s, a request's latency (a few ms) hardly moves the rate; over less, it
                // could make the clock run ahead (nothing ready to trade) until the next read.
                measuredRate = max(0, (sample.time - start.broker) / seconds(sampledAt - start.wall))
            }
        } else {
            origin = (sample.time, sampledAt)
        }
        if !isJump { jumpedLast = false } // any sample on the prediction: the last jump was a real one
        anchor = (sample.time, sampledAt, sample.isOpen)
        return (sample.time, sample.isOpen)
    }

    /// Forces the next `now()` to read the broker.
    public func invalidate() { mustRead = true }

    private func interval(isOpen: Bool) -> Duration {
        measuredRate == nil ? refresh.warmup : isOpen ? refresh.open : refresh.closed
    }

    private var rate: Double { measuredRate ?? 1 }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
