import Foundation
import Testing
@testable import AutoTraderCore

/// The unit files in systemd/, checked by systemd itself. `systemd-analyze verify` wants every ExecStart
/// program to exist, so it checks copies whose /opt/autotrader/bin/ paths point at the built executables.
@Suite struct SystemdUnitTests {
    static let repository = Repository.root
    static let unitNames = [
        "autotrader.target", "autotrader-sim.service", "autotrader-streamer.service", "autotrader-executor.service",
        "autotrader-api.service", "autotrader-kiosk.service",
    ]

    static func analyzer() -> String? {
        ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func unitText(_ name: String) throws -> String {
        try String(contentsOfFile: repository.appendingPathComponent("systemd/\(name)").path, encoding: .utf8)
    }

    @Test func systemdAnalyzeVerifyAcceptsEveryUnitWithoutAWord() async throws {
        guard let analyzer = Self.analyzer() else {
            print("SKIPPED systemdAnalyzeVerify…: systemd-analyze is not installed (apt-get install systemd)")
            return
        }
        let directory = TemporaryDirectory("units")
        let bin = Executables.directory.path
        for name in Self.unitNames {
            var text = try Self.unitText(name)
            // The api is built on its own branch until merged: any built executable stands in for it here.
            let api = FileManager.default.isExecutableFile(atPath: bin + "/autotrader-api") ? "autotrader-api" : "autotrader-sim"
            text = text.replacingOccurrences(of: "/opt/autotrader/bin/autotrader-api", with: "\(bin)/\(api)")
                .replacingOccurrences(of: "/opt/autotrader/bin/autotrader-kiosk", with: Self.repository.path + "/systemd/autotrader-kiosk")
                .replacingOccurrences(of: "/opt/autotrader/bin/", with: bin + "/")
            try text.write(toFile: directory.file(name), atomically: true, encoding: .utf8)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: analyzer)
        process.arguments = ["verify", "--man=no"] + Self.unitNames.map { directory.file($0) }
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let output = directory.file("output")
        FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        await process.exited()
        try handle.close()
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.isEmpty, "systemd-analyze verify said:\n\(text)")
    }

    /// What the issue asks of every service unit, read from the files themselves.
    @Test func theServicesAreNotifyWatchdogRestartingHardenedAndWriteOnlyTheirState() throws {
        for name in ["autotrader-streamer.service", "autotrader-executor.service", "autotrader-api.service"] {
            let lines = Set(try Self.unitText(name).split(separator: "\n").map(String.init))
            for expected in [
                "Type=notify", "WatchdogSec=30", "Restart=always", "StartLimitIntervalSec=300", "StartLimitBurst=10",
                "Wants=network-online.target", "User=autotrader", "StateDirectory=autotrader", "ConfigurationDirectory=autotrader",
                "EnvironmentFile=/etc/autotrader/autotrader.env", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                "PrivateTmp=yes", "ReadWritePaths=/var/lib/autotrader", "MemoryDenyWriteExecute=yes",
                "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "PartOf=autotrader.target",
            ] {
                #expect(lines.contains(expected), "\(name) lacks \(expected)")
            }
            #expect(lines.contains { $0.hasPrefix("After=network-online.target") }, "\(name) is not ordered after the network")
            #expect(lines.contains { $0.hasPrefix("TimeoutStartSec=") })
        }
        let sim = try Self.unitText("autotrader-sim.service")
        #expect(sim.contains("ExecCondition=/opt/autotrader/bin/autotrader mode --is simulated"))
        let target = try Self.unitText("autotrader.target")
        for service in ["sim", "streamer", "executor", "api"] { #expect(target.contains("autotrader-\(service).service")) }
    }

    /// systemd's watchdog needs a ping at least every WatchdogSec; the services ping every half of it at most.
    @Test func theNotifierPingsAtHalfTheWatchdog() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"])
        #expect(notifier.watchdogInterval == .seconds(15))
    }
}
