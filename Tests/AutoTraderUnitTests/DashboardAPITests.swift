import Foundation
import Testing
@testable import AutoTraderAPI
@testable import AutoTraderCore

/// What the dashboard reads besides the cards (issue 18): the broker's clock, today's P&L and the
/// summary, stale cards, trading halted or not, equity on the broker's clock, a session's bars. Through
/// the api's own application in process against the in-process simulator (simulated mode, so the
/// broker's clock is the simulator's: 2024 while the wall clock is not). Each ticker here is used by this
/// suite alone (the unit tests share one stocks.db).
@Suite struct DashboardAPITests {
    /// A bar whose prices are all `close` (exact cents), `minutes` after `start`.
    static func bar(_ ticker: String, _ time: String, close: String, volume: Int64 = 100) -> MinuteBar {
        let price = Double(close)!
        return MinuteBar(ticker: ticker, timestamp: Timestamp.at(time), open: price, high: price, low: price, close: price, volume: volume)
    }

    /// Minute bars of `ticker` from `from` (inclusive) for `count` minutes, closes from `closes` in turn.
    static func bars(_ ticker: String, from: String, count: Int, closes: [String]) -> [MinuteBar] {
        (0..<count).map { index in
            let time = Timestamp.at(from).adding(minutes: index)
            let close = closes[index % closes.count]
            let price = Double(close)!
            return MinuteBar(
                ticker: ticker, timestamp: time, open: price, high: price + 0.25, low: price - 0.25, close: price,
                volume: Int64(100 + index))
        }
    }

    /// The exact value of a card at `instant` from its transactions and the ticker's bars, computed here
    /// without the api's code: capital − Σ signed shares×price + shares × the last close at or before it.
    static func value(capital: Decimal, trades: [Trade], bars: [MinuteBar], at instant: Timestamp) -> Decimal {
        var shares = 0
        var invested = Decimal(0)
        var lastPrice: Decimal?
        for trade in trades.sorted(by: { $0.timestamp < $1.timestamp }) where trade.timestamp <= instant {
            let sign: Decimal = trade.side == .sell ? -1 : 1
            shares += trade.side == .sell ? -trade.shares : trade.shares
            invested += sign * Decimal(trade.shares) * trade.price
            lastPrice = trade.price
        }
        let close = bars.filter { $0.timestamp <= instant }.max { $0.timestamp < $1.timestamp }
            .map { Decimal(string: String(format: "%.2f", $0.close))! } ?? lastPrice ?? 0
        return capital - invested + Decimal(shares) * close
    }

    static func cents(_ value: Decimal) -> String { Money.centsText(value) }

