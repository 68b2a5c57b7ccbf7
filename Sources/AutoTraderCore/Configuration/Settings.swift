import Foundation

/// A `.env`-style file: `KEY=value` lines, `#` comments, optional `export ` and quotes.
public enum ConfigFile {
    public struct ParseError: Error, CustomStringConvertible, LocalizedError {
        public let path: String
        public let line: Int
        public let reason: String
        public var description: String { "\(path):\(line): \(reason)" }
        public var errorDescription: String? { description }
    }

    /// Parses the file's text; a malformed line is an error naming the line (never its value: it may be a key).
    public static func parse(_ text: String, path: String = "config") throws -> [String: String] {
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                throw ParseError(path: path, line: index + 1, reason: "expected KEY=value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
                  !(key.first?.isNumber ?? true)
            else { throw ParseError(path: path, line: index + 1, reason: "invalid key name") }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let quote = value.first, quote == "\"" || quote == "'" {
                guard value.count >= 2, value.last == quote else {
                    throw ParseError(path: path, line: index + 1, reason: "unterminated quote in the value of \(key)")
                }
                value = String(value.dropFirst().dropLast())
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            values[key] = value
        }
        return values
    }
}

/// The settings every AutoTrader process shares (DESIGN.md §8): the config file
/// overlaid by the environment. Secrets are held but never printed: `description` redacts them.
public struct Settings: Sendable, CustomStringConvertible {
    public static let defaultConfigPath = "/etc/autotrader/autotrader.env"

    /// Where each value came from, for `doctor` and error messages.
    public let configPath: String?
    public let values: [String: String]

    /// Reads `AUTOTRADER_CONFIG` (or the given path, or /etc/autotrader/autotrader.env
    /// when it exists), then lets the environment override it.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment, configPath: String? = nil
    ) throws -> Settings {
        let explicit = configPath ?? environment["AUTOTRADER_CONFIG"]
        let path = explicit ?? (FileManager.default.fileExists(atPath: defaultConfigPath) ? defaultConfigPath : nil)
        var values: [String: String] = [:]
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigFile.ParseError(path: path, line: 0, reason: "cannot read the configuration file")
            }
            values = try ConfigFile.parse(String(decoding: data, as: UTF8.self), path: path)
        }
        for (key, value) in environment where Self.knownKeys.contains(key) { values[key] = value }
        return Settings(configPath: path, values: values)
    }

    public init(configPath: String? = nil, values: [String: String]) {
        self.configPath = configPath
        self.values = values
    }

    public static let knownKeys: Set<String> = [
        "AUTOTRADER_HOME", "AUTOTRADER_SYSTEM_DB", "AUTOTRADER_STOCKS_DB",
        "ALPACA_API_KEY", "ALPACA_SECRET", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY",
        "ALPACA_PAPER", "ALPACA_FEED", "ALPACA_TRADING_URL", "ALPACA_DATA_URL", "ALPACA_STREAM_URL",
        "AUTOTRADER_API_PORT", "AUTOTRADER_API_BIND", "AUTOTRADER_API_ALLOWED_HOSTS", "AUTOTRADER_API_TLS_CERT", "AUTOTRADER_API_TLS_KEY",
        "AUTOTRADER_SIM_URL", "AUTOTRADER_SIM_KEY_ID", "AUTOTRADER_SIM_SECRET_KEY",
        "AUTOTRADER_ALGORITHM_DIR", "AUTOTRADER_NOTIFY_URL", "AUTOTRADER_NOTIFY_FORMAT",
    ]

    static let secretKeys: Set<String> = [
        "ALPACA_API_KEY", "ALPACA_SECRET", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "AUTOTRADER_SIM_SECRET_KEY",
        // May hold credentials, and an ntfy topic is itself the password.
        "AUTOTRADER_NOTIFY_URL",
    ]

    /// The folder the default database paths are relative to.
    public var home: String { values["AUTOTRADER_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? FileManager.default.currentDirectoryPath }

    public var systemDatabasePath: String {
        values["AUTOTRADER_SYSTEM_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/system_databse/system.db"
    }

    /// The folder of script algorithms: `AUTOTRADER_ALGORITHM_DIR`, else `algorithm/` under the home (so a
    /// checkout behaves as the original design did).
    public var algorithmDirectory: String {
        values["AUTOTRADER_ALGORITHM_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/algorithm"
    }

    public var stocksDatabasePath: String {
        values["AUTOTRADER_STOCKS_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/database/stocks.db"
    }

    public var description: String {
        values.keys.sorted().map { key in
            "\(key)=\(Self.secretKeys.contains(key) ? "<redacted>" : values[key]!)"
        }.joined(separator: "\n")
    }
}
