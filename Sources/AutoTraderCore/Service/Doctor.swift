import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of `autotrader doctor`: what was checked, the verdict, and what was found (never a key or the PIN).
public struct DoctorCheck: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable {
        case ok, warn, fail

        /// `ok`, `warn` or `FAIL`: a failure stands out in a column of verdicts.
        public var label: String { self == .fail ? "FAIL" : rawValue }
    }

    public var check: String
    public var verdict: Verdict
    public var detail: String

    public init(_ check: String, _ verdict: Verdict, _ detail: String) {
        self.check = check
        self.verdict = verdict
        self.detail = detail
    }
}

/// Checks an installation end to end: configuration, both databases, the broker's REST and stream,
/// clock skew, free disk and the services' heartbeats. Reads only: it never migrates or writes a database.
public struct Doctor: Sendable {
    public struct Options: Sendable {
        public var configPath: String?
        public var systemDatabasePath: String?
        public var stocksDatabasePath: String?
        /// A heartbeat older than this is stale (the services beat every 5 s by default).
        public var staleAfter: TimeInterval = 30
        /// Per network check.
        public var timeout: Duration = .seconds(10)
        /// Services whose heartbeat must be fresh.
        public var services: [String] = ["streamer", "executor", "api"]
        public var environment: [String: String] = ProcessInfo.processInfo.environment
        /// The algorithms compiled into this build (named when the executor hasn't published its catalog).
        public var compiled = AlgorithmCatalog([])

        public init() {}
    }

    public let options: Options

    public init(options: Options) { self.options = options }

