import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import AutoTraderCore

/// A running `autotrader-api` on loopback (`--port 0`, the port read from its "listening on" line),
/// with its own system.db, the shared stocks.db and an `autotrader-sim` as its broker.
/// Every answer is checked against openapi.yaml.
final class APIProcess: @unchecked Sendable {
    typealias Reply = SimulatorProcess.Reply

    let running: RunningProcess
    let host: String
    let port: Int
    var baseURL: String { "http://\(host):\(port)" }


    /// Starts the api on the given databases, pointed at `sim`.
    init(
        directory: TemporaryDirectory, systemPath: String, stocksPath: String, sim: SimulatorProcess?, simURL: String? = nil,
        arguments: [String] = [], environment: [String: String] = [:], timeout: TimeInterval = 60
    ) async throws {
        var env = environment
        env["AUTOTRADER_SIM_URL"] = simURL ?? sim?.baseURL.absoluteString ?? "http://127.0.0.1:9"
        if let sim, sim.keyID != SimulatorDefaults.keyID { env["AUTOTRADER_SIM_KEY_ID"] = sim.keyID }
        if let sim, sim.secretKey != SimulatorDefaults.secretKey { env["AUTOTRADER_SIM_SECRET_KEY"] = sim.secretKey }
        for key in ["ALPACA_API_KEY", "ALPACA_SECRET", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY"] where env[key] == nil { env[key] = "" }
        let running = try Executables.start(
            "autotrader-api",
            ["--port", "0", "--bind", "127.0.0.1", "--system-db", systemPath, "--stocks-db", stocksPath] + arguments,
            environment: env, directory: directory)
        self.running = running
        (host, port) = try await running.listeningAddress(name: "autotrader-api", timeout: timeout)
    }

    deinit { running.process.stopInBackground() }

    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    var stdout: String { Self.read(running.stdoutPath) }
    var stderr: String { Self.read(running.stderrPath) }

    @discardableResult
    func terminate(sourceLocation: SourceLocation = #_sourceLocation) async -> ProcessResult {
        await running.terminate(sourceLocation: sourceLocation)
    }

    /// Sends a request; `json` is serialized, `body` is sent as it is. The answer is checked against openapi.yaml
    /// (a mismatch is recorded as a test failure) and must never be a 500.
    @discardableResult
    func request(
        _ method: String = "GET", _ path: String, json: Any? = nil, body: Data? = nil, headers: [String: String] = [:],
        contentType: String? = "application/json", sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Reply {
        guard let url = URL(string: baseURL + path) else { throw SimulatorProcessError("bad path \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        // The hang guard: a request with no answer in 45 s fails with URLSession's timeout (generous for a loaded machine).
        request.timeoutInterval = 45
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let json { request.httpBody = try JSONSerialization.data(withJSONObject: json) }
        if let body { request.httpBody = body }
        if request.httpBody != nil, let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw SimulatorProcessError("no HTTP response for \(path)") }
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { fields[name] = value }
        }
        let reply = Reply(status: http.statusCode, headers: fields, body: data)
        let problems = OpenAPIValidator.shared.problems(
            method: method, path: path, status: reply.status, headers: fields, body: method == "HEAD" ? Data("{}".utf8) : data)
        #expect(problems.isEmpty, "\(method) \(path) → \(reply.status) \(reply.text): \(problems)", sourceLocation: sourceLocation)
        #expect(reply.status != 500, "\(method) \(path) → 500 \(reply.text)", sourceLocation: sourceLocation)
        return reply
    }

    func json(_ method: String = "GET", _ path: String, json body: Any? = nil, headers: [String: String] = [:],
              sourceLocation: SourceLocation = #_sourceLocation) async throws -> (Int, JSONAny) {
        let reply = try await request(method, path, json: body, headers: headers, sourceLocation: sourceLocation)
        return (reply.status, (try? JSONAny.parse(reply.body)) ?? .null)
    }
}

/// One test's world: a simulator, a fresh system.db, the shared stocks.db and a running api.
final class APIWorld: @unchecked Sendable {
    let directory: TemporaryDirectory
    let sim: SimulatorProcess
    let systemPath: String
    let stocksPath: String
    let system: SystemDatabase
    let stocks: StocksDatabase
    var api: APIProcess!

    /// Tuesday 2024-06-04 10:00 New York: the market is open.
    static let simArguments = ["--start", "2024-06-04T14:00:00Z", "--speed", "1", "--seed", "7"]

    init(simArguments: [String] = APIWorld.simArguments, apiArguments: [String] = [], environment: [String: String] = [:],
         keyID: String = SimulatorDefaults.keyID, secretKey: String = SimulatorDefaults.secretKey) async throws {
        directory = TemporaryDirectory("api")
        sim = try await SimulatorProcess(simArguments, keyID: keyID, secretKey: secretKey)
        systemPath = directory.file("system.db")
        system = try SystemDatabase.open(path: systemPath, create: true)
        stocks = SharedStocks.database
        stocksPath = stocks.path
        api = try await APIProcess(
            directory: directory, systemPath: systemPath, stocksPath: stocksPath, sim: sim, arguments: apiArguments,
            environment: environment)
    }

    /// The api is asked first: a simulator asked to stop while a client holds connections to it waits for them.
    deinit { api.running.process.stopInBackground() }

    /// Creates a card through the api (PIN 2020), expecting 201.
    /// `capital` is written into the JSON as it is (e.g. "1000.10"), so no binary rounding gets in the way.
    func create(_ ticker: String, _ type: String = "sma_crossover", capital: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int64 {
        let text = #"{"ticker":"\#(ticker)","algorithm_type":"\#(type)","initial_capital":\#(capital),"pin":"2020"}"#
        let reply = try await api.request("POST", "/api/algorithms", body: Data(text.utf8), sourceLocation: sourceLocation)
        #expect(reply.status == 201, "\(reply.text)", sourceLocation: sourceLocation)
        return Int64((try? JSONAny.parse(reply.body))?["id"]?.number ?? 0)
    }
}
