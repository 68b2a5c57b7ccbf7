import Foundation
import Testing
@testable import AutoTraderCore

/// deploy.sh under a real systemd: scripts/deploy-sandbox-test.sh boots systemd as PID 1 in private
/// namespaces (../shared/tools/systemd-sandbox) and deploys the executables this test run was built with.
/// Skips (passing, with the reason printed) without root, the sandbox tool, systemd or sqlite3.
@Suite struct DeploySandboxTests {
    @Test(.timeLimit(.minutes(10))) func deployInstallsRestartsUpgradesAndUninstallsUnderSystemd() async throws {
        let script = SystemdUnitTests.repository.appendingPathComponent("scripts/deploy-sandbox-test.sh").path
        let directory = TemporaryDirectory("deploy")
        let output = directory.file("output")
        FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, Executables.directory.path]
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        await process.exited()
        try handle.close()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        if process.terminationStatus == 77 {
            print("SKIPPED deploy sandbox test: \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
            return
        }
        #expect(process.terminationStatus == 0, "\(text.suffix(6000))")
        #expect(text.contains("PASSED"))
    }
}