    /// Every check, in a fixed order.
    public func run() async -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let settings: Settings
        do {
            settings = try Settings.load(environment: options.environment, configPath: options.configPath)
        } catch {
            return [DoctorCheck("configuration", .fail, "\(error)")]
        }
        let (configuration, configurationCheck) = checkConfiguration(settings)
        checks.append(configurationCheck)
        let systemPath = options.systemDatabasePath ?? settings.systemDatabasePath
        let stocksPath = options.stocksDatabasePath ?? settings.stocksDatabasePath
        checks.append(Self.checkDatabase(name: "system.db", path: systemPath, schema: SystemSchema.schema))
        checks.append(Self.checkDatabase(name: "stocks.db", path: stocksPath, schema: StocksSchema.schema))
        checks.append(Self.checkPIN(systemPath: systemPath, mode: configuration?.mode))
        checks.append(Self.checkAlgorithms(systemPath: systemPath, compiled: options.compiled))
        let heartbeats = readHeartbeats(systemPath)
        if let configuration {
            checks += await checkBroker(configuration, heartbeats: heartbeats)
        } else {
            for name in ["broker", "stream", "clock"] { checks.append(DoctorCheck(name, .fail, "not checked: the configuration is unusable")) }
        }
        checks.append(await checkNotifications(settings, systemPath: systemPath))
        checks.append(Self.checkDisk(paths: [systemPath, stocksPath]))
        checks += checkHeartbeats(heartbeats)
        return checks
    }

    // MARK: - Configuration

    func checkConfiguration(_ settings: Settings) -> (AlpacaConfiguration?, DoctorCheck) {
        var notes: [String] = []
        var verdict = DoctorCheck.Verdict.ok
        if let path = settings.configPath {
            var info = stat()
            if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
                verdict = .warn
                notes.append("\(path) is mode \(String(info.st_mode & 0o777, radix: 8)): make it 0600 (it may hold keys)")
            } else {
                notes.append(path)
            }
        } else {
            notes.append("no configuration file (environment only)")
        }
        do {
            let alpaca = try AlpacaConfiguration.resolve(settings)
            let mode: String
            switch alpaca.mode {
            case .simulated: mode = "simulated mode (no Alpaca keys), simulator at \(alpaca.tradingURL.absoluteString)"
            case .paper: mode = "paper mode, keys present, feed \(alpaca.feed)"
            case .live: mode = "LIVE mode (real money), keys present, feed \(alpaca.feed)"
            }
            return (alpaca, DoctorCheck("configuration", verdict, ([mode] + notes).joined(separator: "; ")))
        } catch {
            return (nil, DoctorCheck("configuration", .fail, "\(error)"))
        }
    }

    // MARK: - Databases

    /// `PRAGMA quick_check` and the schema version, on a read-only connection.
    public static func checkDatabase(name: String, path: String, schema: DatabaseSchema) -> DoctorCheck {
        guard FileManager.default.fileExists(atPath: path) else {
            return DoctorCheck(name, .fail, "not found at \(path): create it with `autotrader init`")
        }
        do {
            let (check, version) = try DatabaseFile.quickCheck(path: path)
            guard check == ["ok"] else {
                return DoctorCheck(name, .fail, "quick_check found damage at \(path): \(check.prefix(3).joined(separator: "; ")); restore a backup (README: backup and restore)")
            }
            let latest = schema.latestVersion
            if version > latest {
                return DoctorCheck(name, .fail, "schema version \(version) is newer than this program's \(latest): upgrade AutoTrader")
            }
            if version < latest {
                return DoctorCheck(name, .warn, "integrity ok; schema version \(version), this program's is \(latest): the services migrate it on start (or `autotrader init`)")
            }
            return DoctorCheck(name, .ok, "integrity ok, schema version \(version), \(byteCount(fileSize(path))) at \(path)")
        } catch {
            return DoctorCheck(name, .fail, "cannot read \(path): \(error)")
        }
    }

    /// The PIN of a fresh system.db is written in the design for anyone to read: while it is set, whoever
    /// stands at the wall can add and stop cards. A warning with paper money, a failure with real money.
    /// A PIN from before the 6-digit rule is a warning (it falls to patient guessing sooner); wrong PINs in
    /// the last day are a warning with their count. The PIN itself is never shown.
    public static func checkPIN(systemPath: String, mode: TradingMode?) -> DoctorCheck {
        do {
            let (pin, wrong) = try SystemDatabase.inspectPIN(path: systemPath, wrongSince: Timestamp.now().adding(seconds: -86_400))
            let change = "change it with `sudo -u autotrader autotrader set-pin` (6–12 digits) or on the dashboard"
            let guessing = wrong > 0 ? "; \(wrong) wrong PIN\(wrong == 1 ? "" : "s") in the last day: someone may be guessing" : ""
            switch Validation.strength(ofPIN: pin ?? SystemSchema.defaultPIN, factory: SystemSchema.defaultPIN) {
            case .factory:
                return DoctorCheck(
                    "pin", mode == .live ? .fail : .warn,
                    "the default PIN is still set: anyone at the dashboard can add and stop cards, and paper or live trading is refused until it is changed; \(change)\(guessing)")
            case .weak:
                return DoctorCheck("pin", .warn, "the PIN is shorter or simpler than new PINs may be; \(change)\(guessing)")
            case .strong:
                return DoctorCheck("pin", wrong > 0 ? .warn : .ok, "changed from the default\(guessing)")
            }
        } catch {
            return DoctorCheck("pin", .fail, "cannot read system.db at \(systemPath): \(error)")
        }
    }

    static func fileSize(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    // MARK: - Broker

    func checkBroker(_ configuration: AlpacaConfiguration, heartbeats: [String: ServiceHeartbeat]?) async -> [DoctorCheck] {
        var configuration = configuration
        configuration.requestTimeout = options.timeout
        var policy = AlpacaClient.RetryPolicy()
        policy.maxAttempts = 2
        policy.maxRateLimitWaits = 1
        policy.maxRateLimitDelay = .seconds(5)
        let quiet = Logger(label: "doctor") { _ in SwiftLogNoOpLogHandler() }
        let client = AlpacaClient(configuration: configuration, retryPolicy: policy, logger: quiet)
        let where_ = configuration.mode == .simulated ? "the simulator" : "Alpaca"
        var checks: [DoctorCheck] = []

        // REST: reachability and authentication.
        var reachable = false
        do {
            let account = try await client.account()
            reachable = true
            let blocked = account.tradingBlocked ? " (trading is BLOCKED on the account)" : ""
            checks.append(DoctorCheck(
                "broker", account.tradingBlocked || account.status != "ACTIVE" ? .warn : .ok,
                "\(where_) reachable at \(configuration.tradingURL.absoluteString), authenticated; account \(account.status)\(blocked)"))
        } catch let error as AlpacaError where error.isUnauthorized {
            reachable = true
            checks.append(DoctorCheck("broker", .fail, "\(where_) refused the keys (\(error.status ?? 0)): check ALPACA_API_KEY / ALPACA_SECRET, and ALPACA_PAPER for paper keys"))
        } catch {
            checks.append(DoctorCheck("broker", .fail, "\(where_) unreachable at \(configuration.tradingURL.absoluteString): \(error)"))
        }

        // Stream: a short authentication.
        checks.append(await checkStream(configuration, heartbeats: heartbeats))

        // Clock skew against the broker's clock.
        if !reachable {
            checks.append(DoctorCheck("clock", .fail, "not checked: \(where_) is unreachable"))
        } else {
            do {
                let sent = Date()
                let clock = try await client.clock()
                let received = Date()
                let local = sent.addingTimeInterval(received.timeIntervalSince(sent) / 2)
                let skew = local.timeIntervalSince(clock.timestamp)
                let text = String(format: "%+.1f s", skew)
                if configuration.mode == .simulated, abs(skew) > 2 {
                    checks.append(DoctorCheck("clock", .ok, "the simulator keeps its own clock (at \(RFC3339.format(clock.timestamp))); skew not meaningful"))
                } else if abs(skew) <= 2 {
                    checks.append(DoctorCheck("clock", .ok, "local clock \(text) from \(where_)'s"))
                } else if abs(skew) <= 30 {
                    checks.append(DoctorCheck("clock", .warn, "local clock \(text) from \(where_)'s: check NTP (timedatectl)"))
                } else {
                    checks.append(DoctorCheck("clock", .fail, "local clock \(text) from \(where_)'s: minutes would be misattributed; fix NTP (timedatectl)"))
                }
            } catch {
                checks.append(DoctorCheck("clock", .fail, "GET /v2/clock failed: \(error)"))
            }
        }
        return checks
    }

    func checkStream(_ configuration: AlpacaConfiguration, heartbeats: [String: ServiceHeartbeat]?) async -> DoctorCheck {
        let quiet = Logger(label: "doctor") { _ in SwiftLogNoOpLogHandler() }
        let stream = AlpacaBarStream(configuration: configuration, logger: quiet, idleTimeout: nil)
        let url = configuration.streamURL.absoluteString
        let running = Task { await stream.run() }
        let timeout = Task {
            try? await Task.sleep(for: options.timeout)
            running.cancel()
        }
        defer {
            running.cancel()
            timeout.cancel()
        }
        var outcome: DoctorCheck?
        for await event in stream.events {
            switch event {
            case .authenticated:
                outcome = DoctorCheck("stream", .ok, "authenticated at \(url)")
            case .streamError(let error) where error.code == 406:
                if let beat = heartbeats?[StreamerService.serviceName], isFresh(beat), beat.state == .running || beat.state == .degraded {
                    outcome = DoctorCheck("stream", .ok, "the streamer holds the account's one stream connection (406 connection limit exceeded while its heartbeat is fresh)")
                } else {
                    outcome = DoctorCheck("stream", .fail, "406 connection limit exceeded, and the streamer's heartbeat is not fresh: another program uses this account's stream")
                }
            case .streamError(let error) where error.code == 402:
                outcome = DoctorCheck("stream", .fail, "authentication refused (402) at \(url): check ALPACA_API_KEY / ALPACA_SECRET")
            case .streamError(let error):
                outcome = DoctorCheck("stream", error.reaction == .keepGoing ? .warn : .fail, "\(error.description)")
            case .disconnected(let reason):
                outcome = DoctorCheck("stream", .fail, "no authenticated stream at \(url): \(reason)")
            case .connected, .subscribed, .bars:
                continue
            }
            break
        }
        return outcome ?? DoctorCheck("stream", .fail, "no answer from \(url) within \(options.timeout)")
    }

    // MARK: - Disk

    public static func checkDisk(paths: [String]) -> DoctorCheck {
        var details: [String] = []
        var verdict = DoctorCheck.Verdict.ok
        var seen = Set<UInt64>()
        for path in paths {
            var directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            while !FileManager.default.fileExists(atPath: directory), directory != "/" {
                directory = URL(fileURLWithPath: directory).deletingLastPathComponent().path
            }
            var info = statvfs()
            guard statvfs(directory, &info) == 0 else {
                verdict = .fail
                details.append("cannot read free space at \(directory)")
                continue
            }
            guard seen.insert(UInt64(info.f_fsid)).inserted else { continue }
            let free = Int64(info.f_bavail) * Int64(info.f_frsize)
            let total = Int64(info.f_blocks) * Int64(info.f_frsize)
            let percent = total > 0 ? Double(free) * 100 / Double(total) : 0
            if free < 200 << 20 {
                verdict = .fail
            } else if (free < 1 << 30 || percent < 5), verdict == .ok {
                verdict = .warn
            }
            details.append("\(byteCount(free)) free (\(Int(percent))%) at \(directory)")
        }
        return DoctorCheck("disk", verdict, details.joined(separator: "; ") + (verdict == .ok ? "" : ": the databases need room to grow"))
    }

    // MARK: - Heartbeats

    /// Every heartbeat row by service, or nil when system.db can't be read.
    func readHeartbeats(_ path: String) -> [String: ServiceHeartbeat]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let rows = try? SystemDatabase.inspectHeartbeats(path: path)
        return rows.map { Dictionary($0.map { ($0.service, $0) }, uniquingKeysWith: { $1 }) }
    }

    func age(_ beat: ServiceHeartbeat) -> TimeInterval {
        Date().timeIntervalSince1970 - TimeInterval(beat.lastHeartbeat.secondsSinceEpoch)
    }

    func isFresh(_ beat: ServiceHeartbeat) -> Bool { age(beat) <= options.staleAfter }

    func checkHeartbeats(_ heartbeats: [String: ServiceHeartbeat]?) -> [DoctorCheck] {
        options.services.map { service in
            let name = "heartbeat \(service)"
            let unit = "autotrader-\(service)"
            guard let heartbeats else { return DoctorCheck(name, .fail, "not checked: system.db is unreadable") }
            guard let beat = heartbeats[service] else {
                return DoctorCheck(name, .fail, "no heartbeat ever: \(unit) has not run against this system.db (systemctl status \(unit))")
            }
            let seconds = Int(age(beat).rounded())
            let summary = "\(beat.state.rawValue), last beat \(Self.duration(seconds)) ago, pid \(beat.pid)"
            guard isFresh(beat) else {
                return DoctorCheck(name, .fail, "stale: \(summary): is it running? (systemctl status \(unit); journalctl -u \(unit))")
            }
            switch beat.state {
            case .running:
                return DoctorCheck(name, .ok, summary)
            case .starting, .degraded:
                let detail = beat.detailObject["last_error"].map { "; last error: \($0)" } ?? ""
                return DoctorCheck(name, .warn, summary + detail)
            case .stopping, .stopped:
                return DoctorCheck(name, .fail, "\(summary): start it (systemctl start \(unit))")
            }
        }
    }

    static func duration(_ seconds: Int) -> String {
        if seconds < 120 { return "\(max(0, seconds)) s" }
        if seconds < 7200 { return "\(seconds / 60) min" }
        if seconds < 172_800 { return "\(seconds / 3600) h" }
        return "\(seconds / 86400) days"
    }
}

/// `1.2 GB`, `340 MB`, `12 KB`.
func byteCount(_ bytes: Int64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1000, unit < units.count - 1 {
        value /= 1000
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
}
