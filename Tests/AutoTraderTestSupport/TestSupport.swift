import Foundation
import Testing
@testable import AutoTraderCore

/// A fresh folder under the system temp directory, removed when the value goes away.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init(_ label: String = "autotrader") {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// stocks.db takes a few seconds to create in a debug build (1.3 million market
/// minutes), so the tests that only read the calendar share one copy.
enum SharedStocks {
    static let directory = TemporaryDirectory("shared-stocks")
    static let database: StocksDatabase = try! StocksDatabase.open(path: directory.file("stocks.db"), create: true)
}

/// The result of running one of the package's executables.
struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Where the checkout is: the first folder above this file holding Package.swift (the same from every test target).
enum Repository {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path), url.path != "/" {
            url = url.deletingLastPathComponent()
        }
        return url
    }()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// Finds and runs the package's executables (built beside the test bundle).
enum Executables {
    static var directory: URL {
        if let explicit = ProcessInfo.processInfo.environment["AUTOTRADER_BIN_DIR"] {
            return URL(fileURLWithPath: explicit)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // swift test runs <products>/AutoTraderPackageTests.xctest (a file on Linux, a bundle on macOS).
        if url.lastPathComponent == "MacOS" { url = url.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        return url
    }

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Starts a process with its output going to files (no pipe can fill up and stall it).
    /// The environment is the test's, without any AutoTrader configuration, plus `environment`.
    static func start(
        _ name: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
        directory: TemporaryDirectory
    ) throws -> RunningProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path(name))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in ["AUTOTRADER_CONFIG", "AUTOTRADER_SYSTEM_DB", "AUTOTRADER_STOCKS_DB"] { env[key] = nil }
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let id = UUID().uuidString
        let out = directory.file("out-\(id)"), err = directory.file("err-\(id)")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        if let input {
            let inputPath = directory.file("in-\(id)")
            _ = FileManager.default.createFile(atPath: inputPath, contents: Data(input.utf8))
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        return RunningProcess(process: process, stdoutPath: out, stderrPath: err)
    }

    /// Runs to completion; `input` is fed on standard input. Waits without holding a thread:
    /// on two cores Swift's cooperative pool has two threads, and a blocked one stalls every test.
    static func run(
        _ name: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
        directory: TemporaryDirectory
    ) async throws -> ProcessResult {
        try await start(name, arguments, environment: environment, input: input, directory: directory).wait()
    }
}

/// A started process whose output is collected when it ends.
struct RunningProcess {
    let process: Process
    let stdoutPath: String
    let stderrPath: String

    /// SIGTERM, then the result. A process still running `grace` later is SIGKILLed and the test fails with its
    /// name, rather than the suite hanging on a shutdown that never ends.
    func terminate(grace: Duration = .seconds(20), sourceLocation: SourceLocation = #_sourceLocation) async -> ProcessResult {
        if process.isRunning { process.terminate() }
        if await !process.exited(within: grace) {
            Issue.record("\(process.executableURL?.lastPathComponent ?? "process") did not exit within \(grace) of SIGTERM; killed", sourceLocation: sourceLocation)
            process.send(SIGKILL)
        }
        return await wait()
    }

    func wait() async -> ProcessResult {
        await process.exited()
        return ProcessResult(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
    }

    /// Waits for the process's `<name> listening on http(s)://HOST:PORT` line (it binds port 0, so the line is
    /// how a test learns the port); fails if it exits first or says nothing within `timeout` real seconds.
    func listeningAddress(name: String, timeout: TimeInterval) async throws -> (host: String, port: Int) {
        let deadline = Date().addingTimeInterval(timeout)
        func errors() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
        while true {
            let output = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            if let address = Self.address(in: output, name: name) { return address }
            guard process.isRunning else { throw SimulatorProcessError("\(name) exited (\(process.terminationStatus)): \(errors())") }
            guard Date() < deadline else {
                process.terminate()
                throw SimulatorProcessError("\(name) did not say where it listens within \(timeout) s: \(errors())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// `NAME listening on http://HOST:PORT` (or https) in `output` → (HOST, PORT).
    static func address(in output: String, name: String) -> (host: String, port: Int)? {
        for scheme in ["http", "https"] {
            let prefix = "\(name) listening on \(scheme)://"
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { continue }
            let hostPort = line.dropFirst(prefix.count)
            guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]) else { continue }
            return (String(hostPort[..<colon]), port)
        }
        return nil
    }
}

/// A script algorithm in POSIX sh for tests: answers `describe` with `summary` (one bar needed) and runs the sh
/// commands `decide` for every other request, with the request's id in `$id`.
enum ShellAlgorithm {
    static func script(summary: String, decide: String) -> String {
        """
        #!/bin/sh
        while IFS= read -r line; do
          id=$(printf '%s\\n' "$line" | sed -n 's/^{"v":1,"type":"[a-z]*","id":\\([0-9]*\\).*/\\1/p')
          case "$line" in
            *'"type":"describe"'*) printf '{"v":1,"id":%s,"summary":"\(summary)","bars_needed":1}\\n' "$id" ;;
            *) \(decide) ;;
          esac
        done
        """
    }
}

extension Timestamp {
    /// For literals in tests: crashes on a malformed literal, which is a bug in the test.
    static func at(_ text: String) -> Timestamp { Timestamp(text)! }
}

extension Process {
    /// Waits for the process to end by polling, never blocking a concurrency thread.
    func exited() async {
        while await !exited(within: .seconds(3600)) {}
    }

    /// Waits up to `limit` for the process to end, never blocking a concurrency thread; false if it still runs.
    func exited(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while isRunning {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        waitUntilExit() // already ended: only collects the status
        return true
    }

    /// Sends `signal` only while the process runs: once reaped, its pid may already be another process's (pid_max
    /// is 32768 here, and the suite starts thousands of processes), and a stray SIGTERM stops another test's server.
    func send(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }

    /// Sends `signal` and returns at once; a plain thread waits up to `grace` and then SIGKILLs. For a deinit,
    /// which can't await: one that waited in place would hold one of Swift's cooperative threads (two on this
    /// machine) until the process ended, and a process whose shutdown waits on a client inside the test
    /// process (a simulator waiting for a stream to close) then never ends — every test stalls, the suite hangs.
    func stopInBackground(signal: Int32 = SIGTERM, grace: TimeInterval = 10) {
        guard isRunning else { return }
        send(signal)
        nonisolated(unsafe) let process = self
        Thread {
            let deadline = Date().addingTimeInterval(grace)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            process.send(SIGKILL)
            process.waitUntilExit()
        }.start()
    }
}
