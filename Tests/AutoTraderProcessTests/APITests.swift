import Foundation
import Testing
@testable import AutoTraderAPI
@testable import AutoTraderCore
#if canImport(Glibc)
import Glibc
#endif

/// The built `autotrader-api` on loopback, with real databases and `autotrader-sim` as the broker.
@Suite(.serialized) struct APIProcessTests {
    @Test func cardsListTransactionsDecisionsEquityCatalogCashAndTickers() async throws {
        let world = try await APIWorld()
        let api = world.api!

        let (emptyStatus, empty) = try await api.json("GET", "/api/algorithms")
        #expect(emptyStatus == 200)
        #expect(empty["algorithms"]?.array?.isEmpty == true)
        #expect(empty["mode"]?.string == "simulated")
        #expect(empty["market_open"]?.bool == true)
        #expect(empty["total_account_value"]?.number == 100_000)

        let id = try await world.create("ko", capital: "1000.10")
        // Trades and bars written the way the executor and the streamer do.
        let created = try world.system.algorithm(id: id)
        #expect(created.ticker == "KO" && created.initialCapital == Decimal(string: "1000.1")!)
        let t0 = created.createdAt
        try world.system.recordTrade(algorithmId: id, side: .buy, shares: 3, price: Decimal(string: "100.25")!, at: t0.adding(seconds: 60))
        try world.system.recordTrade(algorithmId: id, side: .sell, shares: 1, price: Decimal(string: "101.5")!, at: t0.adding(seconds: 120))
        try world.stocks.insert([MinuteBar(ticker: "KO", timestamp: .at("2024-06-04T14:00:00Z"), open: 110, high: 110, low: 110, close: 110, volume: 1)])
        try world.system.logDecision(algorithmId: id, minute: t0.minuteStart, decision: .hold, shares: nil, reason: "no crossover")
        try world.system.logDecision(algorithmId: id, minute: t0.minuteStart.adding(minutes: 1), decision: .buy, shares: 3, reason: "golden cross")

        let (listStatus, list) = try await api.json("GET", "/api/algorithms")
        #expect(listStatus == 200)
        let card = try #require(list["algorithms"]?.array?.first)
        #expect(card["id"]?.number == Double(id))
        #expect(card["current_shares"]?.number == 2)
        #expect(card["trade_count"]?.number == 2)
        #expect(card["current_price"]?.number == 110)
        // invested = 300.75 − 101.5 = 199.25; cash = 1000.10 − 199.25 = 800.85; value = 2 × 110 + 800.85
        #expect(card["invested"]?.number == 199.25)
        #expect(card["current_value"]?.number == 1020.85)
        #expect(card["pnl"]?.number == 20.75)
        #expect(card["stopping"]?.bool == false)

        let (oneStatus, one) = try await api.json("GET", "/api/algorithms/\(id)")
        // The list adds today's P&L and staleness to each card (DashboardAPITests); the rest is the same card.
        guard case .object(var listed) = card else { Issue.record("the card is not an object"); return }
        #expect(listed.removeValue(forKey: "pnl_today") != nil && listed.removeValue(forKey: "stale_since") != nil)
        #expect(oneStatus == 200 && one == .object(listed))

        let (_, transactions) = try await api.json("GET", "/api/algorithms/\(id)/transactions")
        #expect(transactions["transactions"]?.array?.map { $0["type"]?.string } == ["sell", "buy"])
        let (_, limited) = try await api.json("GET", "/api/algorithms/\(id)/transactions?limit=1")
        #expect(limited["transactions"]?.array?.count == 1)
        let (_, decisions) = try await api.json("GET", "/api/algorithms/\(id)/decisions")
        #expect(decisions["decisions"]?.array?.map { $0["decision"]?.string } == ["buy", "hold"])

        let (equityStatus, equity) = try await api.json("GET", "/api/algorithms/\(id)/equity")
        #expect(equityStatus == 200)
        let points = try #require(equity["points"]?.array)
        #expect(!points.isEmpty && points.count <= 120)
        #expect(points.first?["value"]?.number == 1000.10)

        let (_, catalog) = try await api.json("GET", "/api/available-algorithms")
        #expect(catalog["algorithms"]?.array?.compactMap { $0["name"]?.string } == ["macd_signal", "rsi_bounce", "sma_crossover"])

        let (cashStatus, cash) = try await api.json("GET", "/api/account/cash")
        #expect(cashStatus == 200)
        #expect(cash["broker_cash"]?.number == 100_000)
        #expect(cash["allocated"]?.number == 1000.10)
        #expect(cash["available"]?.number == 98_999.90)

        let (_, aapl) = try await api.json("GET", "/api/validate-ticker?symbol=aapl")
        #expect(aapl["valid"]?.bool == true && aapl["tradable"]?.bool == true && aapl["symbol"]?.string == "AAPL")
        #expect(aapl["error"]?.isNull == true && aapl["name"]?.string != nil)
        let (_, unknown) = try await api.json("GET", "/api/validate-ticker?symbol=ZZZZQ")
        #expect(unknown["valid"]?.bool == false && unknown["error"]?.string != nil)
        let (_, inactive) = try await api.json("GET", "/api/validate-ticker?symbol=TWTR")
        #expect(inactive["valid"]?.bool == true && inactive["tradable"]?.bool == false)
        let (_, malformed) = try await api.json("GET", "/api/validate-ticker?symbol=12%24")
        #expect(malformed["valid"]?.bool == false)
        let (missingStatus, _) = try await api.json("GET", "/api/validate-ticker")
        #expect(missingStatus == 400)

        // A HEAD of a GET endpoint answers without a body.
        #expect(try await api.request("HEAD", "/api/algorithms").status == 200)
    }

