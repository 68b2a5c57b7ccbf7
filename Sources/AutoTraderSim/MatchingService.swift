import Foundation
import ServiceLifecycle

/// Runs the exchange's book forward every few real milliseconds, so fills, rejections and end-of-day
/// cancellations happen on time even when no client is asking.
struct MatchingService: Service, CustomStringConvertible {
    var description: String { "MatchingService" }

    let exchange: Exchange
    let clock: SimClock
    var period: Duration = .milliseconds(50)

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    await exchange.process(now: clock.now())
                    try await Task.sleep(for: period)
                }
            }
        } catch is CancellationError {}
    }
}
