import Foundation
import Synchronization
import Testing
@testable import AutoTraderAPI
@testable import AutoTraderCore
#if canImport(Glibc)
import Glibc
#endif

/// The api against a hostile LAN, through real processes and raw sockets: foreign hosts and pages,
/// floods of connections and of broker look-ups, malformed HTTP, TLS.
@Suite(.serialized) struct APISecurityTests {
    static let goodCreate = #"{"ticker":"AAPL","algorithm_type":"sma_crossover","initial_capital":10,"pin":"2020"}"#

    /// A short-lived system tool (openssl, curl), its output read whole.
    static func tool(_ path: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    func post(_ api: APIProcess, _ path: String, _ body: String, headers: [String] = [], host: String? = nil) throws -> RawHTTP.Reply {
        let lines = ["POST \(path) HTTP/1.1", "Host: \(host ?? "127.0.0.1:\(api.port)")", "Content-Length: \(body.utf8.count)", "Connection: close"] + headers
        return try RawHTTP.send(port: api.port, lines.joined(separator: "\r\n") + "\r\n\r\n" + body)
    }

    func get(_ api: APIProcess, _ path: String, method: String = "GET", host: String? = nil, from: String = "127.0.0.1") throws -> RawHTTP.Reply {
        try RawHTTP.send(port: api.port, from: from, "\(method) \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(api.port)")\r\nConnection: close\r\n\r\n")
    }

    @Test func otherSitesPagesAndForeignHostNamesCanChangeNothing() async throws {
        let world = try await APIWorld(environment: ["AUTOTRADER_API_ALLOWED_HOSTS": "wall.example, tv.lan"])
        let api = world.api!
        let own = "http://127.0.0.1:\(api.port)"
        // DNS rebinding: a foreign name pointed at this machine is not served, not even the dashboard.
        #expect(try get(api, "/", host: "evil.example:\(api.port)").status == 421)
        #expect(try get(api, "/api/algorithms", host: "evil.example").status == 421)
        for host in ["localhost:\(api.port)", "127.0.0.1", "[::1]:\(api.port)", "wall.example", "TV.LAN:\(api.port)"] {
            #expect(try get(api, "/api/algorithms", host: host).status == 200, "\(host)")
        }
        // A page elsewhere can POST text/plain without a preflight: refused, as are forms and look-alike types.
        for type in ["text/plain", "application/x-www-form-urlencoded", "application/jsonp", "multipart/form-data; boundary=x"] {
            #expect(try post(api, "/api/algorithms", Self.goodCreate, headers: ["Content-Type: \(type)"]).status == 415, "\(type)")
        }
        // A foreign Origin (or a browser saying cross-site) is refused even with JSON and the right PIN.
        #expect(try post(api, "/api/algorithms", Self.goodCreate, headers: ["Content-Type: application/json", "Origin: http://evil.example"]).status == 403)
        #expect(try post(api, "/api/algorithms", Self.goodCreate, headers: ["Content-Type: application/json", "Origin: null"]).status == 403)
        #expect(try post(api, "/api/algorithms", Self.goodCreate, headers: ["Content-Type: application/json", "Sec-Fetch-Site: cross-site"]).status == 403)
        #expect(try world.system.algorithms().isEmpty)
        // The dashboard's own page may.
        let created = try post(api, "/api/algorithms", Self.goodCreate, headers: ["Content-Type: application/json; charset=utf-8", "Origin: \(own)", "Sec-Fetch-Site: same-origin"])
        #expect(created.status == 201, "\(created.body)")
        #expect(try world.system.algorithms().count == 1)

        // Every answer, files and JSON and errors alike, forbids framing and sniffing and sends no referrer.
        for reply in [try get(api, "/"), try get(api, "/api/algorithms"), try get(api, "/api/nope"), try get(api, "/", host: "evil.example")] {
            #expect(reply.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true, "\(reply.head)")
            #expect(reply.header("Content-Security-Policy")?.contains("script-src 'self'") == true)
            #expect(reply.header("X-Frame-Options") == "DENY" && reply.header("X-Content-Type-Options") == "nosniff")
            #expect(reply.header("Referrer-Policy") == "no-referrer")
            #expect(reply.header("Access-Control-Allow-Origin") == nil)
        }
    }

    @Test func theSmallOnesMethodsIdsAndMalformedBodies() async throws {
        let world = try await APIWorld()
        let api = world.api!
        let trace = try get(api, "/api/algorithms", method: "TRACE")
        #expect(trace.status == 405 && trace.header("Allow")?.contains("POST") == true)
        #expect(try get(api, "/", method: "TRACE").status == 405)
        #expect(try get(api, "/index.html", method: "DELETE").status == 405)
        // Ids as openapi.yaml states them: up to Int64's maximum.
        #expect(try get(api, "/api/algorithms/9223372036854775807").status == 404)
        #expect(try get(api, "/api/algorithms/9223372036854775808").status == 400)
        // A bad chunk size: a 400 and a closed connection, never a server error.
        let chunked = try RawHTTP.send(
            port: api.port,
            "POST /api/validate-pin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
        #expect(chunked.status == 400)
        // A huge body declared on a GET is refused before it is read; one actually sent is read and dropped.
        let declared = try RawHTTP.send(port: api.port, "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n")
        #expect(declared.status == 413)
        let fd = try RawHTTP.connect(port: api.port)
        defer { close(fd) }
        try RawHTTP.write(fd, Array("GET /api/algorithms HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".utf8))
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<8 { try RawHTTP.write(fd, Array("100000\r\n".utf8) + chunk + Array("\r\n".utf8)) }
        try RawHTTP.write(fd, Array("0\r\n\r\n".utf8))
        #expect(try RawHTTP.parse(RawHTTP.readAll(fd)).status == 200)
        // None of that was a server error, and none was logged as one.
        _ = await api.terminate()
        let logs = try String(contentsOfFile: api.running.stderrPath, encoding: .utf8)
        #expect(!logs.contains("error"), "\(logs.suffix(2000))")
    }

    @Test func connectionsHeldOpenFromOneAddressDoNotTakeTheDashboardAway() async throws {
        FileDescriptorLimit.raiseToHardLimit() // this test holds 1,000 sockets itself
        let world = try await APIWorld(apiArguments: ["--idle-timeout", "3", "--connections-per-address", "32"])
        let api = world.api!
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for _ in 0..<1000 {
            let fd = try RawHTTP.connect(port: api.port, from: "127.0.0.2")
            held.append(fd)
            // Half a request head, never finished (slowloris).
            _ = try? RawHTTP.write(fd, Array("GET /api/health HTTP/1.1\r\nHost: 127.".utf8))
        }
        // The owner, from another address, is answered within a second (a second probe forgives one scheduling
        // hiccup of a loaded test machine; a server that can't answer fails both).
        var fastest: Duration = .seconds(3600)
        for _ in 0..<2 where fastest >= .seconds(1) {
            let started = ContinuousClock.now
            let health = try get(api, "/api/health", from: "127.0.0.1")
            fastest = min(fastest, ContinuousClock.now - started)
            #expect(health.status == 200)
        }
        print("health answered in \(fastest) with 1,000 connections held from 127.0.0.2")
        #expect(fastest < .seconds(1))
        // The server kept no more than 32 of them, and closes even those once they idle past the timeout.
        func closedCount() -> Int {
            held.filter { fd in
                var byte: UInt8 = 0
                return recv(fd, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK)) == 0
            }.count
        }
        try await waitFor("all but 32 connections closed by the server", timeout: 20) { closedCount() >= 1000 - 32 }
        try await waitFor("the idle ones closed too", timeout: 20) { closedCount() == 1000 }
    }

    @Test func aFloodOfLookupsLeavesTheBrokerBudgetToTheExecutor() async throws {
        // Alpaca's 200 requests a minute, enforced (at real-time speed the window is a real minute).
        let world = try await APIWorld(simArguments: APIWorld.simArguments + ["--rate-limit", "200", "--enforce-rate-limit"])
        let api = world.api!
        func restRequests() async throws -> Int {
            let stats = try JSONSerialization.jsonObject(with: try await world.sim.request("GET", "/sim/stats", authorized: false).body) as? [String: Any]
            return stats?["rest_requests"] as? Int ?? -1
        }
        let before = try await restRequests()
        let flood = ContinuousClock.now + .seconds(15)
        // The executor's share: two requests a second, as a trading minute might need.
        let executor = Task { () -> [Int] in
            var statuses: [Int] = []
            while ContinuousClock.now < flood {
                statuses.append(try await world.sim.request("GET", "/v2/clock").status)
                try await Task.sleep(for: .milliseconds(500)) // the experiment's pace (a load generator), not a wait for anything
            }
            return statuses
        }
        // Four floods of unauthenticated GETs, each symbol new, from 200 addresses each: on threads of their own
        // (blocking sockets), so the cooperative pool stays free for the executor's requests.
        let tally = Mutex<[Int: Int]>([:])
        let group = DispatchGroup()
        for thread in 0..<4 {
            DispatchQueue.global().async(group: group) {
                var counts: [Int: Int] = [:]
                var n = 0
                while ContinuousClock.now < flood {
                    n += 1
                    let letters = String(String(n, radix: 26).unicodeScalars.map { Character(UnicodeScalar(65 + Int(String($0), radix: 36)!)!) })
                    let path = ["/api/validate-ticker?symbol=Q\(["A", "B", "C", "D"][thread])\(letters)", "/api/account/cash", "/api/health", "/api/algorithms"][n % 4]
                    let status = (try? self.get(api, path, from: "127.0.\(1 + thread).\(2 + n % 200)").status) ?? -1
                    counts[status, default: 0] += 1
                }
                tally.withLock { $0.merge(counts, uniquingKeysWith: +) }
            }
        }
        await withCheckedContinuation { continuation in group.notify(queue: .global()) { continuation.resume() } }
        let counts = tally.withLock { $0 }
        let executorStatuses = try await executor.value
        let apiRequests = try await restRequests() - before - executorStatuses.count
        print("flood answers: \(counts.sorted { $0.key < $1.key }); the api asked the broker \(apiRequests) times in 15 s; executor: \(executorStatuses.count) requests")
        #expect(counts.values.reduce(0, +) > 200, "the flood was a flood")
        #expect(executorStatuses.count >= 3, "the executor's requests went out (the test process itself is starved under the full suite)")
        #expect(!executorStatuses.contains(429), "the executor was throttled: \(executorStatuses)")
        #expect(executorStatuses.allSatisfy { $0 == 200 })
        // 2 per --broker-cache (5 s) for the clock and account, 10 at once + 20 a minute for look-ups.
        #expect(apiRequests <= 6 + 10 + 5 + 4, "the api spent \(apiRequests) requests")
        #expect((counts[429] ?? 0) > 0, "look-ups past the budget are refused with 429")
        #expect(counts[500] == nil && counts[-1] == nil)
    }

    @Test func withPaperMoneyNothingMovesMoneyUntilTheFactoryPINIsChanged() async throws {
        let sim = try await SimulatorProcess(APIWorld.simArguments)
        let url = sim.baseURL.absoluteString
        // Paper mode: keys set, the broker's URLs pointed at the simulator.
        let world = try await APIWorld(apiArguments: ["--pin-backoff", "0"], environment: [
            "ALPACA_API_KEY": sim.keyID, "ALPACA_SECRET": sim.secretKey, "ALPACA_PAPER": "true",
            "ALPACA_TRADING_URL": url, "ALPACA_DATA_URL": url,
        ])
        world.api = try await APIProcess(
            directory: world.directory, systemPath: world.systemPath, stocksPath: world.stocksPath, sim: nil, simURL: url,
            arguments: ["--pin-backoff", "0"],
            environment: ["ALPACA_API_KEY": sim.keyID, "ALPACA_SECRET": sim.secretKey, "ALPACA_TRADING_URL": url, "ALPACA_DATA_URL": url])
        let api = world.api!
        #expect(try await api.json("GET", "/api/algorithms").1["mode"]?.string == "paper")
        let (refused, body) = try await api.json(
            "POST", "/api/algorithms", json: ["ticker": "AAPL", "algorithm_type": "sma_crossover", "initial_capital": 10, "pin": "2020"])
        #expect(refused == 403 && body["pin_change_required"]?.bool == true && body["error"]?.string?.contains("factory PIN") == true)
        #expect(try world.system.algorithms().isEmpty)
        // A card made otherwise can still be stopped (that moves no money), but not sold off with the factory PIN.
        let card = try world.system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 10)
        #expect(try await api.json("DELETE", "/api/algorithms/\(card.id)?liquidate=true", headers: ["X-PIN": "2020"]).0 == 403)
        #expect(try world.system.pendingStopRequests().isEmpty)
        // Changed, everything works.
        #expect(try await api.json("PUT", "/api/pin", json: ["old_pin": "2020", "new_pin": "583104"]).0 == 200)
        #expect(try await api.json(
            "POST", "/api/algorithms", json: ["ticker": "AAPL", "algorithm_type": "sma_crossover", "initial_capital": 10, "pin": "583104"]).0 == 201)
        #expect(try await api.json("DELETE", "/api/algorithms/\(card.id)", headers: ["X-PIN": "583104"]).0 == 200)
        let (_, health) = try await api.json("GET", "/api/health")
        #expect(health["security"]?["pin_strength"]?.string == "strong")
        // The api first: it keeps a connection to the simulator busy (it reads the broker every few seconds), and
        // a simulator asked to stop waits for its clients.
        _ = await api.terminate()
        _ = await sim.terminate()
    }

    @Test func theOwnersCreatesAreNotHeldToTheLookupBudget() async throws {
        let world = try await APIWorld()
        let api = world.api!
        // Twelve cards on twelve tickers in a row (the soak makes twenty): each asks the broker for a new asset,
        // more than any client's budget of look-ups, but each passed the PIN first.
        let tickers = ["AAPL", "MSFT", "NVDA", "AMD", "KO", "GOOG", "AMZN", "META", "TSLA", "JPM", "XOM", "PEP"]
        for ticker in tickers {
            let (status, body) = try await api.json(
                "POST", "/api/algorithms", json: ["ticker": ticker, "algorithm_type": "sma_crossover", "initial_capital": 100, "pin": "2020"])
            #expect(status == 201, "\(ticker): \(body)")
        }
        #expect(try world.system.algorithms().count == tickers.count)
        // Unauthenticated look-ups of as many new symbols are held to it.
        var statuses: [Int] = []
        for ticker in ["IBM", "ORCL", "INTC", "CSCO", "QCOM", "TXN", "ADBE", "CRM", "NFLX", "DIS", "NKE", "SBUX"] {
            statuses.append(try await api.request("GET", "/api/validate-ticker?symbol=\(ticker)").status)
        }
        #expect(statuses.contains(429) && statuses.filter { $0 == 200 }.count >= 5, "\(statuses)")
    }

    @Test func servesHTTPSWithTheOwnersCertificate() async throws {
        let directory = TemporaryDirectory("tls")
        let key = directory.file("key.pem"), certificate = directory.file("cert.pem")
        let openssl = try Self.tool(
            "/usr/bin/openssl",
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=localhost"])
        try #require(openssl.status == 0, "openssl: \(openssl.stderr)")
        let world = try await APIWorld(environment: ["AUTOTRADER_API_TLS_CERT": certificate, "AUTOTRADER_API_TLS_KEY": key])
        let api = world.api!
        #expect(try String(contentsOfFile: api.running.stdoutPath, encoding: .utf8).contains("listening on https://"))
        let curl = try Self.tool(
            "/usr/bin/curl", ["-s", "--cacert", certificate, "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", "https://localhost:\(api.port)/api/health"])
        #expect(curl.stdout.hasSuffix("200"), "\(curl.stdout) \(curl.stderr)")
        #expect(curl.stdout.lowercased().contains("strict-transport-security"))
        // Plain HTTP on the TLS port gets no answer.
        #expect((try? get(api, "/api/health"))?.status != 200)
        // A key without its certificate is a clear start-up error.
        let lonely = try? await APIProcess(
            directory: world.directory, systemPath: world.systemPath, stocksPath: world.stocksPath, sim: world.sim,
            environment: ["AUTOTRADER_API_TLS_KEY": key], timeout: 20)
        #expect(lonely == nil)
    }
}
