@testable import AutoTraderCore
import Testing

/// How a script worker is exec'd: its memory limit and low priority set by the tools it is exec'd through, so they
/// hold from its first instruction (`ScriptAlgorithmTests` checks what a real worker is born with).
struct WorkerLaunchTests {
    static let installed: Set = ["/usr/bin/python3", "/usr/bin/prlimit", "/usr/bin/nice", "/algo/trend.sh", "/algo/sub/x.sh"]
    static func available(_ path: String) -> Bool { installed.contains(path) }

    static func launch(
        _ arguments: [String], limit: UInt64? = nil, low: Bool = false, hardLimit: UInt64? = nil,
        available: (String) -> Bool = WorkerLaunchTests.available
    ) throws -> WorkerLaunch {
        try WorkerLaunch(
            arguments: arguments, directory: "/algo", path: "/usr/local/bin:/usr/bin", memoryLimitBytes: limit, lowPriority: low,
            available: available, ownHardLimit: hardLimit)
    }

    @Test func aLimitedLowPriorityWorkerIsExecdThroughPrlimitThenNice() throws {
        let launch = try Self.launch(["python3", "-c", "runner", "/algo/a.py"], limit: 300 << 20, low: true)
        #expect(launch.executable == "/usr/bin/prlimit")
        #expect(launch.argv == ["/usr/bin/prlimit", "--as=\(300 << 20)", "--", "/usr/bin/nice", "-n", "19", "--",
                                "/usr/bin/python3", "-c", "runner", "/algo/a.py"])
        #expect(launch.memoryLimitAfterStart == nil)
    }

    @Test func aWorkerWithoutLimitsIsExecdAsItIs() throws {
        let launch = try Self.launch(["python3", "-c", "runner", "/algo/a.py"])
        #expect(launch.executable == "/usr/bin/python3")
        #expect(launch.argv == ["python3", "-c", "runner", "/algo/a.py"])
        #expect(try Self.launch(["/algo/trend.sh"], low: true).argv == ["/usr/bin/nice", "-n", "19", "--", "/algo/trend.sh"])
    }

    /// More than the executor itself may have can't be asked for: prlimit(1) would fail and the worker never start.
    @Test func theLimitIsCutToTheExecutorsOwnCeiling() throws {
        let launch = try Self.launch(["/algo/trend.sh"], limit: 1 << 30, hardLimit: 600 << 20)
        #expect(launch.argv == ["/usr/bin/prlimit", "--as=\(600 << 20)", "--", "/algo/trend.sh"])
    }

    /// Without prlimit(1) the executor sets the limit just after the start, as it used to (and nice is simply left out).
    @Test func withoutTheToolsTheLimitIsSetAfterTheStart() throws {
        let bare: (String) -> Bool = { $0.hasPrefix("/algo/") }
        let launch = try Self.launch(["/algo/trend.sh"], limit: 300 << 20, low: true, available: bare)
        #expect(launch.executable == "/algo/trend.sh" && launch.argv == ["/algo/trend.sh"])
        #expect(launch.memoryLimitAfterStart == 300 << 20)
    }

    @Test func aProgramThatIsNotThereCantStart() throws {
        #expect(try Self.launch(["sub/x.sh"]).executable == "/algo/sub/x.sh", "a relative path runs from the script's folder")
        for (arguments, says) in [(["python4"], "cannot start python4: not found on the worker's PATH"),
                                  (["/algo/gone.sh"], "cannot start /algo/gone.sh: "),
                                  (["sub/gone.sh"], "cannot start sub/gone.sh: ")] {
            do {
                _ = try Self.launch(arguments, limit: 300 << 20)
                Issue.record("\(arguments) started")
            } catch {
                #expect("\(error)".hasPrefix(says), "\(error)")
            }
        }
    }
}
