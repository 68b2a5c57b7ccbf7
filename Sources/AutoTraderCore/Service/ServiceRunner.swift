import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a process's services (swift-service-lifecycle `Service`s) under one `ServiceGroup` until a signal
/// (SIGTERM or SIGINT by default) asks them to stop: then it logs the signal, tells systemd STOPPING=1, arms
/// a last-resort `exit(0)` (a stuck shutdown still ends with status 0 within systemd's stop window) and shuts
/// the services down gracefully, in the reverse of the order given — so a heartbeat listed first is stopped
/// last and marks its row `stopped` after everything else has finished.
public struct ServiceRunner: Sendable {
    public var logger: Logger
    public var notifier: SystemdNotifier
    public var signals: [UnixSignal]
    /// After the signal the process exits 0 this long later, whatever is still under way (nil: never forced).
    public var exitDeadline: Duration?

    public init(
        logger: Logger, notifier: SystemdNotifier = SystemdNotifier(), signals: [UnixSignal] = [.sigterm, .sigint],
        exitDeadline: Duration? = .milliseconds(1700)
    ) {
        self.logger = logger
        self.notifier = notifier
        self.signals = signals
        self.exitDeadline = exitDeadline
    }

    /// Runs until the services have stopped (after a signal) or one of them ends or fails on its own.
    public func run(_ services: [any Service]) async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }, logger: logger))
        let signals = await UnixSignalsSequence(trapping: self.signals)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await signal in signals {
                    stopping(signal: signal)
                    await group.triggerGracefulShutdown()
                    return
                }
            }
            // However the group ends (after a signal, or on its own), stop listening for signals.
            defer { tasks.cancelAll() }
            try await group.run()
        }
    }

    private func stopping(signal: UnixSignal) {
        logger.info("signal received; shutting down", metadata: ["signal": "\(signal)"])
        notifier.stopping()
        guard let exitDeadline else { return }
        let logger = self.logger
        let seconds = Double(exitDeadline.components.seconds) + Double(exitDeadline.components.attoseconds) / 1e18
        let watchdog = Thread {
            Thread.sleep(forTimeInterval: seconds)
            logger.warning("shutdown took too long; exiting")
            Foundation.exit(0)
        }
        watchdog.start()
    }
}

/// A service whose work runs in loops of its own (the streamer, the executor): `start()` sets them going
/// and returns, `shutdown()` stops them. As a `Service` it runs from `start()` until the graceful shutdown
/// (or cancellation), then shuts down; a start still under way then (the executor reconciling with a slow
/// broker) is cancelled.
public protocol StartStopService: Service {
    func start() async
    func shutdown() async
}

extension StartStopService {
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.start() }
        try? await gracefulShutdown()
        await shutdown()
    }
}
