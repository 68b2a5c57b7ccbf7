import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Fuzzes a running `autotrader-api` with schemathesis (https://schemathesis.readthedocs.io) against
/// openapi.yaml: every answer to thousands of generated requests — valid ones and deliberately broken
/// ones — must be documented (status, content type, headers, body) and none may be a server error.
///
/// schemathesis comes from PyPI: `scripts/install-schemathesis.sh` (which `.ci/run` runs) puts a pinned
/// version in `.build/schemathesis-venv`. Without it this test fails, unless `AUTOTRADER_SKIP_SCHEMATHESIS=1`.
/// `SCHEMATHESIS=/path/to/schemathesis` picks another one; `SCHEMATHESIS_SEED=N` repeats a run (the seed
/// is printed); `SCHEMATHESIS_MAX_EXAMPLES=N` makes the runs larger or smaller.
@Suite(.serialized) struct SchemathesisTests {
    static var skipped: Bool {
        ["1", "true", "yes"].contains(ProcessInfo.processInfo.environment["AUTOTRADER_SKIP_SCHEMATHESIS"]?.lowercased() ?? "")
    }

    static let repository = Repository.root

    /// `$SCHEMATHESIS`, the venv `scripts/install-schemathesis.sh` makes, or `schemathesis` on PATH.
    static func executable() -> String? {
        let environment = ProcessInfo.processInfo.environment
        let fileManager = FileManager.default
        if let explicit = environment["SCHEMATHESIS"], !explicit.isEmpty {
            return fileManager.isExecutableFile(atPath: explicit) ? explicit : nil
        }
        var candidates = [
            repository.appendingPathComponent(".build/schemathesis-venv/bin/schemathesis").path,
            "/opt/schemathesis/bin/schemathesis",
        ]
        for directory in (environment["PATH"] ?? "").split(separator: ":") where !directory.isEmpty {
            candidates.append(String(directory) + "/schemathesis")
        }
        return candidates.first { fileManager.isExecutableFile(atPath: $0) }
    }

    /// The checks that hold this api to the document. Not `positive_data_acceptance` (a schema-valid
    /// ticker is still refused when the broker doesn't know it) nor `use_after_free` (a stopped card is
    /// still readable: DELETE is a soft delete, as documented).
    static let allChecks = [
        "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
        "response_schema_conformance", "negative_data_rejection", "unsupported_method", "allow_header_conformance",
        "missing_required_header", "ensure_resource_availability",
    ]
    /// For the runs whose every change is refused before routing (a foreign Host or Origin): the answers must
    /// still be documented, but 405 and the other method-level checks don't apply.
    static let conformanceChecks = [
        "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
        "response_schema_conformance",
    ]

    struct Run {
        let name: String
        let headers: [String]
        let checks: [String]
        let maxExamples: Int
        /// A hung run is stopped after this and counts as a failure.
        let deadline: Duration
    }

    /// What every run shares: the executable (nil: an issue is recorded), the seed, the examples per operation.
    struct Setup {
        let schemathesis: String
        let seed: UInt32
        let examples: Int

        /// One seed for every run of this test process.
        static let seed = ProcessInfo.processInfo.environment["SCHEMATHESIS_SEED"].flatMap(UInt32.init) ?? UInt32.random(in: 1...UInt32.max)

        init?() {
            guard let schemathesis = SchemathesisTests.executable() else {
                Issue.record("""
                    schemathesis is not installed: run scripts/install-schemathesis.sh (.ci/run does), or set \
                    SCHEMATHESIS=/path/to/schemathesis; AUTOTRADER_SKIP_SCHEMATHESIS=1 skips this test
                    """)
                return nil
            }
            self.schemathesis = schemathesis
            seed = Self.seed
            // 100 examples per operation: the runs below take about 45 s on two idle cores.
            examples = max(1, ProcessInfo.processInfo.environment["SCHEMATHESIS_MAX_EXAMPLES"].flatMap(Int.init) ?? 100)
            print("schemathesis: seed \(seed) (SCHEMATHESIS_SEED=\(seed) repeats it), \(examples) examples per operation")
        }
    }

    /// Wrong PINs are what a fuzzer sends most: with the defaults they would lock every PIN-guarded
    /// request for an hour after ten, and the runs would see little but 429.
    static let apiArguments = ["--pin-backoff", "0", "--pin-guesses-per-hour", "100"]

    @Test(.enabled(if: !skipped, "AUTOTRADER_SKIP_SCHEMATHESIS is set"), .timeLimit(.minutes(5)))
    func everyAnswerToGeneratedRequestsIsWhatOpenAPIYamlSays() async throws {
        guard let setup = Setup() else { return }
        let world = try await APIWorld(apiArguments: Self.apiArguments)
        let examples = setup.examples
        try await Self.fuzz(world.api, in: world.directory, setup, runs: [
            // With the right PIN first: creates, stops and liquidations go through (while the count of
            // wrong PINs is low), and the stateful phase follows each new card's links.
            Run(name: "with the PIN", headers: ["X-PIN: 2020"], checks: Self.allChecks, maxExamples: examples, deadline: .seconds(120)),
            Run(name: "without a PIN", headers: [], checks: Self.allChecks, maxExamples: examples, deadline: .seconds(120)),
            // Another site's page through the owner's browser: every change is 403 before it is read.
            Run(name: "cross-origin", headers: ["X-PIN: 2020", "Origin: http://evil.example", "Sec-Fetch-Site: cross-site"],
                checks: Self.conformanceChecks, maxExamples: max(1, examples / 8), deadline: .seconds(60)),
            // DNS rebinding: a foreign name pointed at this machine gets 421 for everything.
            Run(name: "foreign Host", headers: ["X-PIN: 2020", "Host: evil.example"],
                checks: Self.conformanceChecks, maxExamples: max(1, examples / 8), deadline: .seconds(60)),
        ])
    }

    /// Paper money with the factory PIN: creates and liquidations are 403 with `pin_change_required`.
    @Test(.enabled(if: !skipped, "AUTOTRADER_SKIP_SCHEMATHESIS is set"), .timeLimit(.minutes(3)))
    func inPaperModeTheFactoryPINsRefusalsAreWhatOpenAPIYamlSays() async throws {
        guard let setup = Setup() else { return }
        let broker = try await SimulatorProcess(APIWorld.simArguments)
        let url = broker.baseURL.absoluteString
        // Paper mode: keys set, the broker's URLs pointed at a simulator.
        let world = try await APIWorld(apiArguments: Self.apiArguments, environment: [
            "ALPACA_API_KEY": broker.keyID, "ALPACA_SECRET": broker.secretKey, "ALPACA_PAPER": "true",
            "ALPACA_TRADING_URL": url, "ALPACA_DATA_URL": url,
        ])
        let mode = try await world.api.json("GET", "/api/algorithms").1["mode"]?.string
        try #require(mode == "paper")
        try await Self.fuzz(world.api, in: world.directory, setup, runs: [
            Run(name: "paper mode, factory PIN", headers: ["X-PIN: 2020"], checks: Self.allChecks,
                maxExamples: max(1, setup.examples / 4), deadline: .seconds(90)),
        ])
        // Nothing moved money: the factory PIN created no card.
        #expect(try world.system.algorithms().isEmpty)
    }

    /// Runs schemathesis once per run against `api`; each must exit 0 within its deadline.
    static func fuzz(_ api: APIProcess, in directory: TemporaryDirectory, _ setup: Setup, runs: [Run]) async throws {
        for run in runs {
            var arguments = [
                "run", repository.appendingPathComponent("openapi.yaml").path, "--url", api.baseURL,
                "--checks", run.checks.joined(separator: ","),
                "--max-examples", String(run.maxExamples), "--seed", String(setup.seed),
                // One worker: two cores, and CPython 3.11's ast.parse is not safe in threads (hypothesis uses it).
                "--workers", "1", "--request-timeout", "30", "--generation-database", "none", "--no-color",
            ]
            for header in run.headers { arguments += ["--header", header] }
            print("schemathesis (\(run.name)): \(([setup.schemathesis] + arguments).map(quoted).joined(separator: " "))")
            let started = ContinuousClock.now
            let result = try await Self.run(setup.schemathesis, arguments, in: directory, deadline: run.deadline)
            let output = result.stdout + (result.stderr.isEmpty ? "" : "\n" + result.stderr)
            print("schemathesis (\(run.name)): exit \(result.status) after \(ContinuousClock.now - started)\n\(summary(of: output))")
            if result.timedOut {
                Issue.record("schemathesis (\(run.name)) did not finish within \(run.deadline) (seed \(setup.seed)):\n\(tail(output))")
            } else if result.status != 0 {
                Issue.record("schemathesis (\(run.name)) exited \(result.status) (seed \(setup.seed)):\n\(failures(in: output))")
            }
        }
        #expect(api.running.process.isRunning, "the api ended during the fuzzing: \(api.stderr.suffix(2000))")
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        let timedOut: Bool
    }

    /// Runs schemathesis in `directory` (its reports and caches stay there), output to files, without proxies.
    static func run(_ executable: String, _ arguments: [String], in directory: TemporaryDirectory, deadline: Duration) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for key in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] { environment[key] = nil }
        environment["NO_PROXY"] = "127.0.0.1,localhost"
        environment["NO_COLOR"] = "1"
        environment["PYTHONUNBUFFERED"] = "1"
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let id = UUID().uuidString
        let out = directory.file("schemathesis-\(id).out"), err = directory.file("schemathesis-\(id).err")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let end = ContinuousClock.now + deadline
        var timedOut = false
        while process.isRunning {
            if ContinuousClock.now > end {
                timedOut = true
                process.terminate()
                // A grace period for SIGTERM (a deadline, polled), then SIGKILL.
                let grace = ContinuousClock.now + .seconds(10)
                while process.isRunning, ContinuousClock.now < grace { try? await Task.sleep(for: .milliseconds(100)) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                break
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        await process.exited()
        return Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "", timedOut: timedOut)
    }

    /// The SUMMARY section (phases, failures, test cases, seed).
    static func summary(of output: String) -> String {
        guard let range = output.range(of: "= SUMMARY =") else { return tail(output) }
        let start = output[..<range.lowerBound].lastIndex(of: "\n").map { output.index(after: $0) } ?? range.lowerBound
        return String(output[start...])
    }

    /// From the ERRORS or FAILURES section on (each failure with its curl line), or the end of the output.
    static func failures(in output: String) -> String {
        let starts = ["= ERRORS =", "= FAILURES ="].compactMap { output.range(of: $0)?.lowerBound }
        guard let found = starts.min() else { return tail(output) }
        let text = output[(output[..<found].lastIndex(of: "\n").map { output.index(after: $0) } ?? found)...]
        return text.count > 12_000 ? String(text.prefix(9000)) + "\n…\n" + String(text.suffix(3000)) : String(text)
    }

    static func tail(_ text: String) -> String { String(text.suffix(6000)) }

    static func quoted(_ argument: String) -> String {
        argument.allSatisfy({ $0.isLetter || $0.isNumber || "-_./:=,".contains($0) }) ? argument : "'\(argument)'"
    }
}

/// The test suite's own reading of openapi.yaml (`OpenAPIValidator`, which checks every answer the api
/// tests get) holds answers to what the document says, headers included.
@Suite struct OpenAPIValidatorTests {
    static let securityHeaders = [
        "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Resource-Policy": "same-origin",
    ]

    func problems(_ method: String, _ path: String, _ status: Int, _ body: String, headers: [String: String] = securityHeaders) -> [String] {
        OpenAPIValidator.shared.problems(method: method, path: path, status: status, headers: headers, body: Data(body.utf8))
    }

    @Test func documentedAnswersPassAndTheRestAreNamed() {
        #expect(problems("POST", "/api/validate-pin", 401, #"{"error":"this request needs the PIN"}"#).isEmpty)
        var wrong = Self.securityHeaders
        wrong["Retry-After"] = "2"
        #expect(problems("POST", "/api/algorithms", 403, #"{"error":"wrong PIN","retry_after":2}"#, headers: wrong).isEmpty)
        #expect(problems("POST", "/api/algorithms", 403, #"{"error":"change it","pin_change_required":true}"#).isEmpty)
        #expect(problems("GET", "/api/algorithms/9223372036854775808", 400, #"{"error":"the algorithm id must be …"}"#).isEmpty)
        // The connection guard's early 413 carries no security headers, and may not.
        #expect(problems("PUT", "/api/pin", 413, #"{"error":"too big"}"#, headers: ["Content-Type": "application/json"]).isEmpty)
        #expect(problems("POST", "/api/pin", 413, #"{"error":"too big"}"#, headers: ["Content-Type": "application/json"]).isEmpty)
        #expect(problems("GET", "/api/nothing-here", 421, #"{"error":"not this host"}"#).isEmpty)
        #expect(problems("PATCH", "/api/pin", 405, #"{"error":"no"}"#, headers: Self.securityHeaders.merging(["Allow": "PUT"]) { $1 }).isEmpty)

        // A 429 must say when to come back, as a whole number.
        #expect(problems("GET", "/api/validate-ticker?symbol=NVDA", 429, #"{"error":"slow down","retry_after":3}"#)
            .contains { $0.contains("missing header Retry-After") })
        var badRetry = Self.securityHeaders
        badRetry["Retry-After"] = "soon"
        #expect(problems("PUT", "/api/pin", 429, #"{"error":"slow down","retry_after":3}"#, headers: badRetry)
            .contains { $0.contains("not a whole number") })
        // Undocumented statuses, missing or wrong security headers, another content type.
        #expect(problems("GET", "/api/available-algorithms", 503, #"{"error":"busy"}"#).contains { $0.contains("not documented") })
        var bare = Self.securityHeaders
        bare["X-Frame-Options"] = nil
        #expect(problems("GET", "/api/account/cash", 200, #"{"broker_cash":1,"allocated":0,"available":1}"#, headers: bare)
            .contains { $0.contains("missing header X-Frame-Options") })
        bare["X-Frame-Options"] = "SAMEORIGIN"
        #expect(problems("GET", "/api/account/cash", 200, #"{"broker_cash":1,"allocated":0,"available":1}"#, headers: bare)
            .contains { $0.contains("X-Frame-Options") })
        var text = Self.securityHeaders
        text["Content-Type"] = "text/plain"
        #expect(problems("GET", "/api/account/cash", 200, #"{"broker_cash":1,"allocated":0,"available":1}"#, headers: text)
            .contains { $0.contains("Content-Type") })
        #expect(problems("GET", "/api/nothing-here", 404, #"{"error":"no such endpoint"}"#, headers: ["Content-Type": "application/json"])
            .contains { $0.contains("missing header") })
    }
}
