import Dispatch
import Foundation
import Logging

/// SIGTERM / SIGINT for a service: caught (not fatal), awaited, and followed by a last-resort exit so a
/// stuck shutdown still ends with status 0 within systemd's stop window.
public final class ShutdownSignals: @unchecked Sendable { // immutable after init; the sources are only kept alive
    private let sources: [DispatchSourceSignal]
    private let signals: AsyncStream<Int32>

    /// Installs the handlers now, before the service starts, so no early signal is lost.
    public init() {
        let (signals, continuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        var sources: [DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
        self.signals = signals
    }

    /// The next SIGTERM or SIGINT, and its name.
    public func next() async -> (number: Int32, name: String) {
        var iterator = signals.makeAsyncIterator()
        let number = await iterator.next() ?? SIGTERM
        return (number, number == SIGTERM ? "SIGTERM" : "SIGINT")
    }

    /// Waits for the first signal, logs it, and arms an `exit(0)` after `deadline` seconds.
    public func wait(logger: Logger, deadline: TimeInterval = 1.7) async {
        let (number, _) = await next()
        logger.info("signal received; shutting down", metadata: ["signal": "\(number == SIGTERM ? "SIGTERM" : "SIGINT")"])
        let watchdog = Thread {
            Thread.sleep(forTimeInterval: deadline)
            logger.warning("shutdown took too long; exiting")
            Foundation.exit(0)
        }
        watchdog.start()
    }
}