    @Test func stopAndLiquidateNeedThePINAndStoppingTwiceIsAConflict() async throws {
        let world = try await APIWorld(apiArguments: ["--pin-backoff", "0"])
        let api = world.api!
        let first = try await world.create("MSFT", capital: "500")
        let second = try await world.create("NVDA", "rsi_bounce", capital: "700")

        #expect(try await api.request("DELETE", "/api/algorithms/\(first)").status == 401)
        #expect(try await api.request("DELETE", "/api/algorithms/\(first)", headers: ["X-PIN": "1111"]).status == 403)
        #expect(try world.system.algorithm(id: first).status == .running)

        let (liquidating, card) = try await api.json("DELETE", "/api/algorithms/\(first)?liquidate=true", headers: ["X-PIN": "2020"])
        #expect(liquidating == 200)
        #expect(card["stopping"]?.bool == true && card["status"]?.string == "running")
        #expect(try world.system.pendingStopRequests().map(\.algorithmId) == [first])
        let (_, list) = try await api.json("GET", "/api/algorithms")
        #expect(list["algorithms"]?.array?.first { $0["id"]?.number == Double(first) }?["stopping"]?.bool == true)
        // Asking again changes nothing.
        #expect(try await api.json("DELETE", "/api/algorithms/\(first)?liquidate=true", headers: ["X-PIN": "2020"]).0 == 200)

        // The PIN in the body works too; a plain stop is immediate.
        let (stopped, stoppedCard) = try await api.json("DELETE", "/api/algorithms/\(second)", json: ["pin": "2020"])
        #expect(stopped == 200 && stoppedCard["status"]?.string == "stopped" && stoppedCard["stopped_at"]?.string != nil)
        let (again, againBody) = try await api.json("DELETE", "/api/algorithms/\(second)", headers: ["X-PIN": "2020"])
        #expect(again == 409 && againBody["error"]?.string?.contains("already stopped") == true)
        #expect(try await api.json("DELETE", "/api/algorithms/\(second)?liquidate=true", headers: ["X-PIN": "2020"]).0 == 409)
        #expect(try await api.json("DELETE", "/api/algorithms/9999", headers: ["X-PIN": "2020"]).0 == 404)
        #expect(try await api.json("DELETE", "/api/algorithms/\(first)?liquidate=maybe", headers: ["X-PIN": "2020"]).0 == 400)
        // A stopped card is still readable; the list holds only running ones.
        #expect(try await api.json("GET", "/api/algorithms/\(second)").1["status"]?.string == "stopped")
        #expect(try await api.json("GET", "/api/algorithms").1["algorithms"]?.array?.count == 1)
    }

