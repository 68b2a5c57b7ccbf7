import Foundation
import Testing
@testable import AutoTraderAPI
@testable import AutoTraderCore

/// The pieces of the api that need no server: the strict JSON reader, the throttle, the PIN comparison.
@Suite struct APIUnitTests {
    @Test func theJSONReaderKeepsMoneyExactAndRefusesWhatIsNotJSON() throws {
        #expect(try JSONParser.parse(Array(#"{"initial_capital": 1000.10, "t": "x\u00e9\n"}"#.utf8))
            == .object(["initial_capital": .number(Decimal(string: "1000.10")!), "t": .string("xé\n")]))
        #expect(try JSONParser.parse(Array("1e3".utf8)) == .number(1000))
        for bad in ["{", "{\"a\":1,}", "{\"a\":1}x", "{'a':1}", "[01]", "{\"a\":1,\"a\":2}", "nul", "\"\u{01}\"", "1.", "-", String(repeating: "[", count: 40)] {
            #expect(throws: JSONParser.Failure.self, "\(bad)") { try JSONParser.parse(Array(bad.utf8)) }
        }
    }

    @Test func wrongPINsWaitLongerEachTimeAndAtMostTenAnHourAreChecked() {
        let policy = PINGuessPolicy()
        let start = Timestamp.at("2026-11-30T12:00:00Z")
        #expect(policy.wait(failures: [], now: start) == nil)
        // After the n-th wrong PIN of the hour the next waits 2^(n-1) s.
        var failures: [Timestamp] = []
        var now = start
        for n in 1...9 {
            failures.append(now)
            let wait = try! #require(policy.wait(failures: failures, now: now))
            #expect(wait == Int64(1 << (n - 1)), "after \(n) wrong PINs")
            #expect(policy.wait(failures: failures, now: now.adding(seconds: wait - 1)) != nil)
            now = now.adding(seconds: wait)
            #expect(policy.wait(failures: failures, now: now) == nil)
        }
        // The tenth uses up the hour: nothing more until the first is an hour old.
        failures.append(now)
        #expect(policy.wait(failures: failures, now: now) == 3600 - (now.secondsSinceEpoch - start.secondsSinceEpoch))
        // Wrong PINs older than an hour no longer count.
        #expect(policy.wait(failures: failures, now: now.adding(seconds: 3600)) == nil)
    }

    @Test func newPINsAreSixToTwelveDigitsNotRepeatedAndNotARun() {
        for good in ["483920", "10293847", "271828182845", "112233"] { #expect(Validation.newPINProblem(good) == nil, "\(good)") }
        for bad in ["2020", "12345", "0000000", "999999", "123456", "654321", "890123", "3210987", "1234567890123", "12a456", "", "١٢٣٤٥٦"] {
            #expect(Validation.newPINProblem(bad) != nil, "\(bad)")
        }
        #expect(Validation.strength(ofPIN: "2020", factory: "2020") == .factory)
        #expect(Validation.strength(ofPIN: "7351", factory: "2020") == .weak)
        #expect(Validation.strength(ofPIN: "483920", factory: "2020") == .strong)
    }

    @Test func pinComparisonIsExact() {
        #expect(SystemDatabase.constantTimeEquals("2020", "2020"))
        for other in ["2021", "202", "20200", "", "2020 ", "٢٠٢٠"] { #expect(!SystemDatabase.constantTimeEquals(other, "2020")) }
    }

    @Test func createChecksAvailableCashInsideItsTransaction() throws {
        let directory = TemporaryDirectory("alloc")
        let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        _ = try system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 600, brokerCash: 1000)
        #expect(throws: InsufficientCash(requested: Decimal(string: "400.01")!, available: 400)) {
            try system.createAlgorithm(ticker: "MSFT", algorithmType: "sma_crossover", initialCapital: Decimal(string: "400.01")!, brokerCash: 1000)
        }
        _ = try system.createAlgorithm(ticker: "MSFT", algorithmType: "sma_crossover", initialCapital: 400, brokerCash: 1000)
        #expect(try system.algorithms().count == 2)
        #expect(try system.availableCash(brokerCash: 1000).available == 0)
    }
}

