import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import AutoTraderCore

/// A running `autotrader-sim` for tests: started on a free port (`--port 0`), its address read from the
/// "listening on" line, stopped with SIGTERM. Talk to it over plain HTTP with `request`; give the base URL
/// (or `streamURL`) to the real Alpaca client.
final class SimulatorProcess: @unchecked Sendable {
    /// One HTTP answer.
    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data

        var text: String { String(decoding: body, as: UTF8.self) }

        /// A header, by case-insensitive name.
        func header(_ name: String) -> String? {
            headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
        }

        func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
            try JSONDecoder().decode(T.self, from: body)
        }

        /// The body as a JSON object (for fields no model carries).
        func object() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw SimulatorProcessError("not a JSON object: \(text)")
            }
            return object
        }
    }

    let directory: TemporaryDirectory
    let running: RunningProcess
    let host: String
    let port: Int
    let keyID: String
    let secretKey: String

    /// `http://127.0.0.1:PORT`: trading and market-data REST share it.
    var baseURL: URL { URL(string: "http://\(host):\(port)")! }
    /// `ws://127.0.0.1:PORT/v2/iex` (or another feed).
    func streamURL(feed: String = "iex") -> URL { URL(string: "ws://\(host):\(port)/v2/\(feed)")! }

    /// Starts the simulator with extra arguments (`--start`, `--speed`, `--seed`, faults …) and waits until it listens.
    init(_ arguments: [String] = [], environment: [String: String] = [:], keyID: String = SimulatorDefaults.keyID,
         secretKey: String = SimulatorDefaults.secretKey, timeout: TimeInterval = 30) async throws {
        self.directory = TemporaryDirectory("sim")
        self.keyID = keyID
        self.secretKey = secretKey
        var arguments = ["--port", "0"] + arguments
        if keyID != SimulatorDefaults.keyID { arguments += ["--key-id", keyID] }
        if secretKey != SimulatorDefaults.secretKey { arguments += ["--secret-key", secretKey] }
        let running = try Executables.start("autotrader-sim", arguments, environment: environment, directory: directory)
        self.running = running
        (host, port) = try await running.listeningAddress(name: "autotrader-sim", timeout: timeout)
    }

    deinit { running.process.stopInBackground() }

    var stdout: String { (try? String(contentsOfFile: running.stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: running.stderrPath, encoding: .utf8)) ?? "" }

    /// Stops it with SIGTERM and waits; the result carries the exit status and output.
    @discardableResult
    func terminate(sourceLocation: SourceLocation = #_sourceLocation) async -> ProcessResult {
        await running.terminate(sourceLocation: sourceLocation)
    }

    /// Sends a request. `path` may carry a query (`/v2/stocks/bars?symbols=AAPL&timeframe=1Min`);
    /// `authorized` adds the key headers; `json` is sent as the body.
    func request(
        _ method: String = "GET", _ path: String, json: Any? = nil, authorized: Bool = true, headers: [String: String] = [:]
    ) async throws -> Reply {
        guard let url = URL(string: baseURL.absoluteString + path) else { throw SimulatorProcessError("bad path \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 30
        if authorized {
            request.setValue(keyID, forHTTPHeaderField: "APCA-API-KEY-ID")
            request.setValue(secretKey, forHTTPHeaderField: "APCA-API-SECRET-KEY")
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw SimulatorProcessError("no HTTP response for \(path)") }
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { fields[name] = value }
        }
        return Reply(status: http.statusCode, headers: fields, body: data)
    }

    /// The simulator's clock as GET /v2/clock reports it.
    func clock() async throws -> AlpacaClock {
        try await request("GET", "/v2/clock").decode()
    }

    /// Polls `check` every 100 ms until it returns a value or `timeout` (real seconds) passes.
    func waitFor<T>(timeout: TimeInterval = 15, _ check: () async throws -> T?) async throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let value = try await check() { return value }
            guard Date() < deadline else { throw SimulatorProcessError("condition not met within \(timeout) s") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// Something went wrong starting or talking to the simulator.
struct SimulatorProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