    @Test func aCardHoldingSharesIsNeverStoppedByAccidentAndASaleCanBeWithdrawn() async throws {
        let world = try await APIWorld()
        let api = world.api!
        let id = try await world.create("NVDA", capital: "1000")
        // The card bought 44 shares since the dashboard last looked.
        try world.system.recordTrade(algorithmId: id, side: .buy, shares: 44, price: 20, at: .now())
        let (refused, body) = try await api.json("DELETE", "/api/algorithms/\(id)", headers: ["X-PIN": "2020"])
        #expect(refused == 409 && body["shares"]?.number == 44 && body["error"]?.string?.contains("44 shares of NVDA") == true)
        #expect(try world.system.algorithm(id: id).status == .running)
        #expect(try await api.json("DELETE", "/api/algorithms/\(id)?liquidate=true&keep_shares=true", headers: ["X-PIN": "2020"]).0 == 400)
        // Sell-and-stop, then change one's mind: the card goes on trading.
        #expect(try await api.json("DELETE", "/api/algorithms/\(id)?liquidate=true", headers: ["X-PIN": "2020"]).1["stopping"]?.bool == true)
        #expect(try await api.json("DELETE", "/api/algorithms/\(id)/liquidation", json: [:]).0 == 401)
        let (withdrawn, card) = try await api.json("DELETE", "/api/algorithms/\(id)/liquidation", headers: ["X-PIN": "2020"])
        #expect(withdrawn == 200 && card["stopping"]?.bool == false && card["status"]?.string == "running")
        #expect(try world.system.pendingStopRequests().isEmpty)
        #expect(try await api.json("DELETE", "/api/algorithms/\(id)/liquidation", headers: ["X-PIN": "2020"]).0 == 409)
        // Keeping the shares is an explicit choice.
        let (kept, stopped) = try await api.json("DELETE", "/api/algorithms/\(id)?keep_shares=true", headers: ["X-PIN": "2020"])
        #expect(kept == 200 && stopped["status"]?.string == "stopped" && stopped["current_shares"]?.number == 44)
        // The list says when the market next opens and closes, on the broker's clock.
        let (_, list) = try await api.json("GET", "/api/algorithms")
        #expect(list["next_close"]?.string?.hasPrefix("2024-06-04T20:00:00Z") == true, "\(list)")
        #expect(list["next_open"]?.string?.hasPrefix("2024-06-05T13:30:00Z") == true)
    }

    @Test func wrongPINsAreCountedAcrossEveryAddressAndSurviveARestart() async throws {
        // No back-off here, only the hourly cap, so the count is what is tested.
        let world = try await APIWorld(apiArguments: ["--pin-backoff", "0", "--pin-guesses-per-hour", "10"])
        let api = world.api!
        #expect(try await api.json("POST", "/api/validate-pin", json: ["pin": "2020"]) == (200, .object(["valid": .bool(true)])))
        // 30 guesses, each from its own loopback address (any host on a LAN can claim many).
        var statuses: [Int] = []
        for attempt in 1...30 {
            let reply = try RawHTTP.send(
                port: api.port, from: "127.0.\(attempt / 200).\(2 + attempt % 200)",
                "POST /api/validate-pin HTTP/1.1\r\nHost: 127.0.0.1:\(api.port)\r\nContent-Type: application/json\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{\"pin\":\"\(String(format: "%04d", 3000 + attempt))\"}")
            statuses.append(reply.status)
        }
        #expect(statuses.filter { $0 == 403 } .count == 10, "\(statuses)")
        #expect(statuses.filter { $0 == 429 } .count == 20, "\(statuses)")
        #expect(try world.system.pinStatus(policy: PINGuessPolicy()).failuresLastHour == 10)
        // Locked: every PIN-guarded request, from any address, even with the right PIN, is not checked.
        for (method, path, body) in [
            ("POST", "/api/validate-pin", ["pin": "2020"]), ("PUT", "/api/pin", ["old_pin": "2020", "new_pin": "483920"]),
            ("POST", "/api/algorithms", ["ticker": "AAPL", "algorithm_type": "sma_crossover", "initial_capital": 10, "pin": "2020"]),
        ] as [(String, String, [String: Any])] {
            let reply = try await api.request(method, path, json: body)
            #expect(reply.status == 429, "\(method) \(path)")
            let retryAfter = try #require(reply.header("Retry-After").flatMap(Int.init))
            #expect((3000...3600).contains(retryAfter))
            #expect(try JSONAny.parse(reply.body)["retry_after"]?.number == Double(retryAfter))
        }
        #expect(try world.system.pin() == "2020" && world.system.algorithms().isEmpty)
        // Reading needs no PIN and is never locked; the owner sees the guessing.
        let (_, health) = try await api.json("GET", "/api/health")
        #expect(health["security"]?["wrong_pins_last_hour"]?.number == 10)
        #expect((health["security"]?["pin_locked_for_seconds"]?.number ?? 0) > 3000)
        #expect(health["security"]?["pin_strength"]?.string == "factory")
        // A restart of the api gives no fresh guesses.
        _ = await api.terminate()
        world.api = try await APIProcess(
            directory: world.directory, systemPath: world.systemPath, stocksPath: world.stocksPath, sim: world.sim,
            arguments: ["--pin-backoff", "0"])
        #expect(try await world.api.request("POST", "/api/validate-pin", json: ["pin": "2020"]).status == 429)
        let logs = try String(contentsOfFile: api.running.stderrPath, encoding: .utf8)
        #expect(logs.contains("wrong PIN") && logs.contains("wrong_pins_this_hour=10"))
    }

