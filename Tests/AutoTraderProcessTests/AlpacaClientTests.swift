import Foundation
import Logging
import Testing
@testable import AutoTraderCore

/// The real Alpaca client against a running `autotrader-sim` over loopback.
/// The simulator starts on a Tuesday morning at 60× (one market minute per second).
@Suite struct AlpacaClientTests {
    static let start = ["--start", "2024-06-04T14:00:00Z", "--speed", "60", "--seed", "11"]

    /// One execution as /sim/fills lists it.
    struct Fill: Decodable {
        let order_id: String
        let client_order_id: String
        let symbol: String
        let side: String
        let qty: String
        let price: String
    }

    func client(_ sim: SimulatorProcess, secret: String? = nil, timeout: Duration = .seconds(5), attempts: Int = 6) -> AlpacaClient {
        var configuration = AlpacaConfiguration.simulator(baseURL: sim.baseURL, keyID: sim.keyID, secretKey: secret ?? sim.secretKey)
        configuration.requestTimeout = timeout
        var policy = AlpacaClient.RetryPolicy()
        policy.baseDelay = .milliseconds(20)
        policy.maxDelay = .milliseconds(200)
        policy.maxAttempts = attempts
        return AlpacaClient(configuration: configuration, retryPolicy: policy)
    }

    func fills(_ sim: SimulatorProcess) async throws -> [Fill] { try await sim.request("GET", "/sim/fills").decode() }
    func stats(_ sim: SimulatorProcess) async throws -> [String: Int] { try await sim.request("GET", "/sim/stats").decode() }
    func simOrders(_ sim: SimulatorProcess) async throws -> [AlpacaOrder] { try await sim.request("GET", "/sim/orders").decode() }

    func clientOrderID() -> String { "test-" + UUID().uuidString.prefix(18).lowercased() }

    // MARK: - Trading

    @Test func accountAssetsAndClock() async throws {
        let sim = try await SimulatorProcess(Self.start)
        let alpaca = client(sim)
        let account = try await alpaca.account()
        // A new paper account is a margin account: $100,000 of equity buys up to 4× that in a day.
        #expect(account.cash == 100_000 && account.buyingPower == 400_000 && account.canTrade)
        let apple = try #require(try await alpaca.asset(symbol: "AAPL"))
        #expect(apple.isTradableEquity && apple.symbol == "AAPL")
        #expect(try await alpaca.asset(symbol: "NOSUCH") == nil)
        let inactive = try await sim.request("GET", "/v2/assets?status=inactive").decode([AlpacaAsset].self)
        let delisted = try #require(inactive.first)
        #expect(try await alpaca.asset(symbol: delisted.symbol)?.isTradableEquity == false)
        let clock = try await alpaca.clock()
        #expect(clock.isOpen)
        let simNow = Timestamp(clock.timestamp)
        #expect(simNow >= .at("2024-06-04T14:00:00Z") && simNow < .at("2024-06-04T15:00:00Z"))
        #expect(Timestamp(clock.nextClose) == .at("2024-06-04T20:00:00Z"))
    }

    @Test func wrongKeysGetAlpacasTypedError() async throws {
        let sim = try await SimulatorProcess(Self.start)
        do {
            _ = try await client(sim, secret: "wrong").account()
            Issue.record("a wrong secret must be refused")
        } catch let error as AlpacaError {
            #expect(error == .api(status: 401, code: 40_110_000, message: "request is not authorized"))
            #expect(error.isUnauthorized)
            #expect(!error.description.contains("wrong"))
        }
    }