    @Test func theListGivesTheBrokersClockTodaysPnLTheSummaryAndStaleCards() async throws {
        // The simulator starts at Tuesday 2024-06-04 14:00Z (10:00 New York): the previous close was Monday 20:00Z.
        try await InProcessAPI.run { api in
            let stocks = SharedStocks.database
            // DSHA: held since Monday; bars up to 13:59 today. DSHB: created today (first decision 13:31); its
            // decisions stopped at 13:40. DSHC: its bars stopped at 13:50.
            var monday = Self.bars("DSHA", from: "2024-06-03T19:50:00Z", count: 10, closes: ["100.10", "101.50"])
            monday += Self.bars("DSHA", from: "2024-06-04T13:30:00Z", count: 30, closes: ["102.00", "103.25"])
            try stocks.insert(monday)
            let b = Self.bars("DSHB", from: "2024-06-04T13:30:00Z", count: 30, closes: ["50.00", "50.75"])
            try stocks.insert(b)
            let c = Self.bars("DSHC", from: "2024-06-04T13:30:00Z", count: 21, closes: ["20.00", "21.37"])
            try stocks.insert(c)

            let system = api.system
            let a = try system.createAlgorithm(ticker: "DSHA", algorithmType: "sma_crossover", initialCapital: 5000)
            let bCard = try system.createAlgorithm(ticker: "DSHB", algorithmType: "sma_crossover", initialCapital: Decimal(string: "1000.50")!)
            let cCard = try system.createAlgorithm(ticker: "DSHC", algorithmType: "sma_crossover", initialCapital: 800)
            try system.logDecision(algorithmId: a.id, minute: Timestamp.at("2024-06-03T19:00:00Z"), decision: .hold, shares: nil, reason: "t")
            try system.logDecision(algorithmId: a.id, minute: Timestamp.at("2024-06-04T13:59:00Z"), decision: .hold, shares: nil, reason: "t")
            try system.logDecision(algorithmId: bCard.id, minute: Timestamp.at("2024-06-04T13:31:00Z"), decision: .buy, shares: 3, reason: "t")
            try system.logDecision(algorithmId: bCard.id, minute: Timestamp.at("2024-06-04T13:40:00Z"), decision: .hold, shares: nil, reason: "t")
            try system.logDecision(algorithmId: cCard.id, minute: Timestamp.at("2024-06-04T13:59:00Z"), decision: .skip, shares: nil, reason: "t")
            _ = try system.recordTrade(algorithmId: a.id, side: .buy, shares: 10, price: Decimal(string: "100.10")!, at: Timestamp.at("2024-06-03T19:52:00Z"))
            _ = try system.recordTrade(algorithmId: a.id, side: .buy, shares: 5, price: Decimal(string: "102.00")!, at: Timestamp.at("2024-06-04T13:35:00Z"))
            _ = try system.recordTrade(algorithmId: a.id, side: .sell, shares: 2, price: Decimal(string: "103.25")!, at: Timestamp.at("2024-06-04T13:45:00Z"))
            _ = try system.recordTrade(algorithmId: bCard.id, side: .buy, shares: 3, price: Decimal(string: "50.00")!, at: Timestamp.at("2024-06-04T13:33:00Z"))

            let (status, body) = try await api.json("GET", "/api/algorithms")
            #expect(status == 200)
            // The broker's clock: the simulator's (2024), not the wall clock's.
            let brokerTime = try #require(body["broker_time"]?.string.flatMap { Timestamp($0) })
            #expect(brokerTime >= Timestamp.at("2024-06-04T14:00:00Z") && brokerTime < Timestamp.at("2024-06-04T14:30:00Z"), "\(brokerTime)")
            #expect(body["market_open"]?.bool == true)
            let cards = try #require(body["algorithms"]?.array)
            #expect(cards.count == 3)
            func card(_ id: Int64) throws -> JSONAny { try #require(cards.first { $0["id"]?.number == Double(id) }) }

            // Today's P&L, computed here from the transactions and the bars.
            let now = Timestamp.at("2024-06-04T14:00:00Z")
            let previousClose = Timestamp.at("2024-06-03T19:59:59Z")
            let aTrades = try system.trades(algorithmId: a.id), bTrades = try system.trades(algorithmId: bCard.id)
            let aNow = Self.value(capital: 5000, trades: aTrades, bars: monday, at: now)
            let aThen = Self.value(capital: 5000, trades: aTrades, bars: monday, at: previousClose)
            #expect(aThen == 5000 - Decimal(string: "1001.00")! + 10 * Decimal(string: "101.50")!) // the arithmetic itself, once
            let bNow = Self.value(capital: Decimal(string: "1000.50")!, trades: bTrades, bars: b, at: now)
            let cNow = Decimal(800)
            #expect(try card(a.id)["pnl_today"]?.number == Double(Self.cents(aNow - aThen)))
            #expect(try card(a.id)["pnl"]?.number == Double(Self.cents(aNow - 5000)))
            #expect(aNow - aThen != aNow - 5000) // today's P&L is not the total
            // Began today: measured from its allocation.
            #expect(try card(bCard.id)["pnl_today"]?.number == Double(Self.cents(bNow - Decimal(string: "1000.50")!)))
            #expect(try card(cCard.id)["pnl_today"]?.number == 0)

            // The summary: exact sums as decimal strings, cents once.
            let summary = try #require(body["summary"])
            #expect(summary["pnl_today"]?.string == Self.cents((aNow - aThen) + (bNow - Decimal(string: "1000.50")!)))
            #expect(summary["pnl"]?.string == Self.cents((aNow - 5000) + (bNow - Decimal(string: "1000.50")!)))
            #expect(summary["value"]?.string == Self.cents(aNow + bNow + cNow))
            #expect(summary["allocation"]?.string == "6800.50")
            let up = [aNow - 5000, bNow - Decimal(string: "1000.50")!].filter { Money.rounded($0) > 0 }.count
            let down = [aNow - 5000, bNow - Decimal(string: "1000.50")!].filter { Money.rounded($0) < 0 }.count
            #expect(summary["up"]?.number == Double(up) && summary["down"]?.number == Double(down))
            #expect(summary["flat"]?.number == Double(3 - up - down))
            #expect(up + down == 2)

            // Stale: B's decisions stopped after 13:40, C's bars after 13:50; A is current.
            #expect(try card(a.id)["stale_since"]?.isNull == true)
            #expect(try card(bCard.id)["stale_since"]?.string == "2024-06-04T13:41:00Z")
            #expect(try card(cCard.id)["stale_since"]?.string == "2024-06-04T13:51:00Z")

            // A new trade changes the answer at once (the cache follows system.db).
            _ = try system.recordTrade(algorithmId: cCard.id, side: .buy, shares: 10, price: Decimal(string: "18.63")!, at: Timestamp.at("2024-06-04T13:45:00Z"))
            let after = try await api.json("GET", "/api/algorithms").1
            let cAfter = try #require(after["algorithms"]?.array?.first { $0["id"]?.number == Double(cCard.id) })
            let cToday = Self.value(capital: 800, trades: try system.trades(algorithmId: cCard.id), bars: c, at: now) - 800
            #expect(cToday == Decimal(string: "13.70")!) // 10 × 20.00 (its 13:50 close) − 186.30
            #expect(cAfter["pnl_today"]?.number == Double(Self.cents(cToday)))
        }
    }

    @Test func healthSaysTradingIsHaltedInPlainWordsOnlyWhenTheMarketIsOpen() async throws {
        // Open (10:00 New York), no executor ever ran, no card: halted for the missing service, but no data alarm.
        try await InProcessAPI.run { api in
            let (status, body) = try await api.json("GET", "/api/health")
            #expect(status == 200)
            #expect(body["data_stale"]?.bool == false)
            #expect(body["next_close"]?.string == "2024-06-04T20:00:00Z")
            #expect(body["next_open"]?.string == "2024-06-05T13:30:00Z")
            let brokerTime = try #require(body["broker_time"]?.string.flatMap { Timestamp($0) })
            #expect(brokerTime >= Timestamp.at("2024-06-04T14:00:00Z") && brokerTime < Timestamp.at("2024-06-04T14:30:00Z"))
            let trading = try #require(body["trading"])
            #expect(trading["state"]?.string == "halted")
            #expect(trading["reasons"]?.array?.compactMap(\.string) == ["the trading service is not running (it has never started here)"])
            #expect(trading["since"]?.string == "2024-06-04T13:30:00Z")

            // A running card whose ticker's bars stopped at 13:49: data is stale, said with the time in New York.
            try SharedStocks.database.insert(Self.bars("DSHD", from: "2024-06-04T13:30:00Z", count: 20, closes: ["10.00"]))
            _ = try api.system.createAlgorithm(ticker: "DSHD", algorithmType: "sma_crossover", initialCapital: 100)
            try await HeartbeatWriter(system: api.system, service: "executor").beat(state: .running, detail: ["heartbeat_interval": 60])
            let stale = try await api.json("GET", "/api/health").1
            #expect(stale["data_stale"]?.bool == true)
            #expect(stale["trading"]?["state"]?.string == "halted")
            #expect(stale["trading"]?["reasons"]?.array?.compactMap(\.string) == ["no market data for DSHD since 09:50 ET"])
            #expect(stale["trading"]?["since"]?.string == "2024-06-04T13:50:00Z")

            // The executor stopped: said with its last sign of life on the broker's clock (not the wall clock's).
            try await HeartbeatWriter(system: api.system, service: "executor").beat(state: .stopped, detail: ["heartbeat_interval": 60])
            let stopped = try await api.json("GET", "/api/health").1
            let reasons = stopped["trading"]?["reasons"]?.array?.compactMap(\.string) ?? []
            #expect(reasons.count == 2)
            let first = reasons.first ?? ""
            // Its last beat on the broker's clock, about the simulator's start (10:00 New York): the api maps the beat's
            // wall-clock time through its broker-clock estimate, which can put it a few seconds before 10:00.
            let sinceTime = first.range(of: #"since (09:59|10:0\d) ET\)$"#, options: .regularExpression)
            #expect(first.hasPrefix("the trading service has stopped (no sign of life since ") && sinceTime != nil, "\(first)")
            #expect(stopped["trading"]?["since"]?.string == "2024-06-04T13:50:00Z")

            // A running card whose ticker has no bar at all: stale from the open.
            try await HeartbeatWriter(system: api.system, service: "executor").beat(state: .running, detail: ["heartbeat_interval": 60])
            _ = try api.system.createAlgorithm(ticker: "DSHG", algorithmType: "sma_crossover", initialCapital: 100)
            let none = try await api.json("GET", "/api/health").1
            #expect(none["trading"]?["reasons"]?.array?.compactMap(\.string) == ["no market data for DSHD since 09:50 ET", "no market data for DSHG yet"])
            #expect(none["trading"]?["since"]?.string == "2024-06-04T13:30:00Z")
        }
        // A minute after the open, with the executor beating: yesterday's last bar is the newest, and a ticker has
        // none at all; neither is late yet.
        try await InProcessAPI.run(start: Timestamp.at("2024-06-04T13:31:00Z")) { api in
            try SharedStocks.database.insert(Self.bars("DSHH", from: "2024-06-03T19:50:00Z", count: 10, closes: ["10.00"]))
            _ = try api.system.createAlgorithm(ticker: "DSHH", algorithmType: "sma_crossover", initialCapital: 100)
            _ = try api.system.createAlgorithm(ticker: "DSHI", algorithmType: "sma_crossover", initialCapital: 100)
            try await HeartbeatWriter(system: api.system, service: "executor").beat(state: .running, detail: ["heartbeat_interval": 60])
            let body = try await api.json("GET", "/api/health").1
            #expect(body["trading"]?["state"]?.string == "ok", "\(body["trading"] ?? .null)")
            #expect(body["data_stale"]?.bool == false)
        }
        // Closed (17:00 New York): nothing halts, whatever runs or doesn't.
        try await InProcessAPI.run(start: Timestamp.at("2024-06-04T21:00:00Z")) { api in
            _ = try api.system.createAlgorithm(ticker: "DSHD", algorithmType: "sma_crossover", initialCapital: 100)
            let body = try await api.json("GET", "/api/health").1
            #expect(body["trading"]?["state"]?.string == "closed")
            #expect(body["trading"]?["reasons"]?.array?.isEmpty == true)
            #expect(body["trading"]?["since"]?.isNull == true)
            #expect(body["data_stale"]?.bool == false)
            #expect(body["next_open"]?.string == "2024-06-05T13:30:00Z")
        }
    }

    @Test func equityPointsFollowTheBrokersClockAndMove() async throws {
        try await InProcessAPI.run { api in
            try SharedStocks.database.insert(Self.bars("DSHE", from: "2024-06-04T13:30:00Z", count: 30, closes: ["40.00", "44.00", "38.00"]))
            let card = try api.system.createAlgorithm(ticker: "DSHE", algorithmType: "sma_crossover", initialCapital: 1000)
            try api.system.logDecision(algorithmId: card.id, minute: Timestamp.at("2024-06-04T13:31:00Z"), decision: .buy, shares: 10, reason: "t")
            _ = try api.system.recordTrade(algorithmId: card.id, side: .buy, shares: 10, price: 40, at: Timestamp.at("2024-06-04T13:32:00Z"))
            let body = try await api.json("GET", "/api/algorithms/\(card.id)/equity").1
            let points = try #require(body["points"]?.array)
            #expect(points.count >= 2)
            let times = points.compactMap { $0["t"]?.string.flatMap { Timestamp($0) } }
            // On the simulator's clock: from the first decision to its now (2024), not the wall clock's.
            #expect(times.first == Timestamp.at("2024-06-04T13:31:00Z"))
            #expect((times.last ?? times[0]) >= Timestamp.at("2024-06-04T14:00:00Z") && (times.last ?? times[0]) < Timestamp.at("2024-06-04T14:30:00Z"))
            let values = Set(points.compactMap { $0["value"]?.number })
            #expect(values.count >= 3, "\(values)") // 1000 before the buy, then 1000 − 400 + 10 × 44 / 38 / 40
            #expect(values.isSubset(of: [1000, 1040, 980, 1000]))
        }
    }

    @Test func barsAreTheSessionsMinuteBarsExactly() async throws {
        try await InProcessAPI.run { api in
            try SharedStocks.database.insert(Self.bars("DSHF", from: "2024-06-03T19:30:00Z", count: 30, closes: ["99.99"]))
            try SharedStocks.database.insert(Self.bars("DSHF", from: "2024-06-04T13:30:00Z", count: 25, closes: ["101.37", "101.1", "100.07"]))
            let card = try api.system.createAlgorithm(ticker: "DSHF", algorithmType: "sma_crossover", initialCapital: 100)
            let reply = try await api.request("GET", "/api/algorithms/\(card.id)/bars")
            #expect(reply.status == 200)
            let body = reply.json
            #expect(body["ticker"]?.string == "DSHF")
            #expect(body["session"]?.string == "2024-06-04")
            let bars = try #require(body["bars"]?.array)
            #expect(bars.count == 25) // today's only
            #expect(bars.first?["t"]?.string == "2024-06-04T13:30:00Z" && bars.last?["t"]?.string == "2024-06-04T13:54:00Z")
            #expect(bars.map { $0["c"]?.number } == (0..<25).map { Double(["101.37", "101.1", "100.07"][$0 % 3]) })
            #expect(bars.map { $0["v"]?.number } == (0..<25).map { Double(100 + $0) })
            // Exact decimals as written, not binary approximations.
            for exact in [#""o":101.37"#, #""h":101.62"#, #""l":101.12"#, #""c":101.37"#, #""l":99.82"#, #""c":100.07"#] {
                #expect(reply.text.contains(exact + ",") || reply.text.contains(exact + "}"), "\(exact) in \(reply.text.prefix(300))")
            }
            #expect(try await api.request("GET", "/api/algorithms/424242/bars").status == 404)
            #expect(try await api.request("GET", "/api/algorithms/x/bars").status == 400)
        }
        // Closed, before Wednesday's open: the last session (Tuesday's) whole.
        try await InProcessAPI.run(start: Timestamp.at("2024-06-05T12:00:00Z")) { api in
            let card = try api.system.createAlgorithm(ticker: "DSHF", algorithmType: "sma_crossover", initialCapital: 100)
            let body = try await api.json("GET", "/api/algorithms/\(card.id)/bars").1
            #expect(body["session"]?.string == "2024-06-04")
            #expect(body["bars"]?.array?.count == 25)
        }
    }
}

/// The broker's clock between readings: extrapolated at the rate readings advance (the simulator's 60×), a
/// jump (a skipped night) starting a new stretch at the same rate, a heartbeat's wall-clock time mapped back.
@Suite struct BrokerTimelineTests {
    @Test func extrapolatesAtTheObservedRateAndKeepsItAcrossAJump() {
        let start = ContinuousClock.now
        let open = Date(timeIntervalSince1970: TimeInterval(Timestamp.at("2024-06-04T14:00:00Z").secondsSinceEpoch))
        var timeline = BrokerSnapshotCache.BrokerTimeline(broker: open, at: start)
        // One reading: the rate is not known, taken as 1.
        #expect(timeline.time(at: start + .seconds(5)) == Timestamp.at("2024-06-04T14:00:05Z"))
        // Ten real seconds later the broker is ten minutes on: 60×, though far from what 1× predicted.
        timeline.add(broker: open.addingTimeInterval(600), at: start + .seconds(10))
        #expect(abs(timeline.rate - 60) < 1e-9)
        #expect(timeline.time(at: start + .seconds(15)) == Timestamp.at("2024-06-04T14:15:00Z"))
        // A heartbeat 30 wall-clock seconds old was written 30 simulated minutes ago.
        let wallNow = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)) // heartbeats are whole seconds
        #expect(timeline.time(ofWallClock: Timestamp(wallNow.addingTimeInterval(-30)), wallNow: wallNow, at: start + .seconds(15))
            == Timestamp.at("2024-06-04T13:45:00Z"))
        // The simulator skips the night: a new stretch from there, still at 60×.
        let morning = Date(timeIntervalSince1970: TimeInterval(Timestamp.at("2024-06-05T13:30:00Z").secondsSinceEpoch))
        timeline.add(broker: morning, at: start + .seconds(11))
        #expect(abs(timeline.rate - 60) < 1e-9)
        #expect(timeline.time(at: start + .seconds(12)) == Timestamp.at("2024-06-05T13:31:00Z"))
    }
}