    @Test func eachWrongPINMakesTheNextWaitAndRacingGuessesAreCheckedOneAtATime() async throws {
        // A long back-off, so that nothing here depends on how fast a loaded machine answers.
        let world = try await APIWorld(apiArguments: ["--pin-backoff", "30"])
        let api = world.api!
        // Two guesses at once: checked one after the other in system.db, so only one is checked at all.
        async let a = api.request("POST", "/api/validate-pin", json: ["pin": "1112"])
        async let b = api.request("POST", "/api/validate-pin", json: ["pin": "1113"])
        let (first, second) = try await (a, b)
        #expect([first.status, second.status].sorted() == [403, 429])
        let wrong = first.status == 403 ? first : second
        #expect(wrong.header("Retry-After") == "30")
        #expect(try world.system.pinStatus(policy: PINGuessPolicy()).failuresLastHour == 1)
        // During the back-off even the right PIN is not checked.
        let right = try await api.request("POST", "/api/validate-pin", json: ["pin": "2020"])
        #expect(right.status == 429)
        #expect((1...30).contains(Int(right.header("Retry-After") ?? "") ?? 0))
        #expect(try world.system.pinStatus(policy: PINGuessPolicy()).failuresLastHour == 1)
    }

    @Test func racingCreatesFromTwoProcessesNeverOverAllocate() async throws {
        let world = try await APIWorld()
        let second = try await APIProcess(
            directory: world.directory, systemPath: world.systemPath, stocksPath: world.stocksPath, sim: world.sim)
        let servers = [world.api!, second]
        // Cash 100,000: twelve creates of 15,000 can't all fit; exactly six can.
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<12 {
                group.addTask {
                    try await servers[index % 2].request(
                        "POST", "/api/algorithms",
                        json: ["ticker": ["AAPL", "MSFT", "NVDA"][index % 3], "algorithm_type": "macd_signal", "initial_capital": 15_000, "pin": "2020"]
                    ).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 201 }.count == 6, "\(statuses)")
        #expect(statuses.filter { $0 == 409 }.count == 6, "\(statuses)")
        #expect(try world.system.allocatedCapital() == 90_000)
        let (_, cash) = try await world.api.json("GET", "/api/account/cash")
        #expect(cash["available"]?.number == 10_000)
        await second.terminate()
    }

