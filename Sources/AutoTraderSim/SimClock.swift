import AutoTraderCore
import Foundation
import Logging
import ServiceLifecycle

/// The simulator's time: a start instant running at `speed` × real time, which only ever moves forward (and may jump).
public final class SimClock: @unchecked Sendable {
    public let speed: Double
    private let lock = NSLock()
    private var anchorReal: ContinuousClock.Instant
    /// Simulated seconds since the epoch at `anchorReal`.
    private var anchorSimulated: Double

    public init(start: Date, speed: Double) {
        self.speed = speed
        self.anchorReal = .now
        self.anchorSimulated = start.timeIntervalSince1970
    }

    /// Simulated seconds since the epoch.
    public func now() -> Double {
        lock.lock()
        defer { lock.unlock() }
        return anchorSimulated + (ContinuousClock.now - anchorReal).seconds * speed
    }

    public var nowDate: Date { Date(timeIntervalSince1970: now()) }
    public var nowTimestamp: Timestamp { Timestamp(secondsSinceEpoch: Int64(now().rounded(.down))) }

    /// Moves the clock forward to `simulated` (never back).
    public func jump(to simulated: Double) {
        lock.lock()
        defer { lock.unlock() }
        let current = anchorSimulated + (ContinuousClock.now - anchorReal).seconds * speed
        anchorReal = .now
        anchorSimulated = max(current, simulated)
    }

    /// Sleeps until the simulated clock reaches `simulated`. Sleeps in short steps so a jump is noticed.
    public func sleep(until simulated: Double) async throws {
        while true {
            let remaining = (simulated - now()) / speed
            if remaining <= 0 { return }
            try await Task.sleep(for: .seconds(min(remaining, 0.25)))
        }
    }
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}

/// `--skip-closed`: about a real second after trading stops, jumps the clock to the next open, so nights and weekends take no time.
struct ClockJumpService: Service, CustomStringConvertible {
    var description: String { "ClockJumpService" }

    let clock: SimClock
    let hours: TradingHours
    let logger: Logger
    /// Real seconds to linger after a close (lets the last minute's bars go out first).
    var linger: Double = 1

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.loop() }
        } catch is CancellationError {}
    }

    private func loop() async throws {
        while true {
            let now = clock.nowTimestamp
            if let window = hours.window(containing: now) {
                // Trading (or extended trading): wait for this stretch to end.
                try await clock.sleep(until: Double(window.end.secondsSinceEpoch))
                continue
            }
            try await Task.sleep(for: .seconds(linger))
            let later = clock.nowTimestamp
            guard hours.window(containing: later) == nil else { continue }
            guard let next = hours.nextBarMinute(atOrAfter: later) else {
                logger.warning("no trading day left in the calendar; the clock runs on without jumping")
                while true { try await Task.sleep(for: .seconds(3600)) }
            }
            logger.info("skipping closed hours", metadata: ["from": "\(later)", "to": "\(next)"])
            clock.jump(to: Double(next.secondsSinceEpoch))
        }
    }
}