/// Holds its decision until the test opens the gate (the gate is the experiment's switch, not a timer).
struct HoldsUntilOpened: TradingAlgorithm {
    static let gate = DispatchSemaphore(value: 0)
    static let summary = "decides when the test says so"
    static let barsNeeded = 1
    func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        Self.gate.wait()
        return .hold("opened")
    }
}

/// The executor's heartbeat says `degraded` for a hung decision only, not for one that happens to be running
/// when it beats (issue 18's false "EXECUTOR DEGRADED").
@Suite(.serialized) struct HungDecisionTests {
    static let input = AlgorithmInput(
        ticker: "AAPL", initialCapital: 1_000,
        bars: [MinuteBar(ticker: "AAPL", timestamp: Timestamp("2024-06-04T14:30:00Z")!, open: 1, high: 1, low: 1, close: 1, volume: 1)],
        transactions: [], now: Timestamp("2024-06-04T14:30:00Z")!)

    @Test func aRunningDecisionIsBusyButNotHungUntilItsTimeLimitPasses() async throws {
        // Within its (long) time limit: running, so busy, but not hung.
        let patient = DecisionRunner(timeLimit: .seconds(600))
        let running = Task { await patient.run(card: 7, algorithm: HoldsUntilOpened.self, input: Self.input) }
        try await waitFor("the decision runs") { patient.busyCards == [7] }
        #expect(patient.hungCards.isEmpty)
        HoldsUntilOpened.gate.signal()
        guard case .decided = await running.value else { Issue.record("expected a decision"); return }
        #expect(patient.busyCards.isEmpty && patient.hungCards.isEmpty)

        // Past its time limit and still holding its thread: hung, until it ends.
        let strict = DecisionRunner(timeLimit: .milliseconds(100))
        guard case .timedOut = await strict.run(card: 8, algorithm: HoldsUntilOpened.self, input: Self.input) else {
            Issue.record("expected the time limit")
            return
        }
        #expect(strict.hungCards == [8])
        HoldsUntilOpened.gate.signal()
        try await waitFor("the hung decision ends", timeout: 30) { strict.busyCards.isEmpty }
        #expect(strict.hungCards.isEmpty)
    }
}