    @Test func healthReportsServicesDatabasesAndBrokerAndTheBrokerGoingAwayIsClear() async throws {
        let world = try await APIWorld(apiArguments: ["--heartbeat-interval", "1", "--broker-cache", "2"])
        let api = world.api!
        _ = try await world.create("AAPL", capital: "100")
        // A streamer that beat long ago.
        try await HeartbeatWriter(system: world.system, service: "streamer", pid: 1)
            .beat(state: .running, detail: ["newest_bar": "2024-06-04T13:50:00Z"], now: .now().adding(seconds: -60))
        let (status, health) = try await api.json("GET", "/api/health")
        #expect(status == 200)
        #expect(health["status"]?.string == "degraded")
        #expect(health["mode"]?.string == "simulated")
        #expect(health["broker"]?.string == "ok")
        #expect(health["databases"] == .object(["system": .string("ok"), "stocks": .string("ok")]))
        let services = try #require(health["services"]?.array)
        #expect(services.map { $0["service"]?.string } == ["streamer", "executor", "api"])
        let apiService = try #require(services.last)
        #expect(apiService["state"]?.string == "running" && apiService["stale"]?.bool == false)
        #expect(apiService["pid"]?.number == Double(api.running.process.processIdentifier))
        #expect(services[0]["stale"]?.bool == true && services[0]["age_seconds"]?.number ?? 0 >= 59)
        #expect(services[1]["state"]?.string == "missing" && services[1]["stale"]?.bool == true)
        #expect(health["market_open"]?.bool == true)
        #expect(health["data_stale"]?.bool == true)

        // The broker goes away: reads still work, the cards still show, money-changing calls say why they can't.
        world.sim.running.process.send(SIGKILL)
        await world.sim.running.process.exited()
        // Past the api's 2 s reuse of the broker's answers, a request starts a refresh (and may still get the last
        // answer, up to 10 s old); once that refresh has failed, the failure is what every reader is told.
        try await waitFor("the cards to show no account value", timeout: 20) {
            try await api.json("GET", "/api/algorithms").1["total_account_value"]?.isNull == true
        }
        let (listStatus, list) = try await api.json("GET", "/api/algorithms")
        #expect(listStatus == 200)
        #expect(list["total_account_value"]?.isNull == true)
        #expect(list["market_open"]?.bool != nil)
        #expect(list["algorithms"]?.array?.count == 1)
        let (createStatus, created) = try await api.json(
            "POST", "/api/algorithms", json: ["ticker": "MSFT", "algorithm_type": "sma_crossover", "initial_capital": 10, "pin": "2020"])
        #expect(createStatus == 503 && created["error"]?.string?.contains("broker") == true)
        #expect(try await api.json("GET", "/api/account/cash").0 == 503)
        // AAPL's asset is remembered (a day); a symbol not asked before needs the broker.
        #expect(try await api.json("GET", "/api/validate-ticker?symbol=AAPL").0 == 200)
        #expect(try await api.json("GET", "/api/validate-ticker?symbol=NVDA").0 == 503)
        let (_, down) = try await api.json("GET", "/api/health")
        #expect(down["broker"]?.string?.hasPrefix("error") == true && down["status"]?.string == "degraded")
        #expect(try world.system.algorithms().count == 1)
    }

