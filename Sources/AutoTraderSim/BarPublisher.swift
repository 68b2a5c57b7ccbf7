import AutoTraderCore
import Foundation
import Logging
import ServiceLifecycle

/// Follows the simulated clock minute by minute: when a bar minute ends, hands its bars to the stream
/// (after `--bar-delay-ms` real time), and ~30 simulated seconds later its corrections.
struct BarPublisher: Service, CustomStringConvertible {
    var description: String { "BarPublisher" }

    let clock: SimClock
    let hours: TradingHours
    let hub: StreamHub
    let generator: MarketDataGenerator
    let barDelay: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.loop() }
        } catch is CancellationError {}
    }

    private func loop() async throws {
        // The minute in progress at start-up is the first one streamed (its bar covers the whole minute).
        var next = hours.nextBarMinute(atOrAfter: clock.nowTimestamp.minuteStart)
        var corrections: [Timestamp] = []
        while let minute = next {
            let barTime = Double(minute.secondsSinceEpoch + 60)
            if let pending = corrections.first {
                let due = Double(pending.secondsSinceEpoch + 60) + MarketDataGenerator.correctionDelay
                if due <= barTime {
                    try await clock.sleep(until: due)
                    await hub.publishCorrections(minute: pending)
                    corrections.removeFirst()
                    continue
                }
            }
            try await clock.sleep(until: barTime)
            // Real time, like Alpaca's 20–100 ms; skipped when catching up after a stall.
            if clock.now() - barTime < 60 { try await Task.sleep(for: barDelay) }
            await hub.publishBars(minute: minute)
            if generator.updatedBarRate > 0 { corrections.append(minute) }
            next = hours.nextBarMinute(atOrAfter: minute.adding(minutes: 1))
        }
        logger.warning("the calendar has no more trading minutes; the stream sends no more bars")
        // A service that returns would stop the whole simulator; idle until shutdown instead.
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}

/// `--disconnect-every S`: closes every stream connection every S real seconds, to exercise reconnects.
struct StreamDisconnector: Service, CustomStringConvertible {
    var description: String { "StreamDisconnector" }

    let hub: StreamHub
    let interval: Double

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .seconds(interval))
                    _ = await hub.dropAll()
                }
            }
        } catch is CancellationError {}
    }
}
