import AutoTraderAPI
import AutoTraderSim
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle
import Testing
@testable import AutoTraderCore

/// The api and its broker inside the test process, no process and no api socket: the simulator's own
/// application on a loopback port (the api's real Alpaca client talks HTTP to it) and the api's
/// application driven through Hummingbird's router test framework (`app.test(.router)`).
/// Every answer is checked against openapi.yaml, as `APIProcess` checks the built server's.
struct InProcessAPI: Sendable {
    struct Reply: Sendable {
        let status: Int
        let headers: HTTPFields
        let body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
        var json: JSONAny { (try? JSONAny.parse(body)) ?? .null }
    }

    let client: any TestClientProtocol
    let system: SystemDatabase

    /// Tuesday 2024-06-04 10:00 New York: the market is open.
    static let marketOpen = Timestamp.at("2024-06-04T14:00:00Z")

    /// Runs `body` against a fresh system.db, the shared stocks.db and a simulator started at `start`.
    static func run(
        start: Timestamp = marketOpen, options configure: @Sendable (inout APIOptions) -> Void = { _ in },
        _ body: @Sendable (InProcessAPI) async throws -> Void
    ) async throws {
        let directory = TemporaryDirectory("api-in-process")
        let logger = Logger(label: "in-process") { _ in SwiftLogNoOpLogHandler() }
        let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        try await InProcessSimulator.run(start: start, logger: logger) { simURL in
            var options = APIOptions(frontendPath: Repository.path("frontend"))
            options.heartbeatInterval = .seconds(60)
            configure(&options)
            let api = try APIServer.buildApplication(
                options: options, alpaca: .simulator(baseURL: simURL), system: system, stocks: SharedStocks.database, logger: logger)
            try await api.test(.router) { client in try await body(InProcessAPI(client: client, system: system)) }
        }
        _ = directory
    }

    /// One request; `body` is sent as it is, with `Content-Type: application/json` unless `headers` names one.
    func request(
        _ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Reply {
        var fields = HTTPFields()
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        if body != nil, fields[.contentType] == nil { fields[.contentType] = "application/json" }
        let response = try await client.executeRequest(
            uri: path, method: HTTPRequest.Method(method)!, headers: fields, body: body.map { ByteBuffer(bytes: $0) })
        let reply = Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: response.body))
        var plain: [String: String] = [:]
        for field in response.headers { plain[field.name.canonicalName] = field.value }
        for problem in OpenAPIValidator.shared.problems(
            method: method, path: path, status: reply.status, headers: plain, body: reply.body) {
            Issue.record("\(method) \(path) → \(reply.status): \(problem)", sourceLocation: sourceLocation)
        }
        return reply
    }

    /// A request whose body is `json` serialised.
    func json(
        _ method: String, _ path: String, json: Any? = nil, headers: [String: String] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (Int, JSONAny) {
        let body = try json.map { try JSONSerialization.data(withJSONObject: $0) }
        let reply = try await request(method, path, body: body, headers: headers, sourceLocation: sourceLocation)
        return (reply.status, reply.json)
    }

    /// Creates a card with the factory PIN, expecting 201; `capital` goes into the JSON as written.
    func create(_ ticker: String, _ type: String = "sma_crossover", capital: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int64 {
        let text = #"{"ticker":"\#(ticker)","algorithm_type":"\#(type)","initial_capital":\#(capital),"pin":"2020"}"#
        let reply = try await request("POST", "/api/algorithms", body: Data(text.utf8), sourceLocation: sourceLocation)
        #expect(reply.status == 201, "\(reply.text)", sourceLocation: sourceLocation)
        return Int64(reply.json["id"]?.number ?? 0)
    }
}

/// The simulator's own application on a loopback port inside the test process, for as long as `body` runs.
enum InProcessSimulator {
    static func run(
        start: Timestamp, seed: UInt64 = 7, logger: Logger, _ body: @Sendable (_ simURL: URL) async throws -> Void
    ) async throws {
        var simulator = SimulatorConfiguration()
        simulator.host = "127.0.0.1"
        simulator.port = 0
        simulator.start = Date(timeIntervalSince1970: TimeInterval(start.secondsSinceEpoch))
        simulator.seed = seed
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let simApp = try Simulator.buildApplication(simulator, logger: logger) { _, port in portSink.yield(port) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Under a ServiceGroup, cancelling the task shuts the simulator down gracefully; but a graceful
            // shutdown waits for open connections, and a client under test may keep idle ones to it (once a
            // fresh-clone run waited ten minutes), so after a few seconds the rest is cancelled. Past its cancellation
            // bound a ServiceGroup crashes the process (fatalError): a bound of 3 s took the whole unit target down
            // once on a loaded machine, so it is generous here; test.sh's phase limit still catches a real hang.
            var configuration = ServiceGroupConfiguration(services: [simApp], logger: logger)
            configuration.maximumGracefulShutdownDuration = .seconds(3)
            configuration.maximumCancellationDuration = .seconds(60)
            group.addTask { [configuration] in try await ServiceGroup(configuration: configuration).run() }
            var waiting = ports.makeAsyncIterator()
            guard let port = await waiting.next() else { throw SimulatorProcessError("the in-process simulator did not start") }
            do {
                try await body(URL(string: "http://127.0.0.1:\(port)")!)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }
}
