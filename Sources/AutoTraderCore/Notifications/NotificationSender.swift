import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ServiceLifecycle

/// Sends one notification request and says what the receiver answered.
public protocol NotificationTransport: Sendable {
    /// The HTTP status of the answer; throws when there was none within `timeout`.
    func send(_ request: NotificationRequest, timeout: Duration) async throws -> Int
}

/// The real transport: AsyncHTTPClient's shared client, one request at a time, with a deadline.
public struct HTTPNotificationTransport: NotificationTransport {
    public init() {}

    public func send(_ request: NotificationRequest, timeout: Duration) async throws -> Int {
        var http = HTTPClientRequest(url: request.url.absoluteString)
        http.method = .POST
        for header in request.headers { http.headers.add(name: header.name, value: header.value) }
        http.body = .bytes(ByteBuffer(data: request.body))
        let response = try await HTTPClient.shared.execute(http, timeout: .milliseconds(timeout.milliseconds))
        // Read (a little of) the answer so the connection can be reused; its content doesn't matter.
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return Int(response.status.code)
    }
}

/// The sender's sense of time: the wall clock, or a test's.
public protocol OutboxClock: Sendable {
    func now() -> Timestamp
    func sleep(for duration: Duration) async throws
}

/// The wall clock.
public struct SystemOutboxClock: OutboxClock {
    public init() {}
    public func now() -> Timestamp { .now() }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// How hard the sender tries: retries 1 s after a failure, doubling to `maxRetry`, until a message is
/// `giveUpAfter` old (then it is marked failed: news a day late is noise, and the doctor says so).
public struct DeliveryPolicy: Sendable, Equatable {
    public var firstRetry: Int64 = 1
    public var maxRetry: Int64 = 300
    public var giveUpAfter: Int64 = 86_400
    /// Per request: delivery never waits on a receiver longer than this.
    public var requestTimeout: Duration = .seconds(10)
    /// How often an empty outbox is looked at again.
    public var idlePoll: Duration = .seconds(1)
    /// Delivered, failed and skipped rows are kept this long.
    public var keepDays: Int64 = 30

    public init() {}

    /// Seconds to wait after the `attempt`-th failed attempt (1-based).
    public func retryDelay(afterAttempt attempt: Int) -> Int64 {
        let exponent = min(max(attempt - 1, 0), 30)
        return min(maxRetry, firstRetry << Int64(exponent))
    }
}

/// Delivers the outbox, oldest first, one message at a time: a message is marked sent only after a 2xx,
/// so a message is sent at least once; it is sent twice only when the process dies (or the answer is lost)
/// after the receiver took it and before the mark is written. Every attempt carries the same event id.
public struct NotificationSender: Sendable {
    /// What one step did.
    public enum Step: Equatable, Sendable {
        /// Nothing pending.
        case idle
        /// The oldest pending message isn't due until then.
        case waiting(until: Timestamp)
        case sent(eventID: String)
        /// Failed; tried again at `nextAttempt`.
        case retry(eventID: String, nextAttempt: Timestamp, error: String)
        case gaveUp(eventID: String, error: String)
    }

    let system: SystemDatabase
    let target: NotifyTarget
    let transport: any NotificationTransport
    let clock: any OutboxClock
    let policy: DeliveryPolicy
    let logger: Logger

    public init(
        system: SystemDatabase, target: NotifyTarget, transport: any NotificationTransport = HTTPNotificationTransport(),
        clock: any OutboxClock = SystemOutboxClock(), policy: DeliveryPolicy = DeliveryPolicy(), logger: Logger
    ) {
        self.system = system
        self.target = target
        self.transport = transport
        self.clock = clock
        self.policy = policy
        self.logger = logger
    }

