import AutoTraderCore
import Foundation
import Logging

/// The broker's clock and account as GET /api/algorithms needs them: fetched at most every
/// `freshFor` (single flight: one request to the broker however many clients ask), so the
/// endpoint is served from SQLite and memory. An answer up to `staleFor` old is served at once
/// while a refresh runs in the background; older than that, the caller waits for the refresh.
/// A failed refresh is remembered the same way, so an unreachable broker costs each client nothing.
public actor BrokerSnapshotCache {
    public struct Snapshot: Sendable {
        public var clock: AlpacaClock?
        public var account: AlpacaAccount?
        public var error: String?
        public var fetchedAt: ContinuousClock.Instant
        /// The broker's clock as last read successfully (kept through a failed refresh) and the rate it runs at.
        public var timeline: BrokerTimeline?

        /// The broker's time now: its last reading, extrapolated at its observed rate (the simulator's 60× included).
        public func brokerNow(at instant: ContinuousClock.Instant = .now) -> Timestamp? {
            timeline?.time(at: instant)
        }
    }

    /// Readings of the broker's clock against this process's monotonic clock: the latest, and the rate
    /// measured across the unbroken stretch of readings (a jump, such as the simulator skipping a night,
    /// starts a new stretch). Until two readings a second apart exist the rate is taken as 1.
    public struct BrokerTimeline: Sendable {
        var anchor: (broker: Date, at: ContinuousClock.Instant)
        var latest: (broker: Date, at: ContinuousClock.Instant)
        public private(set) var rate: Double = 1
        /// Whether `rate` has been measured (until then every reading extends the first stretch).
        var measured = false

        init(broker: Date, at: ContinuousClock.Instant) {
            anchor = (broker, at)
            latest = (broker, at)
        }

        /// The broker's time at `instant` (seconds truncated).
        public func time(at instant: ContinuousClock.Instant) -> Timestamp {
            Timestamp(latest.broker.addingTimeInterval(Self.seconds(instant - latest.at) * rate))
        }

        /// The broker's time at a wall-clock instant of this machine (a heartbeat's, say), mapped through the
        /// current stretch: `now` on the broker's clock minus the wall-clock time since, at the broker's rate.
        public func time(ofWallClock wall: Timestamp, wallNow: Date = Date(), at instant: ContinuousClock.Instant = .now) -> Timestamp {
            let brokerNow = latest.broker.addingTimeInterval(Self.seconds(instant - latest.at) * rate)
            return Timestamp(brokerNow.addingTimeInterval(-max(0, wallNow.timeIntervalSince(wall.date)) * rate))
        }

        mutating func add(broker: Date, at instant: ContinuousClock.Instant) {
            let sinceLatest = Self.seconds(instant - latest.at)
            let predicted = latest.broker.addingTimeInterval(sinceLatest * rate)
            let error = abs(broker.timeIntervalSince(predicted))
            if broker < latest.broker || (measured && error > max(60, sinceLatest * rate * 0.5)) {
                anchor = (broker, instant) // a jump: the rate so far still holds, the stretch starts again
            } else {
                let span = Self.seconds(instant - anchor.at)
                if span >= 1 {
                    rate = max(0, broker.timeIntervalSince(anchor.broker) / span)
                    measured = true
                }
            }
            latest = (broker, instant)
        }

        static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
    }

    private let client: AlpacaClient
    private let freshFor: Duration
    private let staleFor: Duration
    private let logger: Logger
    private var latest: Snapshot?
    private var timeline: BrokerTimeline?
    private var inFlight: Task<Snapshot, Never>?

    public init(client: AlpacaClient, freshFor: Duration = .seconds(2), staleFor: Duration = .seconds(10), logger: Logger) {
        self.client = client
        self.freshFor = freshFor
        self.staleFor = staleFor
        self.logger = logger
    }

    public func snapshot() async -> Snapshot {
        let now = ContinuousClock.now
        if let latest {
            let age = now - latest.fetchedAt
            if age < freshFor { return latest }
            if age < staleFor {
                if inFlight == nil { startRefresh() }
                return latest
            }
        }
        if inFlight == nil { startRefresh() }
        return await inFlight!.value
    }

    /// Forgets the cached answer (after this process changed what the broker would say, it doesn't).
    public func invalidate() { latest = nil }

    private func startRefresh() {
        let client = self.client
        inFlight = Task {
            let asked = ContinuousClock.now
            async let clock = Result { try await client.clock() }
            async let account = Result { try await client.account() }
            let (clockResult, accountResult) = await (clock, account)
            var snapshot = Snapshot(fetchedAt: .now)
            var errors: [String] = []
            switch clockResult {
            case .success(let value):
                snapshot.clock = value
                // Stamped at the middle of the request: the broker read its clock somewhere in between.
                snapshot.timeline = self.observe(value.timestamp, at: asked + (ContinuousClock.now - asked) / 2)
            case .failure(let error): errors.append("clock: \(Self.describe(error))")
            }
            switch accountResult {
            case .success(let value): snapshot.account = value
            case .failure(let error): errors.append("account: \(Self.describe(error))")
            }
            snapshot.error = errors.isEmpty ? nil : errors.joined(separator: "; ")
            if snapshot.timeline == nil { snapshot.timeline = self.timeline }
            self.finish(snapshot)
            return snapshot
        }
    }

    private func observe(_ broker: Date, at instant: ContinuousClock.Instant) -> BrokerTimeline {
        if timeline == nil { timeline = BrokerTimeline(broker: broker, at: instant) } else { timeline!.add(broker: broker, at: instant) }
        return timeline!
    }

    private func finish(_ snapshot: Snapshot) {
        if let error = snapshot.error, latest?.error == nil {
            logger.warning("broker unreachable", metadata: ["error": "\(error)"])
        } else if snapshot.error == nil, latest?.error != nil {
            logger.info("broker reachable again")
        }
        latest = snapshot
        inFlight = nil
    }

    static func describe(_ error: any Error) -> String {
        (error as? AlpacaError)?.description ?? String(describing: type(of: error))
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
