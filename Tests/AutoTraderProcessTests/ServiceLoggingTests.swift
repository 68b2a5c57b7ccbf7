import Foundation
import Logging
import Synchronization
import Testing
@testable import AutoTraderCore

@Suite struct ServiceLoggingTests {
    static let levels: [(Logger.Level, Int)] = [
        (.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ]

    @Test func journalLinesStartWithTheSyslogPriorityAndCarryNoTimestamp() {
        for (level, priority) in Self.levels {
            let line = ServiceLogging.format(level: level, label: "autotrader-executor", message: "hello", metadata: [:], journal: true)
            #expect(line == "<\(priority)>\(level.rawValue) autotrader-executor: hello")
            #expect(ServiceLogging.priority(level) == priority)
        }
    }

    @Test func terminalLinesStartWithAnUTCTimestampAndNoPriority() {
        let date = Date(timeIntervalSince1970: 1_717_509_600.123) // 2024-06-04T14:00:00.123Z
        for (level, _) in Self.levels {
            let line = ServiceLogging.format(level: level, label: "x", message: "hello", metadata: [:], journal: false, date: date)
            #expect(line == "2024-06-04T14:00:00.123Z \(level.rawValue) x: hello")
        }
    }

    @Test func metadataIsSortedOneLineQuotedAndSecretsRedacted() {
        let line = ServiceLogging.format(
            level: .warning, label: "autotrader-executor", message: "order refused\nby the broker",
            metadata: ["ticker": "AAPL", "card": "3", "order_id": "abc-1", "reason": "insufficient buying power", "pin": "1234",
                       "secret": "s3cr3t"],
            journal: true)
        #expect(line == #"<4>warning autotrader-executor: order refused\nby the broker card=3 order_id=abc-1 pin=<redacted> reason="insufficient buying power" secret=<redacted> ticker=AAPL"#)
        #expect(!line.contains("\n"))
    }

    @Test func theHandlerMergesItsMetadataAndWritesOneLinePerEvent() {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "autotrader-streamer") { label in
            ServiceLogHandler(label: label, level: .info, journal: true) { line in lines.withLock { $0.append(line) } }
        }
        logger[metadataKey: "card"] = "7"
        logger.debug("not shown")
        logger.info("bar written", metadata: ["ticker": "MSFT"])
        logger.error("stream lost")
        #expect(lines.withLock { $0 } == [
            "<6>info autotrader-streamer: bar written card=7 ticker=MSFT\n", "<3>error autotrader-streamer: stream lost card=7\n",
        ])
    }

    @Test func journalStreamCountsOnlyWhenItNamesStandardErrorItself() throws {
        let directory = TemporaryDirectory("log")
        let path = directory.file("stream")
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let named = try Self.deviceAndInode(path)
        #expect(ServiceLogging.stderrIsJournal(environment: ["JOURNAL_STREAM": named], descriptor: handle.fileDescriptor))
        #expect(!ServiceLogging.stderrIsJournal(environment: [:], descriptor: handle.fileDescriptor))
        #expect(!ServiceLogging.stderrIsJournal(environment: ["JOURNAL_STREAM": "1:2"], descriptor: handle.fileDescriptor))
        #expect(!ServiceLogging.stderrIsJournal(environment: ["JOURNAL_STREAM": "garbage"], descriptor: handle.fileDescriptor))
    }

    /// `DEVICE:INODE` of a file, as systemd writes JOURNAL_STREAM.
    static func deviceAndInode(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SimulatorProcessError("cannot stat \(path)") }
        return "\(UInt64(info.st_dev)):\(UInt64(info.st_ino))"
    }

    /// The executor, with its standard error a file that JOURNAL_STREAM names (as systemd sets it),
    /// against a broker that isn't there: every line carries a priority, warnings carry <4>, the secret none.
    @Test(.timeLimit(.minutes(2))) func aServiceUnderTheJournalPrefixesEveryLine() async throws {
        let directory = TemporaryDirectory("journal")
        _ = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        _ = SharedStocks.database
        let secret = "s3cr3t-\(UUID().uuidString)"
        let err = directory.file("stderr")
        FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("autotrader-executor"))
        process.arguments = [
            "--system-db", directory.file("system.db"), "--stocks-db", SharedStocks.directory.file("stocks.db"),
            "--heartbeat-interval", "0.5",
        ]
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("ALPACA_") || key.hasPrefix("APCA_") || key.hasPrefix("AUTOTRADER_") {
            environment[key] = nil
        }
        environment["AUTOTRADER_SIM_URL"] = "http://127.0.0.1:1" // nothing listens: the executor warns
        environment["AUTOTRADER_SIM_SECRET_KEY"] = secret
        environment["JOURNAL_STREAM"] = try Self.deviceAndInode(err)
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        func text() -> String { (try? String(contentsOfFile: err, encoding: .utf8)) ?? "" }
        let deadline = Date().addingTimeInterval(60)
        while !text().contains("<4>warning"), Date() < deadline, process.isRunning {
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        if await !process.exited(within: .seconds(20)) { process.send(SIGKILL) }
        let lines = text().split(separator: "\n")
        #expect(process.terminationStatus == 0, "\(text())")
        #expect(lines.contains { $0.hasPrefix("<6>info autotrader-executor: executor starting") }, "\(text())")
        #expect(lines.contains { $0.hasPrefix("<4>warning ") }, "\(text())")
        for line in lines {
            #expect(line.range(of: #"^<[2-7]>(debug|info|notice|warning|error|critical) "#, options: .regularExpression) != nil,
                    "a line without its priority: \(line)")
        }
        #expect(!text().contains(secret))
    }
}