    @Test func aMarketOrderFillsAtTheNextBarsOpenAndEverythingAgrees() async throws {
        let sim = try await SimulatorProcess(Self.start)
        let alpaca = client(sim)
        let id = clientOrderID()
        let submitted = try await alpaca.submitOrder(OrderRequest(symbol: "MSFT", qty: 3, side: .buy, clientOrderId: id))
        #expect(submitted.clientOrderId == id && submitted.qty == 3 && submitted.side == .buy && !submitted.status.isTerminal)
        let filled = try await sim.waitFor {
            try await alpaca.order(id: submitted.id).flatMap { $0.status == .filled ? $0 : nil }
        }
        #expect(filled.filledQty == 3)
        let price = try #require(filled.filledAvgPrice)
        #expect(try await alpaca.order(clientOrderID: id)?.id == submitted.id)
        #expect(try await alpaca.order(clientOrderID: "never-sent") == nil)
        #expect(try await alpaca.order(id: "6f1a3c59-0000-4000-8000-000000000000") == nil)

        // The fill is the open of MSFT's first bar that starts after the order.
        let fill = try #require(try await fills(sim).first { $0.client_order_id == id })
        #expect(Decimal(string: fill.price) == price && fill.qty == "3")
        // Ground truth lists a bar once its minute has ended; the fill happened at its start.
        let next = try await sim.waitFor {
            try await sim.request("GET", "/sim/bars?symbols=MSFT&start=\(Timestamp(submitted.createdAt).minuteStart.text)")
                .decode(AlpacaMultiBarsPage.self)
                .bars["MSFT"]?.first { Double($0.t.secondsSinceEpoch) > submitted.createdAt.timeIntervalSince1970 }
        }
        #expect(Money.rounded(Decimal(next.o), scale: 2) == price)
        #expect(filled.filledAt.map { Timestamp($0) } == next.t)

        let positions = try await alpaca.positions()
        #expect(positions.map(\.symbol) == ["MSFT"] && positions[0].qty == 3 && positions[0].avgEntryPrice == price)
        #expect(try await alpaca.account().cash == 100_000 - 3 * price)
        let all = try await alpaca.orders(status: .all)
        #expect(all.map(\.id).contains(submitted.id))
        #expect(try await alpaca.orders(status: .open).isEmpty)
        #expect(try await alpaca.orders(status: .closed, symbols: ["MSFT"]).map(\.id) == [submitted.id])
    }

    @Test func submittingTheSameClientOrderIDTwiceMakesOneOrder() async throws {
        let sim = try await SimulatorProcess(Self.start)
        let alpaca = client(sim)
        let request = OrderRequest(symbol: "AAPL", qty: 2, side: .buy, clientOrderId: clientOrderID())
        let first = try await alpaca.submitOrder(request)
        let second = try await alpaca.submitOrder(request)
        #expect(first.id == second.id)
        #expect(try await simOrders(sim).filter { $0.clientOrderId == request.clientOrderId }.count == 1)
        // The same id for a different order is refused, not silently mapped onto the first one.
        do {
            _ = try await alpaca.submitOrder(OrderRequest(symbol: "AAPL", qty: 5, side: .buy, clientOrderId: request.clientOrderId))
            Issue.record("a different order with a used client_order_id must be refused")
        } catch let error as AlpacaError {
            #expect(error.isDuplicateClientOrderID)
        }
    }

    @Test func refusalsCarryAlpacasCodeAndMessage() async throws {
        // A cash account: selling what it does not hold is refused (a margin account would open a short).
        let sim = try await SimulatorProcess(Self.start + ["--account", "cash"])
        let alpaca = client(sim)
        await #expect(throws: AlpacaError.self) {
            try await alpaca.submitOrder(OrderRequest(symbol: "NVDA", qty: 1_000_000, side: .buy, clientOrderId: clientOrderID()))
        }
        do {
            _ = try await alpaca.submitOrder(OrderRequest(symbol: "NVDA", qty: 1_000_000, side: .buy, clientOrderId: clientOrderID()))
        } catch let error as AlpacaError {
            #expect(error.status == 403 && error.message.contains("insufficient buying power"))
            if case .api(_, let code, _) = error { #expect(code == 40_310_000) }
        }
        do {
            _ = try await alpaca.submitOrder(OrderRequest(symbol: "NVDA", qty: 1, side: .sell, clientOrderId: clientOrderID()))
            Issue.record("selling what the account does not hold must be refused")
        } catch let error as AlpacaError {
            #expect(error.status == 403 && error.message.contains("not allowed to short"))
        }
        do {
            _ = try await alpaca.submitOrder(OrderRequest(symbol: "NOSUCH", qty: 1, side: .buy, clientOrderId: clientOrderID()))
            Issue.record("an unknown symbol must be refused")
        } catch let error as AlpacaError {
            #expect(error.status == 422)
        }
        #expect(try await stats(sim)["orders_accepted", default: 0] == 0)
    }

