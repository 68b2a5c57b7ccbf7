import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One of AutoTrader's executables, started from beside this program with its output in log files,
/// so a long run can be watched (RSS from /proc) and its logs read afterwards.
final class BenchProcess: @unchecked Sendable {
    let name: String
    let process: Process
    let stdoutPath: String
    let stderrPath: String

    /// The executable `name` in this program's own folder (the same build configuration).
    static func binary(_ name: String) throws -> URL {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ValidationError("\(name) not found beside this program at \(binary.path): build it in the same configuration")
        }
        return binary
    }

    /// Starts `name` (beside this program) for a short benchmark, its standard output in a temporary file and its
    /// errors on ours, and waits up to 30 s for the whole line starting with `prefix` (where it says it listens).
    /// Returns the process and the rest of that line.
    static func startListening(
        _ name: String, _ arguments: [String], environment: [String: String]? = nil, prefix: String
    ) async throws -> (process: Process, rest: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(name)-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = try binary(name)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.standardError
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            // Only lines already ended by a newline: the last piece may still be being written.
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            if let line = lines.first(where: { $0.hasPrefix(prefix) }) { return (process, String(line.dropFirst(prefix.count))) }
            guard process.isRunning else { throw ValidationError("\(name) exited with \(process.terminationStatus)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw ValidationError("\(name) did not start within 30 s")
    }

    init(_ name: String, _ arguments: [String], environment: [String: String], logDirectory: String) throws {
        self.name = name
        stdoutPath = (logDirectory as NSString).appendingPathComponent("\(name).out")
        stderrPath = (logDirectory as NSString).appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = Process()
        process.executableURL = try Self.binary(name)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var log: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Resident set size in bytes (VmRSS from /proc), nil once the process is gone.
    var residentBytes: Int? { status("VmRSS:") }
    /// The anonymous part of it (the heap and stacks): what a leak grows. The rest is file-backed
    /// (the program's code and the memory-mapped databases' pages), shared and reclaimable.
    var residentAnonymousBytes: Int? { status("RssAnon:") }

    private func status(_ field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    /// Waits for a line of standard output starting with `prefix` and returns the rest of it.
    func awaitLine(startingWith prefix: String, timeout: TimeInterval = 60) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(line.dropFirst(prefix.count))
            }
            guard isRunning else { throw BenchFailure("\(name) exited (\(process.terminationStatus)): \(log.suffix(2000))") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchFailure("\(name) did not print \"\(prefix)…\" within \(Int(timeout)) s")
    }

    /// Waits for the process to end by itself (SIGKILL after `timeout`); its exit status, nil if it had to be killed.
    func wait(timeout: TimeInterval = 60) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGTERM, then waits up to `timeout` (SIGKILL after it); returns the exit status, nil if it had to be killed.
    func stop(timeout: TimeInterval = 15) async -> Int32? {
        if isRunning { kill(pid, SIGTERM) }
        return await wait(timeout: timeout)
    }
}