/// The api's validation, PIN, 405 and 413 answers through Hummingbird's in-process router testing:
/// the api's own application and the simulator's in this process, no server socket, no process.
@Suite struct APIInProcessTests {
    @Test func changingThePINNeedsTheOldOne() async throws {
        try await InProcessAPI.run(options: { $0.pinPolicy.backoff = 0 }) { api in
            #expect(try await api.json("PUT", "/api/pin", json: ["old_pin": "1111", "new_pin": "483920"]).0 == 403)
            for weak in ["12", "12ab", "4321", "24680", "000000", "123456", "987654"] {
                let (status, body) = try await api.json("PUT", "/api/pin", json: ["old_pin": "2020", "new_pin": weak])
                #expect(status == 400 && body["error"]?.string?.contains("new PIN") == true, "\(weak)")
        }
        #expect(try await api.json("PUT", "/api/pin", json: ["old_pin": "2020"]).0 == 400)
        #expect(try await api.json("PUT", "/api/pin", json: ["new_pin": "483920"]).0 == 401)
        #expect(try await api.json("POST", "/api/validate-pin", json: [:]).0 == 401)
        #expect(try api.system.pin() == "2020")
        let (status, body) = try await api.json("PUT", "/api/pin", json: ["old_pin": "2020", "new_pin": "483920"])
        #expect(status == 200 && body == .object(["changed": .bool(true)]))
        #expect(try api.system.pin() == "483920")
        #expect(try await api.json("POST", "/api/validate-pin", json: ["pin": "2020"]).0 == 403)
        #expect(try await api.json("POST", "/api/validate-pin", json: ["pin": "483920"]).0 == 200)
        }
    }

