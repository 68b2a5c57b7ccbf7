import Foundation

/// The broker's idea of now, read from `GET /v2/clock` and extrapolated in between.
///
/// The executor follows the broker's clock, not the machine's, so it runs at an accelerated
/// simulator's pace. Reading the clock on every 20 ms tick would be wasteful, so it samples
/// every `refreshInterval` and extrapolates at the rate it observed (1 against Alpaca, the
/// `--speed` against the simulator). The rate is the lowest of the last few samples so a jump
/// (the simulator skipping a night) never makes it run ahead.
public actor BrokerClock {
    public typealias Source = @Sendable () async throws -> (time: Double, isOpen: Bool)

    private let source: Source
    private let refreshInterval: Duration
    private var anchor: (broker: Double, wall: ContinuousClock.Instant, isOpen: Bool)?
    private var rates: [Double] = []

    public init(refreshInterval: Duration = .milliseconds(500), source: @escaping Source) {
        self.source = source
        self.refreshInterval = refreshInterval
    }

    /// A clock that reads the broker's through the client.
    public init(client: AlpacaClient, refreshInterval: Duration = .milliseconds(500)) {
        self.init(refreshInterval: refreshInterval) {
            let clock = try await client.clock()
            return (clock.timestamp.timeIntervalSince1970, clock.isOpen)
        }
    }

    /// The broker's now (seconds since the epoch) and whether it says the market is open.
    public func now() async throws -> (time: Double, isOpen: Bool) {
        let wall = ContinuousClock.now
        if let anchor, wall - anchor.wall < refreshInterval {
            return (anchor.broker + seconds(wall - anchor.wall) * rate, anchor.isOpen)
        }
        let sample = try await source()
        let sampledAt = ContinuousClock.now
        if let anchor {
            let elapsed = seconds(sampledAt - anchor.wall)
            if elapsed > 0.05 {
                rates.append(max(0, (sample.time - anchor.broker) / elapsed))
                if rates.count > 3 { rates.removeFirst() }
            }
        }
        anchor = (sample.time, sampledAt, sample.isOpen)
        return (sample.time, sample.isOpen)
    }

    /// Forces the next `now()` to read the broker.
    public func invalidate() { anchor = anchor.map { ($0.broker, $0.wall - refreshInterval, $0.isOpen) } }

    private var rate: Double { rates.min() ?? 1 }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
