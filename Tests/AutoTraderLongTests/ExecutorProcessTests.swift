import Foundation
import GRDB
import Testing
@testable import AutoTraderCore
#if canImport(Glibc)
import Glibc
#endif

/// The built `autotrader-executor` with the built streamer against `autotrader-sim` in accelerated time:
/// every simulator fill must be exactly one transaction in system.db, and every transaction a fill.
@Suite(.serialized) struct ExecutorProcessTests {
    /// Tuesday 2024-06-04: the session is 13:30–20:00 UTC.
    static let open = Timestamp.at("2024-06-04T13:30:00Z")
    static let close = Timestamp.at("2024-06-04T20:00:00Z")

    static func simArguments(speed: Int, extra: [String] = []) -> [String] {
        ["--start", "2024-06-04T13:28:00Z", "--speed", String(speed), "--seed", "11"] + extra
    }

    func createCards(_ system: SystemDatabase, _ cards: [(String, String, Decimal)]) throws -> [AlgorithmInstance] {
        try cards.map { try system.createAlgorithm(ticker: $0.0, algorithmType: $0.1, initialCapital: $0.2) }
    }

    /// Waits until the executor last started has reconciled the open intents with the broker: its heartbeat,
    /// with its pid, is past `starting`.
    func waitForReconciled(_ trading: TradingSystem) async throws {
        let pid = try #require(trading.executor?.process.processIdentifier)
        try await waitFor("executor \(pid) reconciled", timeout: 90) {
            guard let beat = try trading.system.heartbeat(service: "executor") else { return false }
            return beat.pid == pid && (beat.state == .running || beat.state == .degraded)
        }
    }

    /// Waits until the simulator holds no open order (every order sent has filled or ended).
    func waitForNoOpenOrdersAtTheBroker(_ trading: TradingSystem) async throws {
        try await waitFor("no open order at the broker", timeout: 90) {
            let reply = try await trading.sim.request("GET", "/v2/orders?status=open")
            guard reply.status == 200 else { return false }
            return (try JSONSerialization.jsonObject(with: reply.body) as? [Any])?.isEmpty == true
        }
    }

    /// No card ever held a short or spent more than it was given: its shares never below zero and its invested
    /// amount (buys minus sells) never above its capital, after every one of its transactions, in order.
    func expectNoShortAndNoOverspend(_ trading: TradingSystem, _ cards: [AlgorithmInstance]) throws {
        for card in cards {
            var shares = 0
            var invested: Decimal = 0
            for trade in try trading.system.trades(algorithmId: card.id).reversed() {
                let sign = trade.side == .buy ? 1 : -1
                shares += sign * trade.shares
                invested += Decimal(sign * trade.shares) * trade.price
                #expect(shares >= 0, "card \(card.id) went short: \(shares) shares after transaction \(trade.id)")
                #expect(invested <= card.initialCapital, "card \(card.id) invested \(invested) of \(card.initialCapital) after transaction \(trade.id)")
            }
        }
    }

    /// Intents that reached the broker and are closed: those closed by their trade update, and those by a look.
    func closedBySource(_ trading: TradingSystem) throws -> (byStream: [OrderIntent], byPoll: [OrderIntent]) {
        let closed = try trading.system.intents().filter { !$0.state.isOpen && $0.brokerOrderId != nil }
        let byStream = closed.filter { $0.detail.hasSuffix("(trade update)") }
        return (byStream, closed.filter { !$0.detail.hasSuffix("(trade update)") })
    }

    static let mixedCards: [(String, String, Decimal)] = [
        ("AAPL", "rsi_bounce", 10_000), ("AAPL", "sma_crossover", 5_000), ("MSFT", "rsi_bounce", 8_000),
        ("MSFT", "macd_signal", 8_000), ("NVDA", "macd_signal", 12_000), ("AMD", "rsi_bounce", 3_000.50),
        ("TSLA", "sma_crossover", 6_000), ("META", "macd_signal", 7_000),
    ]

