import AutoTraderCore
import Foundation
import GRDB

/// GET /api/health: each service's heartbeat, both databases, the newest bar, the broker.
struct HealthReport: Encodable {
    struct ServiceState: Encodable {
        let service: String
        let state: String
        let pid: Int32?
        let lastHeartbeat: Timestamp?
        let ageSeconds: Int64?
        let stale: Bool
        let detail: JSONValue

        enum CodingKeys: String, CodingKey {
            case service, state, pid, lastHeartbeat = "last_heartbeat", ageSeconds = "age_seconds", stale, detail
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(service, forKey: .service)
            try container.encode(state, forKey: .state)
            try container.encode(pid, forKey: .pid)
            try container.encode(lastHeartbeat, forKey: .lastHeartbeat)
            try container.encode(ageSeconds, forKey: .ageSeconds)
            try container.encode(stale, forKey: .stale)
            try container.encode(detail, forKey: .detail)
        }
    }

    struct Databases: Encodable {
        let system: String
        let stocks: String
    }

    let status: String
    let mode: String
    let services: [ServiceState]
    let databases: Databases
    let newestBar: Timestamp?
    let dataStale: Bool
    let marketOpen: Bool?
    let broker: String
    let security: Security?
    let asOf: Timestamp

    /// What the owner should know about the PIN: how strong it is, and whether someone has been guessing.
    struct Security: Encodable {
        let status: PINStatus

        enum CodingKeys: String, CodingKey {
            case pinStrength = "pin_strength", wrongPINsLastHour = "wrong_pins_last_hour", wrongPINsLastDay = "wrong_pins_last_day"
            case lastWrongPIN = "last_wrong_pin", pinLockedForSeconds = "pin_locked_for_seconds"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(status.strength.rawValue, forKey: .pinStrength)
            try container.encode(status.failuresLastHour, forKey: .wrongPINsLastHour)
            try container.encode(status.failuresLastDay, forKey: .wrongPINsLastDay)
            try container.encode(status.lastFailure, forKey: .lastWrongPIN)
            try container.encode(status.lockedForSeconds, forKey: .pinLockedForSeconds)
        }
    }

    enum CodingKeys: String, CodingKey {
        case status, mode, services, databases, newestBar = "newest_bar", dataStale = "data_stale"
        case marketOpen = "market_open", broker, security, asOf = "as_of"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(mode, forKey: .mode)
        try container.encode(services, forKey: .services)
        try container.encode(databases, forKey: .databases)
        try container.encode(newestBar, forKey: .newestBar)
        try container.encode(dataStale, forKey: .dataStale)
        try container.encode(marketOpen, forKey: .marketOpen)
        try container.encode(broker, forKey: .broker)
        try container.encode(security, forKey: .security)
        try container.encode(asOf, forKey: .asOf)
    }

    /// The services the dashboard watches, in this order.
    static let serviceNames = ["streamer", "executor", "api"]
    /// A heartbeat older than this many intervals is stale.
    static let staleAfterIntervals: Int64 = 3
    /// Without the market's newest bar for this long (broker time) while it is open, data is stale.
    static let dataStaleAfter: Int64 = 180

    static func build(
        system: SystemDatabase, stocks: StocksDatabase, mode: TradingMode, broker snapshot: BrokerSnapshotCache.Snapshot,
        pinPolicy: PINGuessPolicy, defaultHeartbeatInterval: Int64, now: Timestamp = .now()
    ) async -> HealthReport {
        // Services.
        var heartbeats: [String: ServiceHeartbeat] = [:]
        var systemStatus = "ok"
        do {
            for beat in try system.heartbeats() { heartbeats[beat.service] = beat }
            systemStatus = try system.status()
        } catch {
            systemStatus = "error: \(describe(error))"
        }
        let stocksStatus: String
        do {
            stocksStatus = try stocks.status()
        } catch {
            stocksStatus = "error: \(describe(error))"
        }
        let services = serviceNames.map { name -> ServiceState in
            guard let beat = heartbeats[name] else {
                return ServiceState(service: name, state: "missing", pid: nil, lastHeartbeat: nil, ageSeconds: nil, stale: true, detail: .object([:]))
            }
            let detail = (try? JSONParser.parse(Array(beat.detail.utf8))) ?? .object([:])
            var interval = defaultHeartbeatInterval
            if case .object(let fields) = detail, case .number(let seconds)? = fields["heartbeat_interval"] {
                interval = max(1, Int64(truncating: NSDecimalNumber(decimal: seconds.rounded(.up))))
            }
            let age = max(0, now.secondsSinceEpoch - beat.lastHeartbeat.secondsSinceEpoch)
            let stale = age > staleAfterIntervals * interval || beat.state != .running
            return ServiceState(
                service: name, state: beat.state.rawValue, pid: beat.pid, lastHeartbeat: beat.lastHeartbeat, ageSeconds: age,
                stale: stale, detail: detail)
        }

        // The broker: its clock says whether the market is open and what "now" is for data staleness.
        // (The shared snapshot, at most `--broker-cache` old: health is polled, and must not spend the broker's budget.)
        let clock = snapshot.clock
        let broker = clock == nil ? "error: \(snapshot.error ?? "no answer")" : "ok"
        let brokerNow = clock.map { Timestamp($0.timestamp) } ?? now
        var marketOpen = clock?.isOpen
        if marketOpen == nil { marketOpen = try? stocks.isMarketOpen(at: now) }

        // The newest bar of the running cards' tickers (index lookups), or the streamer's own report.
        var newest: Timestamp?
        if let tickers = try? Set(system.algorithms(status: .running).map(\.ticker)) {
            for ticker in tickers {
                if let price = try? stocks.latestPrice(ticker: ticker), newest.map({ price.timestamp > $0 }) ?? true {
                    newest = price.timestamp
                }
            }
        }
        if newest == nil, let streamer = heartbeats["streamer"],
           case .object(let fields) = (try? JSONParser.parse(Array(streamer.detail.utf8))) ?? .null,
           case .string(let text)? = fields["newest_bar"]
        {
            newest = Timestamp(text)
        }
        var dataStale = false
        if marketOpen == true {
            // A bar is stamped with its minute's start and arrives after the minute ends.
            dataStale = newest.map { brokerNow.secondsSinceEpoch - $0.secondsSinceEpoch > dataStaleAfter } ?? true
        }

        let status: String
        if systemStatus != "ok" {
            status = "down"
        } else if stocksStatus != "ok" || broker != "ok" || dataStale || services.contains(where: \.stale) {
            status = "degraded"
        } else {
            status = "ok"
        }
        return HealthReport(
            status: status, mode: mode.rawValue, services: services,
            databases: Databases(system: systemStatus, stocks: stocksStatus), newestBar: newest, dataStale: dataStale,
            marketOpen: marketOpen, broker: broker,
            security: (try? system.pinStatus(policy: pinPolicy, now: now)).map(Security.init(status:)), asOf: now)
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return "SQLite \(error.resultCode.rawValue): \(error.message ?? "")" }
        if let error = error as? AutoTraderError { return error.description }
        return String(describing: error)
    }
}

extension JSONValue: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let values): try container.encode(values)
        case .object(let fields): try container.encode(fields)
        }
    }
}

extension Decimal {
    func rounded(_ rule: FloatingPointRoundingRule) -> Decimal {
        var input = self, result = Decimal()
        NSDecimalRound(&result, &input, 0, rule == .up ? .up : .plain)
        return result
    }
}