    @Test func anOrderSentWhileClosedWaitsAndCanBeCanceled() async throws {
        let sim = try await SimulatorProcess(["--start", "2024-06-08T15:00:00Z", "--speed", "1"]) // a Saturday
        let alpaca = client(sim)
        let order = try await alpaca.submitOrder(OrderRequest(symbol: "AAPL", qty: 1, side: .buy, clientOrderId: clientOrderID()))
        #expect(order.status == .accepted)
        #expect(try await alpaca.orders(status: .open).map(\.id) == [order.id])
        try await alpaca.cancelOrder(id: order.id)
        let canceled = try #require(try await alpaca.order(id: order.id))
        #expect(canceled.status == .canceled && canceled.filledQty == 0)
        try await alpaca.cancelOrder(id: order.id) // no longer cancelable: not an error
        #expect(try await fills(sim).isEmpty)
        #expect(try await alpaca.clock().isOpen == false)
    }

    // MARK: - Market data

    @Test func historicalBarsPageThroughToExactlyTheFeedsBars() async throws {
        let sim = try await SimulatorProcess(Self.start + ["--synthetic-symbols", "3"])
        var configuration = AlpacaConfiguration.simulator(baseURL: sim.baseURL)
        configuration.requestTimeout = .seconds(10)
        let alpaca = AlpacaClient(configuration: configuration)
        let symbols = ["AAPL", "MSFT", "BRK.B"]
        let from = Timestamp.at("2024-05-31T13:30:00Z"), to = Timestamp.at("2024-06-04T14:00:00Z")
        let pages = PageCounter()
        try await alpaca.minuteBars(symbols: symbols, from: from, to: to, pageLimit: 500) { page in await pages.add(page) }
        let truth = try await sim.request("GET", "/sim/bars?symbols=\(symbols.joined(separator: ","))&start=\(from.text)&end=\(to.adding(seconds: -1).text)")
            .decode(AlpacaMultiBarsPage.self)
        let received = await pages.bars
        #expect(await pages.count > 3) // it really paged
        for symbol in symbols {
            let expected = try #require(truth.bars[symbol])
            #expect(received[symbol] == expected, "\(symbol)")
            #expect(expected.allSatisfy { $0.t >= from && $0.t < to })
        }
        // Every received minute is a market minute; a regular ticker has a bar in every one of them.
        let calendar = try MarketCalendar()
        let minutes = calendar.marketMinutes(in: from..<to)
        #expect(received["AAPL"]?.map(\.t) == minutes)
        let gathered = try await alpaca.minuteBars(symbols: ["AAPL"], from: from, to: from.adding(minutes: 10))
        #expect(gathered["AAPL"]?.count == 10)
        // The simulator's clock runs fast: bracket the latest-bars call between two clock readings.
        let before = Timestamp(try await alpaca.clock().timestamp)
        let latest = try await alpaca.latestBars(symbols: ["AAPL", "MSFT"])
        let after = Timestamp(try await alpaca.clock().timestamp)
        #expect(Set(latest.keys) == ["AAPL", "MSFT"])
        #expect(latest["AAPL"]!.t < after && latest["AAPL"]!.t >= before.adding(minutes: -2), "\(latest["AAPL"]!.t) not in [\(before) − 2 min, \(after))")
        #expect(try await alpaca.latestBar(symbol: "AAPL") != nil)
    }

    // MARK: - Faults