    /// Fills come from the trade-updates stream: with the paced look pushed to an hour, an order's end is
    /// recorded from its event (the intent's detail says which path closed it), exactly once.
    @Test func fillsAreLearnedFromTheTradeUpdatesStream() async throws {
        let trading = try await TradingSystem(simArguments: Self.simArguments(speed: 240))
        let cards = try createCards(trading.system, Self.mixedCards)
        try trading.startStreamer()
        try trading.startExecutor(["--streamed-look", "3600"])
        try await waitFor("the executor listens to trade updates", timeout: 60) {
            trading.executorStderr.contains("trade-updates stream listening")
        }
        try await trading.waitForSimTime(Self.open.adding(minutes: 150), timeout: 150)
        try await trading.waitForNoOpenIntents(timeout: 90)
        let (fills, problems) = try await trading.fillsVersusTransactions()
        #expect(problems.isEmpty, "\(problems)")
        let (byStream, byPoll) = try closedBySource(trading)
        #expect(byStream.count >= 3, "expected orders closed by their trade update, got \(byStream.count) (and \(byPoll.count) by a look)")
        // A look at each new minute can still get there first now and then; most ends come from the stream.
        #expect(byStream.count >= 4 * byPoll.count, "\(byStream.count) closed by trade update, \(byPoll.count) by a look")
        #expect(byStream.contains { $0.transactionId != nil }, "no fill was recorded from a trade update")
        #expect(fills >= 3)
        try expectNoShortAndNoOverspend(trading, cards)
        let stopped = await trading.stopExecutor()
        #expect(stopped?.status == 0)
        #expect(!trading.executorLogs.joined().contains(" error "), "\(trading.executorLogs.joined().suffix(2000))")
    }

    /// Without the stream (`--trade-updates off`, as when it can't be reached) every fill still arrives, by
    /// polling, exactly once.
    @Test func withoutTheStreamFillsArriveByPollingExactlyOnce() async throws {
        let trading = try await TradingSystem(simArguments: Self.simArguments(speed: 240, extra: ["--partial-fill-rate", "0.3"]))
        let cards = try createCards(trading.system, Self.mixedCards)
        try trading.startStreamer()
        try trading.startExecutor(["--trade-updates", "off"])
        try await trading.waitForSimTime(Self.open.adding(minutes: 150), timeout: 150)
        try await trading.waitForNoOpenIntents(timeout: 90)
        let (fills, problems) = try await trading.fillsVersusTransactions()
        #expect(problems.isEmpty, "\(problems)")
        let (byStream, byPoll) = try closedBySource(trading)
        #expect(byStream.isEmpty && byPoll.count >= 3, "\(byStream.count) closed by trade update, \(byPoll.count) by a look")
        #expect(fills >= 3)
        try expectNoShortAndNoOverspend(trading, cards)
        let stopped = await trading.stopExecutor()
        #expect(stopped?.status == 0)
        #expect(!trading.executorLogs.joined().contains("trade-updates stream"))
    }

