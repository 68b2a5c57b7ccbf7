import Foundation

/// Counters for GET /sim/stats: what the simulator did, so tests can check the system's side effects.
public final class SimStats: @unchecked Sendable {
    public enum Counter: String, CaseIterable, Sendable {
        case restRequests = "rest_requests"
        case unauthorizedRequests = "unauthorized_requests"
        case injectedErrors = "injected_errors"
        case injectedErrorsAfterAccept = "injected_errors_after_accept"
        case rateLimited = "rate_limited"
        case ordersAccepted = "orders_accepted"
        case ordersRefused = "orders_refused"
        case ordersRejected = "orders_rejected"
        case ordersCanceled = "orders_canceled"
        case ordersExpired = "orders_expired"
        case fills
        case partialFills = "partial_fills"
        case barsStreamed = "bars_streamed"
        case updatedBarsStreamed = "updated_bars_streamed"
        case barFrames = "bar_frames"
        case streamConnections = "stream_connections"
        case streamAuthenticated = "stream_authenticated"
        case streamRefused = "stream_refused"
        case streamDisconnectsForced = "stream_disconnects_forced"
        case streamConnectionsSilenced = "stream_connections_silenced"
        /// Bars and corrections a silenced connection would have been sent.
        case barsWithheld = "bars_withheld"
        /// Trading-stream `listen` messages that turned `trade_updates` on, and the events sent (all connections).
        case tradeStreamListens = "trade_stream_listens"
        case tradeUpdatesSent = "trade_updates_sent"
    }

    private let lock = NSLock()
    private var values: [Counter: Int] = [:]
    private var openConnections = 0

    public init() {}

    public func add(_ counter: Counter, _ amount: Int = 1) {
        lock.lock()
        values[counter, default: 0] += amount
        lock.unlock()
    }

    public func value(_ counter: Counter) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return values[counter, default: 0]
    }

    public func connectionOpened() {
        lock.lock()
        openConnections += 1
        values[.streamConnections, default: 0] += 1
        lock.unlock()
    }

    public func connectionClosed() {
        lock.lock()
        openConnections -= 1
        lock.unlock()
    }

    /// Every counter by name, plus the stream connections open right now.
    public func snapshot() -> [String: Int] {
        lock.lock()
        defer { lock.unlock() }
        var result: [String: Int] = ["stream_connections_open": openConnections]
        for counter in Counter.allCases { result[counter.rawValue] = values[counter, default: 0] }
        return result
    }
}