    @Test func badInputIsAClear4xxAndChangesNothing() async throws {
        try await InProcessAPI.run { api in
            let id = try await api.create("AAPL", capital: "100")
            let before = try api.system.algorithms()
            let pinBefore = try api.system.pin()
            func body(_ text: String) -> Data { Data(text.utf8) }
            let good: [String: Any] = ["ticker": "AAPL", "algorithm_type": "sma_crossover", "initial_capital": 50, "pin": "2020"]
            func with(_ key: String, _ value: Any?) -> [String: Any] {
                var copy = good
                copy[key] = value
                return copy
        }
        let cases: [(String, String, Data?, [String: String], Int, String)] = [
            ("POST", "/api/algorithms", body("{"), [:], 400, "malformed JSON"),
            ("POST", "/api/algorithms", body("[1,2]"), [:], 400, "JSON object"),
            ("POST", "/api/algorithms", body(""), [:], 400, "JSON object body"),
            ("POST", "/api/algorithms", body("{\"ticker\":\"AAPL\",\"ticker\":\"MSFT\"}"), [:], 400, "given twice"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("initial_capital", "50")), [:], 400, "must be a number"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("ticker", 42)), [:], 400, "must be a string"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("ticker", nil)), [:], 400, "missing field \"ticker\""),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("algorithm_type", nil)), [:], 400, "missing field"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("shares", 5)), [:], 400, "unknown field \"shares\""),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("pin", nil)), [:], 401, "needs the PIN"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("algorithm_type", "get_rich")), [:], 400, "unknown algorithm_type"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("ticker", "ZZZZQ")), [:], 400, "doesn't know"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("ticker", "TWTR")), [:], 400, "can't be traded"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("ticker", "A$PL")), [:], 400, "invalid ticker"),
            ("POST", "/api/algorithms", body(#"{"ticker":"AAPL","algorithm_type":"sma_crossover","initial_capital":10.123,"pin":"2020"}"#), [:], 400, "two decimals"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("initial_capital", 0)), [:], 400, "more than 0"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("initial_capital", -5)), [:], 400, "more than 0"),
            ("POST", "/api/algorithms", try JSONSerialization.data(withJSONObject: with("initial_capital", 200_000)), [:], 409, "available"),
            ("POST", "/api/algorithms", Data(repeating: UInt8(ascii: " "), count: 5000), [:], 413, "4096"),
            ("POST", "/api/algorithms", body("ticker=AAPL"), ["Content-Type": "application/x-www-form-urlencoded"], 415, "JSON"),
            ("GET", "/api/algorithms/abc", nil, [:], 400, "positive whole number"),
            ("GET", "/api/algorithms/0", nil, [:], 400, "positive whole number"),
            ("GET", "/api/algorithms/1.5", nil, [:], 400, "positive whole number"),
            ("GET", "/api/algorithms/99999999999999999999999", nil, [:], 400, "positive whole number"),
            ("GET", "/api/algorithms/424242", nil, [:], 404, "no algorithm with id 424242"),
            ("GET", "/api/algorithms/424242/transactions", nil, [:], 404, "no algorithm"),
            ("GET", "/api/algorithms/424242/equity", nil, [:], 404, "no algorithm"),
            ("GET", "/api/algorithms/\(id)/transactions?limit=abc", nil, [:], 400, "limit"),
            ("GET", "/api/algorithms/\(id)/transactions?limit=0", nil, [:], 400, "limit"),
            ("GET", "/api/algorithms/\(id)/decisions?limit=1001", nil, [:], 400, "limit"),
            ("GET", "/api/algorithms/\(id)/transactions?offset=3", nil, [:], 400, "unknown query parameter"),
            ("GET", "/api/nope", nil, [:], 404, "no such endpoint"),
            ("GET", "/api", nil, [:], 404, "no such endpoint"),
            ("PATCH", "/api/algorithms", body("{}"), [:], 405, "not allowed"),
            ("POST", "/api/health", nil, [:], 405, "not allowed"),
            ("GET", "/api/pin", nil, [:], 405, "not allowed"),
            ("PUT", "/api/algorithms/\(id)", body("{}"), [:], 405, "not allowed"),
            ("DELETE", "/api/algorithms", nil, [:], 405, "not allowed"),
            ("POST", "/api/validate-pin", body("{\"pin\":2020}"), [:], 400, "must be a string"),
            ("POST", "/api/validate-pin", body("{\"pin\":\"2020\",\"remember\":true}"), [:], 400, "unknown field"),
            ("PUT", "/api/pin", body("{\"old_pin\":\"2020\",\"new_pin\":null}"), [:], 400, "must be a string"),
            ("DELETE", "/api/algorithms/\(id)", body("{\"pin\":\"2020\",\"force\":1}"), [:], 400, "unknown field"),
            ("DELETE", "/api/algorithms/\(id)", body("nope"), [:], 400, "malformed JSON"),
            // An optional body that is present must be JSON: whitespace alone is not (found by schemathesis).
            ("POST", "/api/validate-pin", body(" "), ["X-PIN": "2020", "Content-Type": "application/json"], 400, "malformed JSON"),
            ("DELETE", "/api/algorithms/\(id)", body("\r\n"), ["X-PIN": "2020", "Content-Type": "application/json"], 400, "malformed JSON"),
            ("PUT", "/api/pin", body("\t"), [:], 400, "malformed JSON"),
        ]
        for (method, path, data, headers, expected, message) in cases {
            let reply = try await api.request(method, path, body: data, headers: headers)
            #expect(reply.status == expected, "\(method) \(path) \(String(decoding: (data ?? Data()).prefix(80), as: UTF8.self)) → \(reply.status) \(reply.text)")
            let error = (try? JSONAny.parse(reply.body))?["error"]?.string ?? ""
            #expect(error.contains(message), "\(method) \(path): \(error.debugDescription) should say \(message)")
            if expected == 405 { #expect(reply.header("Allow") != nil) }
        }
        #expect(try api.system.algorithms() == before)
        #expect(try api.system.pin() == pinBefore)
        #expect(try api.system.trades(algorithmId: id).isEmpty)
        // After all that, the server is fine.
        #expect(try await api.request("GET", "/api/algorithms").status == 200)
        }
    }
}
