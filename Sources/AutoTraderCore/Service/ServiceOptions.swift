import ArgumentParser
import Foundation
import Logging

/// The options every service takes (`autotrader-streamer`, `-executor`, `-api`): where the databases and
/// the configuration are, how often the heartbeat row is written, how much is logged. Each command adds
/// its own with `@OptionGroup var service: ServiceOptions`.
public struct ServiceOptions: ParsableArguments {
    @Option(name: .customLong("system-db"), help: "Path of system.db (default: AUTOTRADER_SYSTEM_DB or the AUTOTRADER_HOME layout).")
    public var systemDatabase: String?

    @Option(name: .customLong("stocks-db"), help: "Path of stocks.db (default: AUTOTRADER_STOCKS_DB or the AUTOTRADER_HOME layout).")
    public var stocksDatabase: String?

    @Option(help: "Configuration file (default: $AUTOTRADER_CONFIG, else /etc/autotrader/autotrader.env when present).")
    public var config: String?

    @Option(name: .customLong("heartbeat-interval"), help: "Seconds between heartbeat rows.")
    public var heartbeatSeconds: Double = 5

    @OptionGroup public var logging: LogLevelOption

    public init() {}

    public func validate() throws {
        guard heartbeatSeconds > 0 else { throw ValidationError("--heartbeat-interval must be positive") }
    }

    /// The heartbeat interval as a duration.
    public var heartbeatInterval: Duration { .seconds(heartbeatSeconds) }

    /// The configuration file (`--config`) and the environment.
    public func settings() throws -> Settings { try Settings.load(configPath: config) }
    public func systemPath(_ settings: Settings) -> String { systemDatabase ?? settings.systemDatabasePath }
    public func stocksPath(_ settings: Settings) -> String { stocksDatabase ?? settings.stocksDatabasePath }
}

/// `--log-level`: shared by the services, the simulator and `autotrader run`.
public struct LogLevelOption: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel = "info"

    public init() {}

    public func validate() throws {
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    public var level: Logger.Level { Logger.Level(rawValue: logLevel.lowercased()) ?? .info }

    /// Installs the process's log handler (one line per event; syslog priorities when stderr is the journal)
    /// and returns the logger named `label`.
    public func bootstrap(label: String) -> Logger {
        ServiceLogging.bootstrap(level: level)
        return Logger(label: label)
    }
}