    /// Tries the oldest pending message once, if it is due.
    public func step() async throws -> Step {
        guard let entry = try system.nextPendingNotification() else { return .idle }
        let now = clock.now()
        guard entry.nextAttemptAt <= now else { return .waiting(until: entry.nextAttemptAt) }
        let notification = entry.notification
        let error: String
        do {
            let status = try await transport.send(NotificationRequest(notification, target: target), timeout: policy.requestTimeout)
            if (200..<300).contains(status) {
                try system.markNotificationSent(id: entry.id, now: clock.now())
                logger.info("notification sent", metadata: ["event_id": "\(notification.eventID)", "kind": "\(notification.kind.rawValue)"])
                return .sent(eventID: notification.eventID)
            }
            error = "HTTP \(status)"
        } catch is CancellationError {
            throw CancellationError()
        } catch let failure {
            // The error names the host at most, never the URL's userinfo or query.
            error = Self.describe(failure)
        }
        let after = clock.now()
        let attempt = entry.attempts + 1
        let next = after.adding(seconds: policy.retryDelay(afterAttempt: attempt))
        let giveUp = after.secondsSinceEpoch - notification.createdAt.secondsSinceEpoch >= policy.giveUpAfter
        try system.markNotificationFailedAttempt(id: entry.id, error: error, nextAttempt: next, giveUp: giveUp)
        let metadata: Logger.Metadata = [
            "event_id": "\(notification.eventID)", "attempt": "\(attempt)", "error": "\(error)", "target": "\(target.redacted)",
        ]
        if giveUp {
            logger.error("notification given up: undeliverable for a day", metadata: metadata)
            return .gaveUp(eventID: notification.eventID, error: error)
        }
        logger.warning("notification not delivered; will retry", metadata: metadata.merging(["retry_at": "\(next.text)"]) { $1 })
        return .retry(eventID: notification.eventID, nextAttempt: next, error: error)
    }

    /// Delivers until cancelled: sends what is due, sleeps until the next is due (or `idlePoll`).
    public func run() async throws {
        var lastPrune: Timestamp?
        while !Task.isCancelled {
            let now = clock.now()
            if lastPrune.map({ now.secondsSinceEpoch - $0.secondsSinceEpoch >= 3600 }) ?? true {
                lastPrune = now
                _ = try? system.pruneNotifications(before: now.adding(seconds: -policy.keepDays * 86_400))
            }
            let step: Step
            do {
                step = try await self.step()
            } catch is CancellationError {
                return
            } catch {
                logger.error("notification outbox unreadable; retrying", metadata: ["error": "\(error)"])
                try await clock.sleep(for: .seconds(5))
                continue
            }
            switch step {
            case .sent, .retry, .gaveUp: continue
            case .idle: try await clock.sleep(for: policy.idlePoll)
            case .waiting(let until):
                let seconds = max(0, until.secondsSinceEpoch - clock.now().secondsSinceEpoch)
                try await clock.sleep(for: min(.seconds(seconds), .seconds(5)) + .milliseconds(50))
            }
        }
    }

    /// A delivery error in a few words (never the URL: it may hold credentials).
    public static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "no answer in time"
            case .remoteConnectionClosed: return "the receiver closed the connection"
            default: return "HTTP client: \(error)"
            }
        }
        return String(describing: type(of: error)) + ": " + String(String(describing: error).prefix(200))
    }
}

/// The api's notification service: delivers the outbox to `AUTOTRADER_NOTIFY_URL` while the api runs (or,
/// with no URL configured, marks what comes due as skipped), and stops at graceful shutdown.
public struct NotificationService: Service {
    let system: SystemDatabase
    let target: NotifyTarget?
    let policy: DeliveryPolicy
    let logger: Logger

    public init(system: SystemDatabase, target: NotifyTarget?, policy: DeliveryPolicy = DeliveryPolicy(), logger: Logger) {
        self.system = system
        self.target = target
        self.policy = policy
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            guard let target else { return try await self.skipWithoutTarget() }
            logger.info("notifications on", metadata: ["target": "\(target.redacted)", "format": "\(target.format.rawValue)"])
            try await NotificationSender(system: system, target: target, policy: policy, logger: logger).run()
        }
    }

    /// No URL: nothing can be sent; pending rows are closed as skipped every minute and old rows pruned.
    private func skipWithoutTarget() async throws {
        while !Task.isCancelled {
            do {
                let skipped = try system.skipPendingNotifications(reason: "no \(NotifyTarget.urlKey) configured")
                if skipped > 0 { logger.debug("notifications skipped: no URL configured", metadata: ["count": "\(skipped)"]) }
                _ = try system.pruneNotifications(before: Timestamp.now().adding(seconds: -policy.keepDays * 86_400))
            } catch {
                logger.warning("notification outbox unreadable", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: .seconds(60))
        }
    }
}
