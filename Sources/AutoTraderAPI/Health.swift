import AutoTraderCore
import Foundation
import GRDB

/// GET /api/health: each service's heartbeat, both databases, the newest bar, the broker.
struct HealthReport: Encodable {
    struct ServiceState: Encodable {
        let service: String
        let state: String
        @ExplicitNull var pid: Int32?
        @ExplicitNull var lastHeartbeat: Timestamp?
        @ExplicitNull var ageSeconds: Int64?
        let stale: Bool
        let detail: JSONValue
        /// No heartbeat for more than `staleAfterIntervals` intervals (not encoded: `stale` says it with the state).
        var silent = false

        enum CodingKeys: String, CodingKey {
            case service, state, pid, lastHeartbeat = "last_heartbeat", ageSeconds = "age_seconds", stale, detail
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
    @ExplicitNull var newestBar: Timestamp?
    let dataStale: Bool
    @ExplicitNull var marketOpen: Bool?
    let broker: String
    @ExplicitNull var security: Security?
    let asOf: Timestamp
    let brokerTime: Timestamp
    @ExplicitNull var nextOpen: Timestamp?
    @ExplicitNull var nextClose: Timestamp?
    let trading: Trading

    /// Whether trading goes on: `halted` says why in plain words, and since when (broker clock).
    struct Trading: Encodable {
        enum State: String, Encodable { case ok, halted, closed }
        let state: State
        let reasons: [String]
        @ExplicitNull var since: Timestamp?
    }

    /// What the owner should know about the PIN: how strong it is, and whether someone has been guessing.
    struct Security: Encodable {
        let pinStrength: String
        let wrongPINsLastHour: Int
        let wrongPINsLastDay: Int
        @ExplicitNull var lastWrongPIN: Timestamp?
        @ExplicitNull var pinLockedForSeconds: Int64?

        init(status: PINStatus) {
            pinStrength = status.strength.rawValue
            wrongPINsLastHour = status.failuresLastHour
            wrongPINsLastDay = status.failuresLastDay
            lastWrongPIN = status.lastFailure
            pinLockedForSeconds = status.lockedForSeconds
        }

        enum CodingKeys: String, CodingKey {
            case pinStrength = "pin_strength", wrongPINsLastHour = "wrong_pins_last_hour", wrongPINsLastDay = "wrong_pins_last_day"
            case lastWrongPIN = "last_wrong_pin", pinLockedForSeconds = "pin_locked_for_seconds"
        }
    }

    enum CodingKeys: String, CodingKey {
        case status, mode, services, databases, newestBar = "newest_bar", dataStale = "data_stale"
        case marketOpen = "market_open", broker, security, asOf = "as_of"
        case brokerTime = "broker_time", nextOpen = "next_open", nextClose = "next_close", trading
    }

    /// The services the dashboard watches, in this order.
    static let serviceNames = ["streamer", "executor", "api"]
    /// A heartbeat older than this many intervals is stale.
    static let staleAfterIntervals: Int64 = 3
    /// Without the market's newest bar for this long (broker time) while it is open, data is stale.
    static let dataStaleAfter: Int64 = 180

    static func build(
        system: SystemDatabase, stocks: StocksDatabase, mode: TradingMode, broker snapshot: BrokerSnapshotCache.Snapshot,
        moment: DashboardMoment, pinPolicy: PINGuessPolicy, defaultHeartbeatInterval: Int64, now: Timestamp = .now()
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
            let silent = age > staleAfterIntervals * interval
            return ServiceState(
                service: name, state: beat.state.rawValue, pid: beat.pid, lastHeartbeat: beat.lastHeartbeat, ageSeconds: age,
                stale: silent || beat.state != .running, detail: detail, silent: silent)
        }

        // The broker: its clock says whether the market is open and what "now" is for data staleness
        // (the simulator's clock in simulated mode, extrapolated from its last reading at its rate).
        // Heartbeats are ages on this machine's clock (a stopped process is stopped at any simulator speed);
        // the times the owner reads are all on the broker's.
        // (The shared snapshot, at most `--broker-cache` old: health is polled, and must not spend the broker's budget.)
        let clock = snapshot.clock
        let broker = clock == nil ? "error: \(snapshot.error ?? "no answer")" : "ok"
        let brokerNow = moment.brokerNow
        let marketOpen: Bool? = clock != nil ? moment.marketOpen : (try? stocks.isMarketOpen(at: brokerNow))

