import Foundation
import Testing
@testable import AutoTraderCore

/// `autotrader run`: the services as supervised children where systemd isn't PID 1.
@Suite struct RunCommandTests {
    /// A TCP port nothing listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw SimulatorProcessError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `service started` lines: (service, pid), in order.
    static func starts(_ log: String) -> [(String, Int32)] {
        log.split(separator: "\n").compactMap { line in
            guard line.contains("autotrader-run: service started") else { return nil }
            var service: String?, pid: Int32?
            for field in line.split(separator: " ") {
                if field.hasPrefix("service=") { service = String(field.dropFirst(8)) }
                if field.hasPrefix("pid=") { pid = Int32(field.dropFirst(4)) }
            }
            guard let service, let pid else { return nil }
            return (service, pid)
        }
    }

    static func alive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        // A zombie is dead for our purposes.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !stat.contains(") Z ")
    }

    /// The parent pid of a live process (field 4 of /proc/PID/stat), nil when it is gone.
    static func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    @Test(.timeLimit(.minutes(4))) func restartsAKilledServiceAndStopsEverythingOnSIGTERM() async throws {
        let directory = TemporaryDirectory("run")
        let simPort = try Self.freePort(), apiPort = try Self.freePort()
        let running = try Executables.start(
            "autotrader", ["run", "--system-db", directory.file("system.db"), "--stocks-db", directory.file("stocks.db")],
            environment: [
                "AUTOTRADER_SIM_ARGS": "--port \(simPort)", "AUTOTRADER_SIM_URL": "http://127.0.0.1:\(simPort)",
                "AUTOTRADER_API_PORT": "\(apiPort)", "AUTOTRADER_API_BIND": "127.0.0.1",
                "AUTOTRADER_STREAMER_ARGS": "--heartbeat-interval 1",
            ],
            directory: directory)
        func log() -> String { ((try? String(contentsOfFile: running.stderrPath, encoding: .utf8)) ?? "") }
        let deadline = Date().addingTimeInterval(120)
        while !Self.starts(log()).contains(where: { $0.0 == "autotrader-executor" }), Date() < deadline, running.process.isRunning {
            try await Task.sleep(for: .milliseconds(100))
        }
        let first = Self.starts(log())
        let names = Set(first.map(\.0))
        #expect(names.isSuperset(of: ["autotrader-sim", "autotrader-streamer", "autotrader-executor"]), "\(log())")
        let streamer = try #require(first.first { $0.0 == "autotrader-streamer" }?.1, "\(log())")

        // Only a child of this run: a pid read from a log may already belong to another process (pid_max is 32768).
        try #require(Self.parent(of: streamer) == running.process.processIdentifier, "pid \(streamer) is not run's child: \(log())")
        kill(streamer, SIGKILL)
        var restarted: Int32?
        while restarted == nil, Date() < deadline {
            restarted = Self.starts(log()).filter { $0.0 == "autotrader-streamer" }.map(\.1).first { $0 != streamer }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(restarted != nil, "the killed streamer was not started again: \(log())")
        #expect(log().contains("service ended; restarting"))

        // Not "give it a moment": stop everything once the restarted streamer is up (its heartbeat, with its pid,
        // says running), so the SIGTERM reaches a live child and not one still starting.
        let system = try SystemDatabase.open(path: directory.file("system.db"))
        let restartedPID = restarted
        try await waitFor("the restarted streamer's heartbeat says running", timeout: 90) {
            guard let restarted = restartedPID, let beat = try system.heartbeat(service: "streamer") else { return false }
            return beat.pid == restarted && beat.state != .starting && beat.state != .stopped
        }
        let result = await running.terminate()
        #expect(result.status == 0, "\(log())")
        for (name, pid) in Self.starts(log()) {
            #expect(!Self.alive(pid), "\(name) (pid \(pid)) still runs after autotrader run exited")
        }
        #expect(log().contains("autotrader-run: stopped"))
    }
}
