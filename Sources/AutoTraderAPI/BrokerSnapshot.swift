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
    }

    private let client: AlpacaClient
    private let freshFor: Duration
    private let staleFor: Duration
    private let logger: Logger
    private var latest: Snapshot?
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
            async let clock = Result { try await client.clock() }
            async let account = Result { try await client.account() }
            let (clockResult, accountResult) = await (clock, account)
            var snapshot = Snapshot(fetchedAt: .now)
            var errors: [String] = []
            switch clockResult {
            case .success(let value): snapshot.clock = value
            case .failure(let error): errors.append("clock: \(Self.describe(error))")
            }
            switch accountResult {
            case .success(let value): snapshot.account = value
            case .failure(let error): errors.append("account: \(Self.describe(error))")
            }
            snapshot.error = errors.isEmpty ? nil : errors.joined(separator: "; ")
            self.finish(snapshot)
            return snapshot
        }
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
