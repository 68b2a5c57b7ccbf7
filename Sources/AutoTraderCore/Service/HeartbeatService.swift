import Foundation
import GRDBSQLite
import Logging
import ServiceLifecycle
import Synchronization

/// What a service says about itself at a heartbeat.
public struct HeartbeatReport: Sendable {
    /// The row's state: `starting` until the service is ready, then `running` or `degraded`.
    public var state: ServiceHeartbeat.State
    /// The row's `detail` (encoded as a JSON object).
    public var detail: any Encodable & Sendable
    /// systemd's STATUS= line.
    public var status: String

    public init(state: ServiceHeartbeat.State, detail: any Encodable & Sendable, status: String) {
        self.state = state
        self.detail = detail
        self.status = status
    }
}

/// A service with a heartbeat row: it reports itself at each beat and says once when it is ready.
public protocol HeartbeatReporting: Sendable {
    /// Writes the service's row of `service_heartbeats`.
    var heartbeatWriter: HeartbeatWriter { get }
    var readiness: ServiceReadiness { get }
    func heartbeatReport() async -> HeartbeatReport
}

/// Said once by a service when it is ready — the streamer once its stream is authenticated (and subscribed),
/// the executor once every open order intent is reconciled, the api once it listens. Its heartbeat then
/// beats at once and sends READY=1.
public final class ServiceReadiness: Sendable {
    private let state = Mutex<(ready: Bool, status: String?)>((false, nil))
    /// Wakes the heartbeat (buffered: a wake-up while it beats is not lost).
    fileprivate let wake = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

    public init() {}

    public var isReady: Bool { state.withLock { $0.ready } }

    /// `status`: the STATUS= line sent with READY=1 (by default the heartbeat's own).
    public func ready(status: String? = nil) {
        let first = state.withLock { state in
            guard !state.ready else { return false }
            state = (true, status)
            return true
        }
        if first { wake.continuation.yield() }
    }

    fileprivate var readyStatus: String? { state.withLock { $0.status } }
}

/// The one heartbeat loop of every service. Every `interval` (and at least every half of systemd's
/// `WATCHDOG_USEC`) it writes the service's row and tells systemd STATUS= and WATCHDOG=1; once the service
/// is ready it beats at once and sends READY=1 (with STATUS=) instead. Listed first in a `ServiceRunner`,
/// it is shut down last, after the service has finished, and then marks the row `stopped`.
public struct HeartbeatService: Service {
    let reporter: any HeartbeatReporting
    let interval: Duration
    let notifier: SystemdNotifier
    let logger: Logger

    public init(reporting reporter: any HeartbeatReporting, interval: Duration, notifier: SystemdNotifier = SystemdNotifier(), logger: Logger) {
        self.reporter = reporter
        self.interval = interval
        self.notifier = notifier
        self.logger = logger
    }

    public func run() async throws {
        let readiness = reporter.readiness
        let wake = readiness.wake
        let every = notifier.watchdogInterval.map { min($0, interval) } ?? interval
        await beat(.starting)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { clock in
                clock.addTask {
                    while !Task.isCancelled {
                        wake.continuation.yield()
                        try? await Task.sleep(for: every)
                    }
                }
                var announced = false
                for await _ in wake.stream {
                    if Task.isShuttingDownGracefully { break }
                    let report = await beat(nil)
                    if !announced && readiness.isReady {
                        announced = true
                        notifier.ready(status: readiness.readyStatus ?? report.status)
                    } else {
                        notifier.status(report.status)
                        notifier.watchdog()
                    }
                }
                clock.cancelAll()
            }
        } onGracefulShutdown: {
            wake.continuation.finish()
        }
        await beat(.stopped)
    }

    /// Writes the row: the service's own state, or `state` when given. Returns the report.
    @discardableResult
    private func beat(_ state: ServiceHeartbeat.State?) async -> HeartbeatReport {
        let report = await reporter.heartbeatReport()
        do {
            try await reporter.heartbeatWriter.beat(state: state ?? report.state, detail: HeartbeatDetail(report.detail))
        } catch {
            logger.warning("cannot write the heartbeat to system.db", metadata: ["error": "\(error)"])
        }
        return report
    }
}

/// A report's detail with the memory SQLite holds in this process beside it (page caches, prepared statements):
/// the part of the heap that fills as the databases grow up to the caches' bounds, told apart from a leak
/// (`autotrader-bench soak` prints both).
struct HeartbeatDetail: Encodable, Sendable {
    let detail: any Encodable & Sendable
    let sqliteMemoryBytes: Int64

    init(_ detail: any Encodable & Sendable, sqliteMemoryBytes: Int64 = sqlite3_memory_used()) {
        self.detail = detail
        self.sqliteMemoryBytes = sqliteMemoryBytes
    }

    enum CodingKeys: String, CodingKey { case sqliteMemoryBytes = "sqlite_memory_bytes" }

    func encode(to encoder: any Encoder) throws {
        try detail.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sqliteMemoryBytes, forKey: .sqliteMemoryBytes)
    }
}