    @Test func serverErrorsAreRetriedAndNoOrderIsEverDoubled() async throws {
        let sim = try await SimulatorProcess(Self.start + ["--error-rate", "0.35", "--fill-price", "last-close"])
        let alpaca = client(sim, attempts: 12)
        var submitted: [String: AlpacaOrder] = [:]
        for _ in 0..<12 {
            let request = OrderRequest(symbol: "AAPL", qty: 1, side: .buy, clientOrderId: clientOrderID())
            submitted[request.clientOrderId] = try await alpaca.submitOrder(request)
            _ = try await alpaca.account()
        }
        let counters = try await stats(sim)
        #expect(counters["injected_errors", default: 0] > 0)
        #expect(counters["injected_errors_after_accept", default: 0] > 0, "some 500s should hit after the order was taken")
        let orders = try await simOrders(sim)
        #expect(orders.count == submitted.count) // exactly one order per client_order_id
        #expect(Set(orders.map(\.clientOrderId)) == Set(submitted.keys))
        for order in orders { #expect(submitted[order.clientOrderId]?.id == order.id) }
    }

    @Test func rateLimitsAreWaitedOutAsTheHeadersSay() async throws {
        let sim = try await SimulatorProcess(Self.start + ["--rate-limit-burst", "3:4"])
        let alpaca = client(sim)
        let started = ContinuousClock.now
        for _ in 0..<8 { _ = try await alpaca.clock() }
        let elapsed = ContinuousClock.now - started
        #expect(try await stats(sim)["rate_limited", default: 0] >= 3)
        #expect(elapsed >= .milliseconds(500), "it should have waited for the reset")
    }

    @Test func noAnswerInTimeIsATransportErrorAfterBoundedRetries() async throws {
        let sim = try await SimulatorProcess(Self.start + ["--latency-ms", "3000"])
        let alpaca = client(sim, timeout: .milliseconds(200), attempts: 3)
        let before = try await stats(sim)["rest_requests", default: 0]
        do {
            _ = try await alpaca.account()
            Issue.record("a request slower than its deadline must fail")
        } catch let error as AlpacaError {
            guard case .transport = error else { Issue.record("expected a transport error, got \(error)"); return }
        }
        // Counted, not timed: the simulator saw exactly the three bounded attempts, not an endless retry.
        #expect(try await stats(sim)["rest_requests", default: 0] - before == 3, "three bounded attempts")
        let patient = client(sim, timeout: .seconds(8))
        #expect(try await patient.account().cash == 100_000)
    }

    @Test func rejectedOrdersFillNothing() async throws {
        let sim = try await SimulatorProcess(Self.start + ["--reject-rate", "1"])
        let alpaca = client(sim)
        let order = try await alpaca.submitOrder(OrderRequest(symbol: "AMD", qty: 4, side: .buy, clientOrderId: clientOrderID()))
        let final = try await sim.waitFor { try await alpaca.order(id: order.id).flatMap { $0.status.isTerminal ? $0 : nil } }
        #expect(final.status == .rejected && final.filledQty == 0)
        #expect(try await fills(sim).isEmpty)
        #expect(try await alpaca.positions().isEmpty)
    }

    @Test func aPartialFillKeepsWhatFilledWhenTheRestIsCanceled() async throws {
        let sim = try await SimulatorProcess(Self.start + ["--partial-fill-rate", "1"])
        let alpaca = client(sim)
        let order = try await alpaca.submitOrder(OrderRequest(symbol: "AMD", qty: 10, side: .buy, clientOrderId: clientOrderID()))
        let partial = try await sim.waitFor { try await alpaca.order(id: order.id).flatMap { $0.status == .partiallyFilled ? $0 : nil } }
        #expect(partial.filledQty > 0 && partial.filledQty < 10)
        try await alpaca.cancelOrder(id: order.id)
        let final = try #require(try await alpaca.order(id: order.id))
        #expect(final.status == .canceled && final.filledQty == partial.filledQty)
        let filled = try await fills(sim).filter { $0.order_id == order.id }.reduce(Decimal(0)) { $0 + Decimal(string: $1.qty)! }
        #expect(filled == partial.filledQty)
        #expect(try await alpaca.positions().first?.qty == partial.filledQty)
    }
}

/// Counts the pages a paginated call handed over and gathers their bars.
actor PageCounter {
    var count = 0
    var bars: [String: [AlpacaBar]] = [:]
    func add(_ page: [String: [AlpacaBar]]) {
        count += 1
        for (symbol, list) in page { bars[symbol, default: []] += list }
    }
}
