import Foundation
import Testing
@testable import AutoTraderCore

/// `autotrader doctor` as a process, against autotrader-sim and temporary databases.
@Suite(.serialized) struct DoctorTests {
    struct Fixture {
        let directory = TemporaryDirectory("doctor")
        var systemPath: String { directory.file("system.db") }
        var stocksPath: String { SharedStocks.directory.file("stocks.db") }

        init(heartbeatAges: [String: Int64] = ["streamer": 0, "executor": 0, "api": 0]) async throws {
            let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
            _ = SharedStocks.database
            for (service, age) in heartbeatAges {
                let now = Timestamp.now()
                let then = Timestamp(secondsSinceEpoch: now.secondsSinceEpoch - age)
                try await HeartbeatWriter(system: system, service: service, pid: 4242, startedAt: then)
                    .beat(state: .running, detail: ["note": "test"], now: then)
            }
        }

        func doctor(_ sim: SimulatorProcess, _ extra: [String] = [], secret: String? = nil) async throws -> ProcessResult {
            try await Executables.run(
                "autotrader", ["doctor", "--system-db", systemPath, "--stocks-db", stocksPath, "--timeout", "10"] + extra,
                environment: [
                    "AUTOTRADER_SIM_URL": sim.baseURL.absoluteString, "AUTOTRADER_SIM_SECRET_KEY": secret ?? sim.secretKey,
                    "AUTOTRADER_HOME": directory.path,
                ],
                directory: directory)
        }
    }

    /// The line of one check: `VERDICT  name  detail`.
    static func line(_ output: String, _ check: String) -> String? {
        output.split(separator: "\n").map(String.init).first { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count > 1 && (fields[1] == check || "\(fields[1]) \(fields.count > 2 ? fields[2] : "")" == check)
        }
    }