    /// The trading stream dropped by the broker again and again (`/sim/disconnect-trading`), the executor
    /// SIGKILLed now and then, and the broker failing requests, rejecting and partly filling orders: fills come
    /// by the stream while it listens and by polling while it doesn't, and each is recorded exactly once.
    @Test func streamDropsKillsAndFaultsNeverLoseOrDuplicateAFill() async throws {
        let trading = try await TradingSystem(simArguments: Self.simArguments(speed: 240, extra: [
            "--error-rate", "0.05", "--latency-ms", "10", "--reject-rate", "0.2", "--partial-fill-rate", "0.4",
        ]))
        let cards = try createCards(trading.system, Self.mixedCards + [("AMZN", "rsi_bounce", 5_000), ("GOOGL", "rsi_bounce", 5_000)])
        try trading.startStreamer()
        try trading.startExecutor()
        let sim = trading.sim
        let dropper = Task {
            // The experiment's pace, not a synchronisation: the broker drops the trading stream every 0.3 s.
            while !Task.isCancelled {
                _ = try? await sim.request("POST", "/sim/disconnect-trading")
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
        var generator = SplitMix64(seed: 1414)
        for _ in 0..<8 {
            // When each kill lands is the experiment; what is checked afterwards holds wherever it landed.
            try await Task.sleep(for: .milliseconds(800 + Int(generator.next() % 2_500)))
            await trading.killExecutor()
            try trading.startExecutor()
        }
        try await trading.waitForSimTime(Self.open.adding(minutes: 150), timeout: 150)
        dropper.cancel()
        try await waitForReconciled(trading)
        try await trading.waitForNoOpenIntents(timeout: 90)
        let (fills, problems) = try await trading.fillsVersusTransactions()
        #expect(problems.isEmpty, "\(problems)")
        #expect(fills >= 3, "expected orders filled through the drops and kills, got \(fills)")
        let intents = try trading.system.intents()
        #expect(Set(intents.map(\.clientOrderId)).count == intents.count)
        let (byStream, byPoll) = try closedBySource(trading)
        #expect(!byPoll.isEmpty, "with the stream dropped every 0.3 s some orders must have ended by a look")
        #expect(!byStream.isEmpty || intents.count < 10, "\(intents.count) orders, none closed by a trade update")
        for intent in intents where intent.filledShares > 0 {
            let trade = try trading.system.trades(algorithmId: intent.algorithmId).first { $0.id == intent.transactionId }
            #expect(trade?.shares == intent.filledShares, "intent \(intent.clientOrderId)")
        }
        try expectNoShortAndNoOverspend(trading, cards)
        _ = await trading.stopExecutor()
    }

    @Test func aFullTradingDayWithSeveralCardsRecordsExactlyTheSimulatorsFills() async throws {
        let trading = try await TradingSystem(simArguments: Self.simArguments(speed: 300))
        let cards = try createCards(trading.system, [
            ("AAPL", "rsi_bounce", 10_000), ("AAPL", "sma_crossover", 5_000), ("MSFT", "rsi_bounce", 8_000),
            ("MSFT", "macd_signal", 8_000), ("NVDA", "macd_signal", 12_000), ("AMD", "rsi_bounce", 3_000.50),
        ])
        try trading.startStreamer()
        try trading.startExecutor()
        try await trading.waitForSimTime(Self.close.adding(minutes: 3), timeout: 240)
        try await trading.waitForNoOpenIntents()
        let (fills, problems) = try await trading.fillsVersusTransactions()
        #expect(problems.isEmpty, "\(problems)")
        #expect(fills >= 6, "expected a day of trading to fill orders, got \(fills)")
        // Every card was considered minute after minute, and no algorithm ever broke a guard.
        for card in cards {
            let decisions = try trading.system.decisions(algorithmId: card.id)
            // At 300× on two loaded cores a minute is 200 ms: most minutes, not necessarily all, get a look.
            #expect(decisions.count > 150, "card \(card.id) was decided \(decisions.count) times in a 390-minute day")
            #expect(decisions.first.map { $0.minute >= Self.close.adding(minutes: -15) } == true, "the day's end was traded")
            let position = try trading.system.position(algorithmId: card.id)
            #expect(position.shares >= 0)
        }
        let stopped = await trading.stopExecutor()
        #expect(stopped?.status == 0)
        #expect(!trading.executorLogs.joined().contains(" error "), "\(trading.executorLogs.joined().suffix(2000))")
    }

    @Test func killedWithSIGKILLTwentyTimesItNeverLosesOrDuplicatesAFill() async throws {
        let trading = try await TradingSystem(simArguments: Self.simArguments(speed: 240))
        _ = try createCards(trading.system, ["AAPL", "MSFT", "NVDA", "AMD", "TSLA", "META", "GOOGL", "AMZN"].map { ($0, "rsi_bounce", 5_000) })
        try trading.startStreamer()
        try trading.startExecutor()
        var generator = SplitMix64(seed: 2024)
        var kills = 0
        while kills < 22 {
            // Random moments: sometimes right after a start (mid-reconcile), sometimes mid-minute. The sleep is the
            // experiment (when the kill lands); what is checked afterwards holds wherever it landed.
            let wait = 150 + Int(generator.next() % 1_600)
            try await Task.sleep(for: .milliseconds(wait))
            await trading.killExecutor()
            kills += 1
            try trading.startExecutor()
        }
        try await trading.waitForSimTime(Self.open.adding(minutes: 120), timeout: 120)
        // Not "give it 3 s": wait until the last executor has reconciled what the killed ones left open (its
        // heartbeat leaves `starting` only then), and then until no intent is open.
        try await waitForReconciled(trading)
        try await trading.waitForNoOpenIntents(timeout: 90)
        let (fills, problems) = try await trading.fillsVersusTransactions()
        #expect(problems.isEmpty, "\(problems)")
        #expect(fills >= 3, "expected orders while being killed, got \(fills) fills")
        let intents = try trading.system.intents()
        #expect(Set(intents.map(\.clientOrderId)).count == intents.count)
        _ = await trading.stopExecutor()
    }

    @Test func brokerFaultsRecordNothingThatDidNotFill() async throws {
        let trading = try await TradingSystem(simArguments: Self.simArguments(speed: 240, extra: [
            "--error-rate", "0.08", "--latency-ms", "15", "--reject-rate", "0.3", "--partial-fill-rate", "0.6",
        ]))
        _ = try createCards(trading.system, ["AAPL", "MSFT", "NVDA", "AMD", "TSLA", "META", "GOOGL", "AMZN", "IBM", "INTC"].map { ($0, "rsi_bounce", 6_000) })
        try trading.startStreamer()
        try trading.startExecutor()
        try await trading.waitForSimTime(Self.open.adding(minutes: 150), timeout: 150)
        try await trading.waitForNoOpenIntents(timeout: 60)
        let (fills, problems) = try await trading.fillsVersusTransactions()
        #expect(problems.isEmpty, "\(problems)")
        let intents = try trading.system.intents()
        let rejected = intents.filter { $0.state == .rejected }
        let partial = intents.filter { $0.filledShares > 0 && $0.filledShares < $0.shares }
        #expect(!rejected.isEmpty && rejected.allSatisfy { $0.transactionId == nil && $0.filledShares == 0 })
        #expect(!partial.isEmpty, "expected partial fills among \(intents.count) orders")
        for intent in partial {
            let trade = try trading.system.trades(algorithmId: intent.algorithmId).first { $0.id == intent.transactionId }
            #expect(trade?.shares == intent.filledShares)
        }
        #expect(fills > 0)
        _ = await trading.stopExecutor()
    }

    @Test func sellEverythingThenStopAndReconcileAgainstTheBroker() async throws {
        let trading = try await TradingSystem(simArguments: Self.simArguments(speed: 120))
        let cards = try createCards(trading.system, ["AAPL", "MSFT", "NVDA", "AMD", "TSLA"].map { ($0, "rsi_bounce", 4_000) })
        try trading.startStreamer()
        try trading.startExecutor()
        let env = trading.environment
        let databases = ["--system-db", trading.systemPath, "--stocks-db", trading.stocksPath]
        // Wait for a card that holds shares and has no order open.
        let holder = try await trading.sim.waitFor(timeout: 120) { () async throws -> AlgorithmInstance? in
            let open = Set(try trading.system.openIntents().map(\.algorithmId))
            return try cards.first { try trading.system.position(algorithmId: $0.id).shares > 0 && !open.contains($0.id) }
        }
        let stop = try await Executables.run(
            "autotrader", ["algorithms", "stop", String(holder.id), "--sell"] + databases, environment: env, directory: trading.directory)
        #expect(stop.status == 0 && stop.stdout.contains("sell"), "\(stop.stdout)\(stop.stderr)")
        let stopped = try await trading.sim.waitFor(timeout: 30) { () async throws -> AlgorithmInstance? in
            let card = try trading.system.algorithm(id: holder.id)
            return card.status == .stopped ? card : nil
        }
        #expect(try trading.system.position(algorithmId: holder.id).shares == 0)
        let last = try trading.system.trades(algorithmId: holder.id, limit: 1)[0]
        #expect(last.side == .sell && last.timestamp <= stopped.stoppedAt!)
        #expect(try trading.system.intents(algorithmId: holder.id, limit: 1)[0].purpose == .liquidate)
        #expect(try trading.system.pendingStopRequests().isEmpty)

        // Everything the cards hold is what the account holds …
        _ = await trading.stopExecutor()
        try await trading.waitForNoOpenIntents()
        // Not "a second for the fills of orders the stopped executor sent last": wait until the broker has no open order.
        try await waitForNoOpenOrdersAtTheBroker(trading)
        var reconcile = try await Executables.run("autotrader", ["reconcile"] + databases, environment: env, directory: trading.directory)
        if reconcile.status != 0 {
            // An order sent just before the stop may have filled after it: reconcile once more with a fresh executor.
            try trading.startExecutor()
            // Not "4 s": until it has reconciled (its heartbeat leaves `starting` only then); stopped at once, and
            // then until the broker has no open order.
            try await waitForReconciled(trading)
            _ = await trading.stopExecutor()
            try await waitForNoOpenOrdersAtTheBroker(trading)
            reconcile = try await Executables.run("autotrader", ["reconcile"] + databases, environment: env, directory: trading.directory)
        }
        #expect(reconcile.status == 0, "\(reconcile.stdout)\(reconcile.stderr)")
        #expect(reconcile.stdout.contains("Every ticker agrees"))
        // … until someone trades by hand.
        let manual = try await trading.sim.request("POST", "/v2/orders", json: [
            "symbol": "IBM", "qty": "7", "side": "buy", "type": "market", "time_in_force": "day",
        ])
        #expect(manual.status == 200)
        _ = try await trading.sim.waitFor(timeout: 20) { () async throws -> Bool? in
            try await trading.simFills().contains { $0.symbol == "IBM" } ? true : nil
        }
        let differs = try await Executables.run("autotrader", ["reconcile"] + databases, environment: env, directory: trading.directory)
        #expect(differs.status == 1)
        #expect(differs.stdout.contains("IBM: the broker account holds 7 shares that no card bought"), "\(differs.stdout)")
        let json = try await Executables.run("autotrader", ["reconcile", "--json"] + databases, environment: env, directory: trading.directory)
        #expect(json.stdout.contains("\"card_shares\" : 0") && json.stdout.contains("\"ticker\" : \"IBM\""))
    }
}
