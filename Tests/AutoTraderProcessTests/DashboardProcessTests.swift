import Foundation
import Testing
@testable import AutoTraderCore
#if canImport(Glibc)
import Glibc
#endif

/// The dashboard's api against the real system (issue 18): simulator, streamer, executor and api as
/// processes. Trading halts loudly when the executor stops answering during market hours, and not once
/// the market has closed; equity points follow the simulator's accelerated clock and move.
@Suite struct DashboardProcessTests {
    static func health(_ api: APIProcess) async throws -> JSONAny { try await api.json("GET", "/api/health").1 }

    @Test func aFrozenExecutorHaltsTradingDuringMarketHoursAndNotAfterTheClose() async throws {
        // 15:40 New York at 20×: the close comes a minute of real time later.
        let trading = try await TradingSystem(simArguments: ["--start", "2024-06-04T19:40:00Z", "--speed", "20", "--seed", "3"])
        let card = try trading.system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 10_000)
        try trading.startStreamer()
        try trading.startExecutor()
        let api = try await APIProcess(
            directory: trading.directory, systemPath: trading.systemPath, stocksPath: trading.stocksPath, sim: trading.sim,
            arguments: ["--broker-cache", "1"])

        // Running and fed: trading goes on.
        try await waitFor("trading ok", timeout: 60) {
            try await Self.health(api)["trading"]?["state"]?.string == "ok"
        }
        #expect(try await Self.health(api)["trading"]?["since"]?.isNull == true)