        // The newest bar of each running card's ticker (index lookups); the streamer's own report when no card runs.
        var newest: Timestamp?
        var newestByTicker: [String: Timestamp?] = [:]
        if let tickers = try? Set(system.algorithms(status: .running).map(\.ticker)) {
            for ticker in tickers.sorted() {
                let price = try? stocks.latestPrice(ticker: ticker)
                newestByTicker.updateValue(price?.timestamp, forKey: ticker) // kept when nil: a ticker with no bar at all
                if let price, newest.map({ price.timestamp > $0 }) ?? true { newest = price.timestamp }
            }
        }
        if newest == nil, let streamer = heartbeats["streamer"],
           case .object(let fields) = (try? JSONParser.parse(Array(streamer.detail.utf8))) ?? .null,
           case .string(let text)? = fields["newest_bar"]
        {
            newest = Timestamp(text)
        }
        // Data is stale only for a ticker a running card needs: with no card running nothing is owed.
        // A bar is stamped with its minute's start and arrives after the minute ends.
        var staleTickers: [(ticker: String, newest: Timestamp?)] = []
        if marketOpen == true {
            // Counted from the session's first bar at the earliest: at 09:31 yesterday's last bar is the newest,
            // and nothing is late yet (it was a "halted" on the phone every morning).
            let firstBarDue = (moment.session?.open.secondsSinceEpoch).map { $0 - 60 } ?? Int64.min
            for (ticker, bar) in newestByTicker.sorted(by: { $0.key < $1.key }) {
                // A ticker with no bar at all is late by the same measure (not the instant the market opens).
                let newest = max(bar?.secondsSinceEpoch ?? Int64.min, firstBarDue)
                if newest == Int64.min || brokerNow.secondsSinceEpoch - newest > dataStaleAfter {
                    staleTickers.append((ticker, bar))
                }
            }
        }
        let dataStale = !staleTickers.isEmpty

        let trading = tradingState(
            marketOpen: marketOpen ?? false, executor: services.first { $0.service == "executor" }, staleTickers: staleTickers,
            moment: moment, timeline: snapshot.timeline)

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
            security: (try? system.pinStatus(policy: pinPolicy, now: now)).map(Security.init(status:)), asOf: now,
            brokerTime: brokerNow, nextOpen: clock.map { Timestamp($0.nextOpen) }, nextClose: clock.map { Timestamp($0.nextClose) },
            trading: trading)
    }

    /// Halted: during market hours (broker clock) the executor is missing, stopped or silent, or a running
    /// card's ticker has no fresh bar. Each reason in plain words with its time on the broker's clock
    /// (New York time); `since` is the earliest of them.
    static func tradingState(
        marketOpen: Bool, executor: ServiceState?, staleTickers: [(ticker: String, newest: Timestamp?)], moment: DashboardMoment,
        timeline: BrokerSnapshotCache.BrokerTimeline?
    ) -> Trading {
        guard marketOpen else { return Trading(state: .closed, reasons: [], since: nil) }
        var reasons: [String] = []
        var times: [Timestamp] = []
        if let executor {
            // The heartbeat is stamped on this machine's clock: shown on the broker's.
            let last = executor.lastHeartbeat.map { beat in timeline?.time(ofWallClock: beat) ?? beat }
            let lastText = last.map { " (no sign of life since \(clockText($0)))" } ?? ""
            switch executor.state {
            case "missing":
                reasons.append("the trading service is not running (it has never started here)")
                times.append(moment.session?.open ?? moment.brokerNow)
            case "stopped", "stopping":
                reasons.append("the trading service has stopped\(lastText)")
                times.append(last ?? moment.brokerNow)
            default:
                if executor.silent {
                    reasons.append("the trading service has stopped responding\(lastText)")
                    times.append(last ?? moment.brokerNow)
                }
            }
        }
        for (ticker, newest) in staleTickers {
            if let newest {
                let end = newest.adding(minutes: 1)
                reasons.append("no market data for \(ticker) since \(clockText(end))")
                times.append(max(end, moment.session?.open ?? end))
            } else {
                reasons.append("no market data for \(ticker) yet")
                times.append(moment.session?.open ?? moment.brokerNow)
            }
        }
        return reasons.isEmpty
            ? Trading(state: .ok, reasons: [], since: nil)
            : Trading(state: .halted, reasons: reasons, since: times.min())
    }

    /// "10:42 ET": a broker-clock time as New York reads it.
    static func clockText(_ time: Timestamp) -> String {
        let zone = APIRoutes.calendar?.timeZone ?? TimeZone(identifier: "UTC")!
        let local = time.adding(seconds: Int64(zone.secondsFromGMT(for: time.date)))
        let second = local.secondOfDay
        let text = String(format: "%02d:%02d", second / 3600, second % 3600 / 60)
        return zone.identifier == "UTC" ? text + " UTC" : text + " ET"
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
