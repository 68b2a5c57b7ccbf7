import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How every AutoTrader process logs: one line per event on standard error.
///
/// Outside systemd: `2024-06-04T14:00:00.123Z warning autotrader-executor: order rejected card=3 ticker=AAPL`.
/// When standard error is the journal (`JOURNAL_STREAM` names it, sd-daemon(3)), each line starts with
/// its syslog priority instead of a timestamp (journald adds its own), so
/// `journalctl -u autotrader-executor -p warning` shows exactly the warnings and worse:
/// `<4>warning autotrader-executor: order rejected card=3 ticker=AAPL`.
public enum ServiceLogging {
    /// Installs the handler for the whole process (swift-log allows this once per process).
    public static func bootstrap(level: Logger.Level, environment: [String: String] = ProcessInfo.processInfo.environment) {
        let journal = stderrIsJournal(environment: environment)
        LoggingSystem.bootstrap { label in
            ServiceLogHandler(label: label, level: level, journal: journal)
        }
    }

    /// The sd-daemon priority prefix of a swift-log level.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// Whether standard error is the stream `JOURNAL_STREAM` (`DEVICE:INODE`) names. A child whose
    /// standard error was redirected elsewhere inherits the variable but must not use the prefixes
    /// (systemd.exec(5)); when fstat is unavailable the variable alone decides.
    public static func stderrIsJournal(environment: [String: String], descriptor: Int32 = STDERR_FILENO) -> Bool {
        guard let value = environment["JOURNAL_STREAM"], !value.isEmpty else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return true }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// Metadata keys whose values are never written, whoever passes them.
    static let redactedKeys: Set<String> = [
        "pin", "secret", "secret_key", "api_secret", "apca_api_secret_key", "alpaca_secret", "password", "authorization",
    ]

    /// One event as one line (without the trailing newline).
    public static func format(
        level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, journal: Bool, date: Date = Date()
    ) -> String {
        var line = journal ? "<\(priority(level))>" : timestamp(date) + " "
        line += "\(level.rawValue) \(label): \(singleLine(message))"
        for key in metadata.keys.sorted() {
            let value = redactedKeys.contains(key.lowercased()) ? "<redacted>" : "\(metadata[key]!)"
            line += " \(singleLine(key))=\(quotedIfNeeded(singleLine(value)))"
        }
        return line
    }

    /// `2024-06-04T14:00:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        let totalMillis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var whole = time_t(totalMillis / 1000)
        let millis = Int(totalMillis % 1000)
        var parts = tm()
        gmtime_r(&whole, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// One event is one line: the journal would split at a newline and lose the priority of the rest.
    static func singleLine(_ text: String) -> String {
        guard text.contains(where: { $0.isNewline }) else { return text }
        return text.replacingOccurrences(of: "\r\n", with: "\\n").replacingOccurrences(of: "\n", with: "\\n")
            .replacingOccurrences(of: "\r", with: "\\r")
    }

    static func quotedIfNeeded(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "\t" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// The swift-log handler behind `ServiceLogging`: each event is written with one `write(2)` to
/// standard error, so lines of several threads (or of several processes sharing the stream) never interleave.
public struct ServiceLogHandler: LogHandler {
    public let label: String
    public let journal: Bool
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void

    public init(
        label: String, level: Logger.Level = .info, journal: Bool, metadataProvider: Logger.MetadataProvider? = nil,
        write: @escaping @Sendable (String) -> Void = ServiceLogHandler.writeToStandardError
    ) {
        self.label = label
        self.logLevel = level
        self.journal = journal
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let own = event.metadata { all.merge(own) { $1 } }
        write(ServiceLogging.format(level: event.level, label: label, message: "\(event.message)", metadata: all, journal: journal) + "\n")
    }

    @Sendable public static func writeToStandardError(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                #if canImport(Glibc)
                let written = Glibc.write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                #elseif canImport(Musl)
                let written = Musl.write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                #else
                let written = Darwin.write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                #endif
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}