        // The executor frozen (SIGSTOP): within three heartbeats trading is halted, in plain words.
        let pid = try #require(trading.executor?.process.processIdentifier)
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        var halted = JSONAny.null
        try await waitFor("trading halted", timeout: 30) {
            halted = try await Self.health(api)
            return halted["trading"]?["state"]?.string == "halted"
        }
        let reasons = halted["trading"]?["reasons"]?.array?.compactMap(\.string) ?? []
        #expect(reasons.contains { $0.hasPrefix("the trading service has stopped responding (no sign of life since 15:") && $0.hasSuffix(" ET)") },
                "\(reasons)")
        // Since its last heartbeat, on the simulator's clock (2024), not the wall clock's.
        let since = try #require(halted["trading"]?["since"]?.string.flatMap { Timestamp($0) })
        let brokerTime = try #require(halted["broker_time"]?.string.flatMap { Timestamp($0) })
        // (Heartbeats are stamped in whole wall-clock seconds, so at 20× the last one can map up to 20 s of the
        // simulator's time before its true moment: a beat in the simulator's first second reads 19:39:4x.)
        #expect(since >= Timestamp.at("2024-06-04T19:39:40Z") && since <= brokerTime, "since \(since), broker time \(brokerTime)")

        // Its card stops being current: stale since the end of its last decided minute.
        var staleSince: Timestamp?
        try await waitFor("the card goes stale", timeout: 30) {
            let list = try await api.json("GET", "/api/algorithms").1
            staleSince = list["algorithms"]?.array?.first { $0["id"]?.number == Double(card.id) }?["stale_since"]?.string.flatMap { Timestamp($0) }
            return staleSince != nil || list["market_open"]?.bool == false
        }
        if let staleSince, let last = try trading.system.decisions(algorithmId: card.id, limit: 1).first {
            #expect(staleSince <= last.minute.adding(minutes: 1), "stale since \(staleSince), last decision \(last.minute)")
        }

        // After the close the executor is still frozen, and nothing is halted: the market is closed.
        try await trading.waitForSimTime(Timestamp.at("2024-06-04T20:00:30Z"), timeout: 120)
        try await waitFor("trading closed", timeout: 30) {
            let body = try await Self.health(api)
            return body["trading"]?["state"]?.string == "closed" && body["trading"]?["reasons"]?.array?.isEmpty == true
        }
        let closed = try await api.json("GET", "/api/algorithms").1
        #expect(closed["algorithms"]?.array?.allSatisfy { $0["stale_since"]?.isNull == true } == true)
        #expect(closed["next_open"]?.string == "2024-06-05T13:30:00Z")
    }

    @Test func equityPointsFollowTheSimulatorsClockAndTheirValuesAreTheCardsValueThen() async throws {
        // Ten simulated minutes before the open at 60×: the streamer backfills, then cards trade.
        let trading = try await TradingSystem(simArguments: ["--start", "2024-06-04T13:20:00Z", "--speed", "60", "--seed", "11"])
        let cards = try [("AAPL", "rsi_bounce"), ("NVDA", "sma_crossover"), ("MSFT", "macd_signal"), ("AMD", "rsi_bounce")].map {
            try trading.system.createAlgorithm(ticker: $0.0, algorithmType: $0.1, initialCapital: 10_000)
        }
        try trading.startStreamer()
        try trading.startExecutor()
        // The broker's clock is read at most every 10 s (10 simulated minutes at 60×): between readings the api
        // extrapolates at the rate it observed.
        let api = try await APIProcess(
            directory: trading.directory, systemPath: trading.systemPath, stocksPath: trading.stocksPath, sim: trading.sim,
            arguments: ["--broker-cache", "10"])

        // The broker's time is the simulator's, however fast it runs: sampled against the simulator's clock for 30 s
        // of real time (the experiment's span, one sample per half second); once two readings (10 s apart) have
        // given the rate, every sample is within 3 simulated minutes, though each reading is reused for 10 minutes.
        let began = Date()
        var checked = 0
        while Date().timeIntervalSince(began) < 30 {
            let before = try await trading.simNow()
            let brokerTime = try #require(try await Self.health(api)["broker_time"]?.string.flatMap { Timestamp($0) })
            let after = try await trading.simNow()
            if Date().timeIntervalSince(began) > 15 {
                checked += 1
                #expect(Double(brokerTime.secondsSinceEpoch) >= before - 180 && Double(brokerTime.secondsSinceEpoch) <= after + 180,
                        "broker_time \(brokerTime) against the simulator's \(Timestamp(secondsSinceEpoch: Int64(before)))…\(Timestamp(secondsSinceEpoch: Int64(after)))")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(checked >= 5)

        // A card trades; ten simulated minutes later its equity has moved.
        var traded: AlgorithmInstance?
        try await waitFor("a card trades", timeout: 240) {
            traded = try cards.first { try !trading.system.trades(algorithmId: $0.id).isEmpty }
            return traded != nil
        }
        let card = try #require(traded)
        let firstTrade = try #require(try trading.system.trades(algorithmId: card.id).map(\.timestamp).min())
        try await trading.waitForSimTime(firstTrade.adding(minutes: 10), timeout: 120)
        _ = await trading.stopExecutor() // the transactions stay as they are from here

        let reply = try await api.json("GET", "/api/algorithms/\(card.id)/equity").1
        let points = try #require(reply["points"]?.array)
        let times = points.compactMap { $0["t"]?.string.flatMap { Timestamp($0) } }
        #expect(times.count == points.count && times.count >= 10)
        #expect(times == times.sorted())
        // On the simulator's clock: from the card's first decision, through its fills, to the simulator's now.
        let firstDecision = try #require(try trading.system.decisions(algorithmId: card.id).map(\.minute).min())
        #expect(times.first == firstDecision)
        #expect((times.last ?? firstDecision) > firstTrade)
        #expect(Double((times.last ?? firstDecision).secondsSinceEpoch) <= (try await trading.simNow()) + 60)
        let values = points.compactMap { $0["value"]?.number }
        #expect(Set(values).count >= 2, "flat: \(values)")

        // Each point is the card's value then, computed here from its transactions and the ticker's bars.
        let stocks = try StocksDatabase.open(path: trading.stocksPath)
        let trades = try trading.system.trades(algorithmId: card.id)
        for (time, value) in zip(times, values).dropLast(2) { // the newest minutes' bars may still be arriving
            var shares = 0
            var invested = Decimal(0)
            for trade in trades where trade.timestamp <= time {
                shares += trade.side == .sell ? -trade.shares : trade.shares
                invested += (trade.side == .sell ? -1 : 1) * Decimal(trade.shares) * trade.price
            }
            var mark = Decimal(0)
            if shares != 0 {
                let bar = try #require(try stocks.bars(ticker: card.ticker, before: time.adding(seconds: 1), count: 1).last)
                mark = Money.decimal(fromStored: bar.close)
            }
            let expected = Money.rounded(card.initialCapital - invested + Decimal(shares) * mark)
            #expect(abs(value - NSDecimalNumber(decimal: expected).doubleValue) < 0.001,
                    "at \(time): \(value), expected \(expected)")
        }
    }
}
