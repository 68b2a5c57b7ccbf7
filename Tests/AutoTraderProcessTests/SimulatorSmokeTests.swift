import Foundation
import Testing
@testable import AutoTraderCore

/// `autotrader-sim` as a process, over plain HTTP: keys, account, assets, clock, history, an order's fill.
@Suite struct SimulatorSmokeTests {
    /// A Tuesday session (2024-06-04 09:30 New York), one simulated minute per real second.
    static let start = "2024-06-04T13:30:00Z"
    static let arguments = ["--start", start, "--speed", "60"]

    @Test func refusesRequestsWithoutTheKeyPair() async throws {
        let simulator = try await SimulatorProcess(Self.arguments)
        let anonymous = try await simulator.request("GET", "/v2/account", authorized: false)
        #expect(anonymous.status == 401)
        #expect(anonymous.text == #"{"code":40110000,"message":"request is not authorized"}"#)
        let wrongSecret = try await simulator.request(
            "GET", "/v2/account", authorized: false,
            headers: ["APCA-API-KEY-ID": simulator.keyID, "APCA-API-SECRET-KEY": "not-the-secret"])
        #expect(wrongSecret.status == 401)
        let data = try await simulator.request("GET", "/v2/stocks/AAPL/bars/latest", authorized: false)
        #expect(data.status == 401)
        // The inspection endpoints need no key.
        #expect(try await simulator.request("GET", "/sim/stats", authorized: false).status == 200)
    }

    @Test func acceptsAKeyPairGivenOnTheCommandLine() async throws {
        let simulator = try await SimulatorProcess(Self.arguments, keyID: "TEST-KEY", secretKey: "test-secret")
        #expect(try await simulator.request("GET", "/v2/account").status == 200)
        let defaults = try await simulator.request(
            "GET", "/v2/account", authorized: false,
            headers: ["APCA-API-KEY-ID": SimulatorDefaults.keyID, "APCA-API-SECRET-KEY": SimulatorDefaults.secretKey])
        #expect(defaults.status == 401)
    }

    @Test func accountHasAlpacasShapeAndRateLimitHeaders() async throws {
        let simulator = try await SimulatorProcess(Self.arguments + ["--cash", "25000"])
        let reply = try await simulator.request("GET", "/v2/account")
        #expect(reply.status == 200)
        let account: AlpacaAccount = try reply.decode()
        #expect(account.status == "ACTIVE" && account.canTrade)
        // Margin, like a new paper account: $25,000 of equity is the pattern-day-trader line, multiplier 4.
        #expect(account.cash == 25_000 && account.buyingPower == 100_000 && account.equity == 25_000)
        #expect(account.currency == "USD")
        let object = try reply.object()
        #expect(object["cash"] as? String == "25000", "money is written as strings")
        #expect(object["multiplier"] as? String == "4" && object["shorting_enabled"] as? Bool == true)
        #expect(object["regt_buying_power"] as? String == "50000" && object["daytrading_buying_power"] as? String == "100000")
        // Below $25,000 the multiplier is 2; a cash account is 1 and may not short.
        let small = try await SimulatorProcess(Self.arguments + ["--cash", "24999"])
        let smallAccount = try await small.request("GET", "/v2/account").object()
        #expect(smallAccount["multiplier"] as? String == "2" && smallAccount["buying_power"] as? String == "49998")
        let cashOnly = try await SimulatorProcess(Self.arguments + ["--cash", "25000", "--account", "cash"])
        let cashAccount = try await cashOnly.request("GET", "/v2/account").object()
        #expect(cashAccount["multiplier"] as? String == "1" && cashAccount["buying_power"] as? String == "25000")
        #expect(cashAccount["shorting_enabled"] as? Bool == false)
        #expect(Int(reply.header("X-Ratelimit-Limit") ?? "") == 200)
        #expect(Int(reply.header("X-Ratelimit-Remaining") ?? "") != nil)
        let reset = Int(reply.header("X-Ratelimit-Reset") ?? "") ?? 0
        #expect(abs(Double(reset) - Date().timeIntervalSince1970) <= 61, "epoch seconds of the window's end")
    }