    @Test func servesTheDashboardButNeverForApiPaths() async throws {
        let directory = TemporaryDirectory("frontend")
        try FileManager.default.createDirectory(atPath: directory.file("frontend"), withIntermediateDirectories: true)
        try "<html>dashboard</html>".write(toFile: directory.file("frontend/index.html"), atomically: true, encoding: .utf8)
        try "body{}".write(toFile: directory.file("frontend/style.css"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: directory.file("frontend/api"), withIntermediateDirectories: true)
        try "{}".write(toFile: directory.file("frontend/api/health"), atomically: true, encoding: .utf8)
        let world = try await APIWorld(apiArguments: ["--frontend", directory.file("frontend")])
        let api = world.api!
        let index = try await api.request("GET", "/")
        #expect(index.status == 200 && index.text == "<html>dashboard</html>")
        #expect(index.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(index.header("Cache-Control") == "no-cache")
        #expect(index.header("ETag") != nil)
        let css = try await api.request("GET", "/style.css")
        #expect(css.status == 200 && css.header("Content-Type")?.hasPrefix("text/css") == true)
        #expect(try await api.request("GET", "/missing.js").status == 404)
        #expect(try await api.request("GET", "/../../etc/passwd").status != 200)
        // /api never falls through to a file, whatever frontend/ holds.
        let health = try await api.request("GET", "/api/health")
        #expect(health.status == 200 && health.text != "{}")
        #expect(try await api.request("GET", "/api/index.html").status == 404)
        #expect(try await api.request("GET", "/api/algorithms").header("Cache-Control") == "no-store")
    }

    @Test func keysAndThePINNeverReachALogOrAnAnswerAndSIGTERMStopsCleanly() async throws {
        let keyID = "SIMKEY-\(UUID().uuidString.prefix(8))"
        let secret = "sim-secret-\(UUID().uuidString)"
        let world = try await APIWorld(apiArguments: ["--log-level", "trace", "--heartbeat-interval", "1", "--pin-backoff", "0"], keyID: keyID, secretKey: secret)
        let api = world.api!
        var bodies: [String] = []
        func keep(_ reply: SimulatorProcess.Reply) { bodies.append(reply.text + " " + reply.headers.description) }
        keep(try await api.request("POST", "/api/algorithms", json: ["ticker": "AAPL", "algorithm_type": "sma_crossover", "initial_capital": 100, "pin": "2020"]))
        keep(try await api.request("POST", "/api/validate-pin", json: ["pin": "8642"]))
        keep(try await api.request("POST", "/api/validate-pin", headers: ["X-PIN": "2020"]))
        keep(try await api.request("PUT", "/api/pin", json: ["old_pin": "2020", "new_pin": "975318"]))
        keep(try await api.request("DELETE", "/api/algorithms/1", headers: ["X-PIN": "975318"]))
        for path in ["/api/algorithms", "/api/health", "/api/account/cash", "/api/algorithms/1"] { keep(try await api.request("GET", path)) }
        keep(try await api.request("GET", "/api/nope?pin=13579"))
        // Not "wait 1.2 s": wait until the heartbeat (every 1 s, logged at trace) has been written after these
        // requests, so its log lines are among those checked for secrets too.
        let requestsDone = Timestamp.now()
        try await waitFor("a heartbeat after the requests", timeout: 60) {
            (try world.system.heartbeat(service: "api")?.lastHeartbeat).map { $0 > requestsDone } ?? false
        }
        let result = await api.terminate()
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let logs = result.stdout + result.stderr
        #expect(logs.contains("algorithm created"))
        for secretText in [keyID, secret, "8642", "975318", "13579"] {
            #expect(!logs.contains(secretText), "logs hold \(secretText)")
            #expect(!bodies.contains { $0.contains(secretText) }, "an answer holds \(secretText)")
        }
        #expect(!bodies.contains { $0.contains("2020") && !$0.contains("2020-") && !$0.contains("_2020") })
        #expect(!logs.contains("\"2020\""))
        let beat = try #require(try world.system.heartbeat(service: "api"))
        #expect(beat.state == .stopped)
        #expect(beat.pid == api.running.process.processIdentifier)
    }

    @Test func tellsSystemdWhenReadyAliveAndStopping() async throws {
        let directory = TemporaryDirectory("api-notify")
        let socketPath = directory.file("notify.sock")
        let socket = try NotifySocket(name: socketPath)
        let world = try await APIWorld(
            apiArguments: ["--heartbeat-interval", "0.5"], environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "1000000"])
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(60) // a deadline, not a stopwatch
        // Both must come, in whatever order a loaded machine delivers them.
        while Date() < deadline, !messages.contains(where: { $0.contains("WATCHDOG=1") }) || !messages.contains(where: { $0.hasPrefix("READY=1") }) {
            messages += socket.receiveAll()
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(messages.first { $0.hasPrefix("READY=1") }?.contains("STATUS=listening on http://127.0.0.1:\(world.api.port)") == true, "\(messages)")
        #expect(messages.contains("WATCHDOG=1"), "\(messages)")
        let result = await world.api.terminate()
        #expect(result.status == 0)
        messages += socket.receiveAll()
        #expect(messages.contains("STOPPING=1"), "\(messages)")
    }
}