    @Test(.timeLimit(.minutes(3))) func aHealthySimulatedInstallationIsAllOkAndExitsZero() async throws {
        let secret = "doctor-\(UUID().uuidString)"
        let sim = try await SimulatorProcess(secretKey: secret)
        let fixture = try await Fixture()
        let result = try await fixture.doctor(sim)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for check in ["configuration", "system.db", "stocks.db", "pin", "algorithms", "broker", "stream", "clock", "notifications", "disk",
                      "heartbeat streamer", "heartbeat executor", "heartbeat api"] {
            let line = Self.line(result.stdout, check)
            #expect(line?.hasPrefix("ok") == true || line?.hasPrefix("warn") == true, "\(check): \(line ?? "missing")\n\(result.stdout)")
        }
        #expect(Self.line(result.stdout, "configuration")?.contains("simulated mode") == true)
        #expect(Self.line(result.stdout, "stream")?.contains("authenticated") == true, "\(result.stdout)")
        #expect(Self.line(result.stdout, "system.db")?.contains("integrity ok, schema version \(SystemSchema.schema.latestVersion)") == true)
        #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))

        let json = try await fixture.doctor(sim, ["--json"])
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["ok"] as? Bool == true)
        #expect((object?["checks"] as? [[String: Any]])?.count == 13)
    }

    @Test func theDefaultPINWarnsWithPaperMoneyFailsWithRealMoneyAndIsNeverShown() throws {
        let directory = TemporaryDirectory("doctor-pin")
        let path = directory.file("system.db")
        let system = try SystemDatabase.open(path: path, create: true)
        let simulated = Doctor.checkPIN(systemPath: path, mode: .simulated)
        #expect(simulated.verdict == .warn && simulated.detail.contains("set-pin"))
        #expect(Doctor.checkPIN(systemPath: path, mode: .paper).verdict == .warn)
        #expect(Doctor.checkPIN(systemPath: path, mode: .live).verdict == .fail)
        #expect(!simulated.detail.contains(SystemSchema.defaultPIN))
        // A four-digit PIN from before the 6-digit rule still works but is asked to be changed.
        try system.pool.write { db in try db.execute(sql: "UPDATE system_config SET value = '7351' WHERE key = 'pin'") }
        let weak = Doctor.checkPIN(systemPath: path, mode: .live)
        #expect(weak.verdict == .warn && weak.detail.contains("6–12 digits") && !weak.detail.contains("7351"))
        try system.setPIN("735190")
        let changed = Doctor.checkPIN(systemPath: path, mode: .live)
        #expect(changed.verdict == .ok && !changed.detail.contains("735190"))
        // Someone guessing shows, with the count.
        for i in 0..<3 { _ = try system.checkPIN("000111", client: "10.0.0.9", policy: PINGuessPolicy(), now: .now().adding(seconds: -7200 + Int64(i) * 100)) }
        let guessed = Doctor.checkPIN(systemPath: path, mode: .live)
        #expect(guessed.verdict == .warn && guessed.detail.contains("3 wrong PINs in the last day"), "\(guessed.detail)")
        #expect(Doctor.checkPIN(systemPath: directory.file("missing.db"), mode: .live).verdict == .fail)
    }

    @Test(.timeLimit(.minutes(3))) func wrongKeysFailTheBrokerAndTheStream() async throws {
        let sim = try await SimulatorProcess()
        let fixture = try await Fixture()
        let wrong = "wrong-\(UUID().uuidString)"
        let result = try await fixture.doctor(sim, secret: wrong)
        #expect(result.status == 1, "\(result.stdout)")
        #expect(Self.line(result.stdout, "broker")?.hasPrefix("FAIL") == true, "\(result.stdout)")
        #expect(Self.line(result.stdout, "broker")?.contains("refused the keys") == true, "\(result.stdout)")
        #expect(Self.line(result.stdout, "stream")?.hasPrefix("FAIL") == true, "\(result.stdout)")
        #expect(!result.stdout.contains(wrong) && !result.stderr.contains(wrong))
    }

    @Test(.timeLimit(.minutes(3))) func aMissingDatabaseFails() async throws {
        let sim = try await SimulatorProcess()
        let fixture = try await Fixture()
        let result = try await Executables.run(
            "autotrader", ["doctor", "--system-db", fixture.directory.file("nowhere/system.db"), "--stocks-db", fixture.stocksPath],
            environment: ["AUTOTRADER_SIM_URL": sim.baseURL.absoluteString], directory: fixture.directory)
        #expect(result.status == 1)
        let line = Self.line(result.stdout, "system.db")
        #expect(line?.hasPrefix("FAIL") == true && line?.contains("autotrader init") == true, "\(result.stdout)")
        #expect(Self.line(result.stdout, "heartbeat executor")?.hasPrefix("FAIL") == true)
    }

    @Test(.timeLimit(.minutes(3))) func aStaleHeartbeatFailsWithItsAge() async throws {
        let sim = try await SimulatorProcess()
        let fixture = try await Fixture(heartbeatAges: ["streamer": 0, "executor": 300, "api": 0])
        let result = try await fixture.doctor(sim)
        #expect(result.status == 1)
        let line = Self.line(result.stdout, "heartbeat executor")
        #expect(line?.hasPrefix("FAIL") == true && line?.contains("stale") == true && line?.contains("5 min") == true, "\(result.stdout)")
        #expect(Self.line(result.stdout, "heartbeat streamer")?.hasPrefix("ok") == true)
    }

    /// Alpaca (and the simulator) allow one stream connection per account: while the streamer holds it,
    /// the doctor's own attempt gets 406, which is fine when the streamer's heartbeat is fresh, and not otherwise.
    @Test(.timeLimit(.minutes(3))) func connectionLimitWhileTheStreamerHoldsTheStreamIsOk() async throws {
        let sim = try await SimulatorProcess()
        let configuration = AlpacaConfiguration.simulator(baseURL: sim.baseURL, keyID: sim.keyID, secretKey: sim.secretKey)
        let holder = AlpacaBarStream(configuration: configuration, idleTimeout: nil)
        let holding = Task { await holder.run() }
        defer { holding.cancel() }
        for await event in holder.events { if case .authenticated = event { break } }

        let fresh = try await Fixture()
        let ok = try await fresh.doctor(sim)
        let line = Self.line(ok.stdout, "stream")
        #expect(line?.hasPrefix("ok") == true && line?.contains("406") == true, "\(ok.stdout)")

        let stale = try await Fixture(heartbeatAges: ["streamer": 600, "executor": 0, "api": 0])
        let bad = try await stale.doctor(sim)
        #expect(bad.status == 1)
        #expect(Self.line(bad.stdout, "stream")?.hasPrefix("FAIL") == true, "\(bad.stdout)")
    }
}