    @Test func findsListedAssetsAndAnswers404ForUnknownOnes() async throws {
        let simulator = try await SimulatorProcess(Self.arguments)
        let apple: AlpacaAsset = try await simulator.request("GET", "/v2/assets/AAPL").decode()
        #expect(apple.symbol == "AAPL" && apple.isTradableEquity && apple.exchange == "NASDAQ")
        let unknown = try await simulator.request("GET", "/v2/assets/NOSUCH")
        #expect(unknown.status == 404)
        #expect(try unknown.decode(AlpacaErrorBody.self) == AlpacaErrorBody(code: 40410000, message: "asset not found"))
        let delisted: AlpacaAsset = try await simulator.request("GET", "/v2/assets/TWTR").decode()
        #expect(!delisted.isTradableEquity && delisted.status == "inactive" && !delisted.tradable)
    }

    @Test func clockStartsAtStartAndRunsAtSpeed() async throws {
        let simulator = try await SimulatorProcess(Self.arguments)
        let started = Date()
        let first = try await simulator.clock()
        let firstAnswered = Date()
        let startInstant = RFC3339.parse(Self.start)!
        #expect(first.isOpen)
        #expect(first.timestamp >= startInstant)
        #expect(first.nextClose == RFC3339.parse("2024-06-04T20:00:00Z")!)
        #expect(first.nextOpen == RFC3339.parse("2024-06-05T13:30:00Z")!)
        // The sleep is the experiment: real time passes, and the simulated time between the two reads is compared
        // with the real time measured around them (both bounds scale with what really passed, however loaded).
        try await Task.sleep(for: .seconds(1.5))
        let secondAsked = Date()
        let second = try await simulator.clock()
        let real = Date().timeIntervalSince(started), inside = secondAsked.timeIntervalSince(firstAnswered)
        let simulated = second.timestamp.timeIntervalSince(first.timestamp)
        #expect(simulated >= inside * 60 - 5 && simulated <= real * 60 + 5,
                "60 simulated seconds per real second (\(simulated) s in between \(inside) and \(real) s)")
        // Written as Alpaca writes its clock: New York's offset.
        let text = try await simulator.request("GET", "/v2/clock").text
        #expect(text.contains("-04:00"))
    }

    @Test func historyIsDeterministicPerSeedAndNeverAheadOfTheClock() async throws {
        let one = try await SimulatorProcess(Self.arguments + ["--seed", "42"])
        let same = try await SimulatorProcess(Self.arguments + ["--seed", "42"])
        let other = try await SimulatorProcess(Self.arguments + ["--seed", "43"])
        let yesterday = "/v2/stocks/AAPL/bars?timeframe=1Min&start=2024-06-03T13:30:00Z&end=2024-06-03T19:59:00Z&limit=10000"
        let a: AlpacaBarsPage = try await one.request("GET", yesterday).decode()
        let b: AlpacaBarsPage = try await same.request("GET", yesterday).decode()
        let c: AlpacaBarsPage = try await other.request("GET", yesterday).decode()
        #expect(a.bars.count == 390, "a liquid ticker has a bar every regular-hours minute")
        #expect(a.bars == b.bars)
        #expect(a.bars != c.bars)
        for bar in a.bars {
            #expect(bar.h >= max(bar.o, bar.c) && bar.l <= min(bar.o, bar.c) && bar.v > 0)
            if let vwap = bar.vw { #expect(vwap >= bar.l && vwap <= bar.h) }
        }

        // Today's bars (start defaults to today's New York midnight, end to now) stop at the last minute that ended.
        let today: AlpacaBarsPage = try await one.waitFor {
            let page: AlpacaBarsPage = try await one.request("GET", "/v2/stocks/AAPL/bars?timeframe=1Min").decode()
            return page.bars.count >= 2 ? page : nil
        }
        let clock = try await one.clock()
        let last = try #require(today.bars.last)
        #expect(last.t.date.addingTimeInterval(60) <= clock.timestamp)
        #expect(today.bars.first?.t == Timestamp.at(Self.start))

        // Pages: the same bars, whatever the page size.
        var paged: [AlpacaBar] = []
        var token: String?
        repeat {
            let page: AlpacaBarsPage = try await one.request(
                "GET", yesterday.replacingOccurrences(of: "limit=10000", with: "limit=100") + (token.map { "&page_token=\($0)" } ?? "")
            ).decode()
            paged += page.bars
            token = page.nextPageToken
        } while token != nil
        #expect(paged == a.bars)

        let thin: AlpacaBarsPage = try await one.request(
            "GET", "/v2/stocks/GEVO/bars?timeframe=1Min&start=2024-06-03T13:30:00Z&end=2024-06-03T19:59:00Z&limit=10000").decode()
        #expect(thin.bars.count > 100 && thin.bars.count < 300, "a thin ticker misses minutes (\(thin.bars.count) of 390)")
        let bad = try await one.request("GET", "/v2/stocks/AAPL/bars?timeframe=60Min") // Alpaca: 1–59 minutes
        #expect(bad.status == 422)
    }

    @Test func marketOrderFillsAtTheNextBarsOpenAndIsListedAsAFill() async throws {
        let simulator = try await SimulatorProcess(Self.arguments)
        let submitted = try await simulator.request("POST", "/v2/orders", json: [
            "symbol": "AAPL", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day",
            "client_order_id": "smoke-1",
        ])
        #expect(submitted.status == 200, "\(submitted.text)")
        let order: AlpacaOrder = try submitted.decode()
        #expect(order.status == .accepted && order.clientOrderId == "smoke-1" && order.qty == 3 && order.filledQty == 0)

        let duplicate = try await simulator.request("POST", "/v2/orders", json: [
            "symbol": "AAPL", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day",
            "client_order_id": "smoke-1",
        ])
        #expect(duplicate.status == 422)
        #expect(try duplicate.decode(AlpacaErrorBody.self).message == "client_order_id must be unique")

        let filled: AlpacaOrder = try await simulator.waitFor {
            let current: AlpacaOrder = try await simulator.request("GET", "/v2/orders/\(order.id)").decode()
            return current.status == .filled ? current : nil
        }
        let filledAt = try #require(filled.filledAt)
        let price = try #require(filled.filledAvgPrice)
        #expect(filled.filledQty == 3)
        // The fill is the open of the first bar that starts at or after the submission.
        let submittedAt = try #require(order.submittedAt)
        #expect(filledAt >= submittedAt && filledAt.timeIntervalSince(submittedAt) <= 60)
        let minute = Timestamp(filledAt)
        // The ground truth lists a bar once its minute has ended.
        let bar = try await simulator.waitFor {
            try await simulator.request(
                "GET", "/sim/bars?symbols=AAPL&start=\(minute.text)&end=\(minute.text)", authorized: false
            ).decode(AlpacaMultiBarsPage.self).bars["AAPL"]?.first
        }
        #expect(bar.t == minute)
        #expect(price == Decimal(string: String(format: "%.2f", bar.o)))

        let byClientID: AlpacaOrder = try await simulator.request(
            "GET", "/v2/orders:by_client_order_id?client_order_id=smoke-1").decode()
        #expect(byClientID.id == order.id)

        let fills = try await simulator.request("GET", "/sim/fills", authorized: false)
        let list = try #require(try JSONSerialization.jsonObject(with: fills.body) as? [[String: Any]])
        #expect(list.count == 1)
        #expect(list.first?["client_order_id"] as? String == "smoke-1")
        #expect(list.first?["qty"] as? String == "3")
        #expect(list.first?["price"] as? String == price.plainString)

        let account: AlpacaAccount = try await simulator.request("GET", "/v2/account").decode()
        #expect(account.cash == 100_000 - 3 * price)
        let position: AlpacaPosition = try await simulator.request("GET", "/v2/positions/AAPL").decode()
        #expect(position.qty == 3 && position.avgEntryPrice == price)

        let cancel = try await simulator.request("DELETE", "/v2/orders/\(order.id)")
        #expect(cancel.status == 422, "a filled order is not cancelable")
        let result = await simulator.terminate()
        #expect(result.status == 0, "SIGTERM ends it cleanly: \(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 1, "stdout has exactly the listening line")
    }
}
