import Foundation
import Logging

/// How the executor paces itself. The defaults suit Alpaca; tests and benchmarks shorten some.
public struct ExecutorOptions: Sendable {
    /// How often stocks.db's `data_version` is looked at for new bars (a tick when it changed).
    public var pollInterval: Duration = .milliseconds(10)
    /// A tick runs at least this often even when no bar arrives (to notice a new minute, new cards, requests).
    public var idleTick: Duration = .milliseconds(250)
    /// How often the broker's clock is read (it is extrapolated in between; every read spends rate budget).
    public var clockRefresh = BrokerClock.Refresh()
    /// How often open orders are read back from the broker.
    public var followInterval: Duration = .milliseconds(200)
    /// Listen to Alpaca's trade-updates stream and record fills as their events arrive (polling stays the fallback).
    public var tradeUpdates = true
    /// While that stream listens, how long an open order waits for its event before it is asked about anyway.
    public var streamedLook: Duration = .seconds(30)
    /// The trade-updates stream's reconnection pacing.
    public var tradeUpdatesBackoff = AlpacaTradeUpdatesStream.Backoff.tradeUpdates
    /// A decision taking longer is abandoned (logged as an error) and the others go on.
    public var decisionTimeLimit: Duration = .seconds(2)
    /// How long an intent unknown to the broker may be in flight before it is taken as never received.
    public var notFoundGrace: Duration = .seconds(5)
    /// Cards decided at the same time (each decision on a thread of its own).
    public var concurrency = 8
    /// Orders in flight to the broker at once. Measured with 100 cards (release, quiet machine): tick-to-trade
    /// p99 111 ms at 8, 88 ms at 16 — each order is one round trip, so the minute's orders leave in fewer waves.
    public var sendConcurrency = 16
    /// Days (on the broker's clock) the decision log keeps its `hold` rows, pruned once a day while the market is closed;
    /// nil keeps them for good.
    public var keepHoldDays: Int? = 7

    public init() {}
}

/// What the heartbeat row's `detail` says.
public struct ExecutorStatus: Codable, Sendable, Equatable {
    public var mode: String
    public var marketOpen: Bool
    public var minute: Timestamp?
    public var runningCards: Int
    public var openOrders: Int
    public var hungDecisions: [Int64]
    public var ordersSent: Int
    public var decisionsLogged: Int
    public var lastError: String?

    enum CodingKeys: String, CodingKey {
        case mode, marketOpen = "market_open", minute, runningCards = "running_cards", openOrders = "open_orders"
        case hungDecisions = "hung_decisions", ordersSent = "orders_sent", decisionsLogged = "decisions_logged"
        case lastError = "last_error"
    }
}

/// The executor: each market minute, as soon as that minute's bars are in stocks.db, runs every
/// running card's algorithm and trades what the guards allow, crash-safely (see `OrderDesk`).
/// Carries out "sell everything, then stop" requests, and reports itself for its heartbeat
/// (`HeartbeatService`: system.db's row and systemd). A `Service`: `start()` on run, `shutdown()` on SIGTERM.
public actor ExecutorService: StartStopService, HeartbeatReporting {
    public static let serviceName = "executor"

    let configuration: AlpacaConfiguration
    let system: SystemDatabase
    let watch: BarWatch
    let calendar: MarketCalendar
    let catalog: AlgorithmCatalog
    let options: ExecutorOptions
    let logger: Logger
    let clock: BrokerClock
    let desk: OrderDesk
    /// Alpaca's order events (nil: fills are learned by polling alone).
    let tradeUpdates: AlpacaTradeUpdatesStream?
    let runner: DecisionRunner
    let decider: CardDecider
    /// The script algorithms of the algorithm folder (nil: compiled Swift algorithms only).
    let scripts: ScriptAlgorithms?
    public nonisolated let heartbeatWriter: HeartbeatWriter
    /// Ready once every open order intent is reconciled with the broker.
    public nonisolated let readiness = ServiceReadiness()

    private var tasks: [Task<Void, Never>] = []
    private var stopped = false
    /// The minute being traded (the newest complete market minute by the broker's clock and the bars).
    private var currentMinute: Timestamp?
    /// The newest minute each card was decided (or skipped) for.
    private var decidedMinute: [Int64: Timestamp] = [:]
    private var marketOpen = false
    private var runningCount = 0
    private var openOrders = 0
    private var ordersSent = 0
    private var decisionsLogged = 0
    private var lastError: String?
    private var lastClockError: ContinuousClock.Instant?
    /// When the clock was last re-read because the bars were behind it.
    private var lastAheadCheck = ContinuousClock.now - .seconds(60)
    /// The broker's date of the last pruning of the decision log.
    private var prunedOn: String?
    /// The trade-updates stream listens now (fills arrive as events; otherwise by polling alone).
    private var tradeUpdatesListening = false

    public init(
        configuration: AlpacaConfiguration, system: SystemDatabase, stocksPath: String, calendar: MarketCalendar,
        catalog: AlgorithmCatalog, options: ExecutorOptions = ExecutorOptions(), logger: Logger = Logger(label: "executor"),
        client: AlpacaClient? = nil, scripts: ScriptAlgorithms? = nil
    ) throws {
        self.configuration = configuration
        self.system = system
        let watch = try BarWatch(path: stocksPath)
        self.watch = watch
        self.calendar = calendar
        self.catalog = catalog
        self.options = options
        self.logger = logger
        let client = client ?? AlpacaClient(configuration: configuration, logger: logger)
        self.clock = BrokerClock(client: client, refresh: options.clockRefresh)
        let desk = OrderDesk(
            client: client, system: system, logger: logger, notFoundGrace: options.notFoundGrace,
            streamedLook: options.streamedLook)
        self.desk = desk
        self.tradeUpdates = options.tradeUpdates
            ? AlpacaTradeUpdatesStream(configuration: configuration, logger: logger, backoff: options.tradeUpdatesBackoff) : nil
        let runner = DecisionRunner(timeLimit: options.decisionTimeLimit)
        self.runner = runner
        self.heartbeatWriter = HeartbeatWriter(system: system, service: Self.serviceName)
        self.scripts = scripts
        self.decider = CardDecider(
            catalog: catalog, watch: watch, system: system, runner: runner, logger: logger, scripts: scripts)
    }

    /// Reconciles every open intent with the broker (then it is ready), starts the loops and returns.
    public func start() async {
        logger.info("executor starting", metadata: [
            "alpaca": "\(configuration.description)", "algorithms": "\(catalog.names.joined(separator: ","))",
        ])
        let open = (try? system.openIntents()) ?? []
        if !open.isEmpty {
            logger.info("reconciling open order intents with the broker", metadata: ["count": "\(open.count)"])
        }
        await desk.follow(currentMinute: nil)
        do {
            decidedMinute = try system.lastDecidedMinutes()
        } catch {
            note(error: "reading the decision log: \(error)")
        }
        if let scripts {
            // The folder's scripts are described before the first minute, so their cards aren't skipped as unknown.
            await scripts.refresh()
            tasks.append(Task { await scripts.run() })
        }
        guard !Task.isCancelled else { return } // stopped while reconciling
        readiness.ready(status: "reconciled \(open.count) open orders")
        tasks.append(Task { [weak self] in await self?.tradeLoop() })
        if let tradeUpdates {
            tasks.append(Task { await tradeUpdates.run() })
            tasks.append(Task { [weak self] in await self?.followTradeUpdates(tradeUpdates.events) })
        }
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                try? await Task.sleep(for: self.options.followInterval)
                await self.followOrders()
            }
        })
    }

    /// Stops the loops (an order in flight is reconciled on the next start).
    public func shutdown() async {
        guard !stopped else { return }
        stopped = true
        logger.info("executor stopping")
        for task in tasks { task.cancel() }
        await scripts?.shutdown()
        logger.info("executor stopped", metadata: ["orders_sent": "\(ordersSent)"])
    }

    // MARK: - The loop

    private func tradeLoop() async {
        var lastTick = ContinuousClock.now - options.idleTick
        while !Task.isCancelled && !stopped {
            let changed: Bool
            do {
                changed = try watch.changed()
            } catch {
                note(error: "reading stocks.db: \(error)")
                changed = false
            }
            let now = ContinuousClock.now
            if changed || now - lastTick >= options.idleTick {
                lastTick = now
                await tick()
            }
            try? await Task.sleep(for: options.pollInterval)
        }
    }

    private func followOrders() async {
        await desk.follow(currentMinute: currentMinute, paced: true)
    }

    /// Records fills as the trade-updates stream reports them. Each time it starts listening, every open
    /// order is asked about once: events sent while nobody listened (a disconnect, a restart) are lost for good.
    private func followTradeUpdates(_ events: AsyncStream<AlpacaTradeUpdatesStream.Event>) async {
        for await event in events {
            guard !Task.isCancelled else { return }
            switch event {
            case .listening:
                tradeUpdatesListening = true
                await desk.streamStarted()
                await desk.follow(currentMinute: currentMinute)
            case .update(let update):
                await desk.record(update)
            case .unreadableFrame:
                // The frame may have been an order's end: ask about every open order rather than wait.
                await desk.follow(currentMinute: currentMinute)
            case .disconnected:
                tradeUpdatesListening = false
                await desk.streamStopped()
            }
        }
    }

    // MARK: - One tick, in steps

    /// The running cards as the databases see them at one tick.
    struct Cards {
        let running: [AlgorithmInstance]
        /// Cards asked to sell everything, then stop.
        let stopping: Set<Int64>
        /// The minute of the newest bar of each running card's ticker.
        let latest: [String: Timestamp]
    }

    /// An order written down, to be sent.
    typealias Outgoing = (intent: OrderIntent, symbol: String)

    /// One look at the world: which minute it is, which cards are ready for it, what they decide, the orders
    /// written down, then sent.
    func tick() async {
        guard let brokerNow = await brokerTime(), let cards = readCards(),
              let minute = await whichMinute(brokerNow: brokerNow, newestBar: cards.latest.values.max()) else { return }
        if currentMinute != minute { await begin(minute, cards: cards) }
        let ready = readyCards(cards, minute: minute)
        guard !ready.isEmpty else { return }
        // The compiled algorithms' cards, and each script algorithm's, go through on their own: a slow or hung
        // script holds up only its own cards' orders, never another algorithm's.
        let groups = Dictionary(grouping: ready) { catalog.entry(named: $0.algorithmType) == nil ? $0.algorithmType : "" }
        if groups.count == 1 { return await trade(ready, minute: minute) }
        await withTaskGroup(of: Void.self) { group in
            for cards in groups.values { group.addTask { await self.trade(cards, minute: minute) } }
        }
    }

    /// Decides `ready`, writes their orders down, sends them and logs the rest.
    private func trade(_ ready: [AlgorithmInstance], minute: Timestamp) async {
        let results = await decide(ready, minute: minute)
        let (outgoing, refused) = writeIntents(results.compactMap(\.order), cards: ready, minute: minute)
        await send(outgoing)
        logDecisions(results.compactMap(\.entry) + refused)
    }

    /// The broker's time (extrapolated between reads); nil while the broker can't be reached.
    private func brokerTime() async -> Timestamp? {
        do {
            let (time, _) = try await clock.now()
            return Timestamp(secondsSinceEpoch: Int64(time.rounded(.down)))
        } catch {
            // Broker unreachable: nothing can be traded; say so, but not on every tick.
            if lastClockError.map({ ContinuousClock.now - $0 > .seconds(30) }) ?? true {
                lastClockError = ContinuousClock.now
                note(error: "cannot read the broker's clock: \(error)")
            }
            return nil
        }
    }

    private func readCards() -> Cards? {
        do {
            let running = try system.algorithms(status: .running)
            let cards = Cards(
                running: running, stopping: Set(try system.pendingStopRequests().map(\.algorithmId)),
                latest: try watch.latestMinutes(tickers: Set(running.map(\.ticker))))
            runningCount = running.count
            return cards
        } catch {
            note(error: "reading the databases: \(error)")
            return nil
        }
    }

    /// Which minute to trade: the newest complete market minute, by the broker's clock or by the bars when
    /// they run slightly ahead of it. Nil while the market is closed (the decision log is pruned then).
    private func whichMinute(brokerNow: Timestamp, newestBar: Timestamp?) async -> Timestamp? {
        let brokerNow = await checkedAgainstBars(brokerNow, newestBar: newestBar)
        var target = brokerNow.minuteStart.adding(minutes: -1)
        if let newestBar, newestBar > target, newestBar <= brokerNow.minuteStart { target = newestBar }
        marketOpen = (try? calendar.isOpen(at: target)) == true
        guard marketOpen else {
            pruneDecisionLog(brokerNow: brokerNow)
            return nil
        }
        return target
    }

    /// A bar of a minute that by our clock hasn't begun: the extrapolated clock lags (the simulator skipped a
    /// night, or the machine was suspended), so the broker's is read again. Or it runs ahead: the newest bar of
    /// all is over two minutes behind its minute. Bars can also just be late (a feed outage), so that re-read
    /// comes at most every 5 s (the rate budget).
    private func checkedAgainstBars(_ brokerNow: Timestamp, newestBar: Timestamp?) async -> Timestamp {
        guard let newestBar, newestBar > brokerNow.minuteStart
            || (newestBar < brokerNow.minuteStart.adding(minutes: -2) && ContinuousClock.now - lastAheadCheck > .seconds(5))
        else { return brokerNow }
        if newestBar < brokerNow.minuteStart { lastAheadCheck = ContinuousClock.now }
        await clock.invalidate()
        guard let sample = try? await clock.now() else { return brokerNow }
        return Timestamp(secondsSinceEpoch: Int64(sample.time.rounded(.down)))
    }

    /// A new minute: cards that got no bar for the previous one are logged as skipped, orders of earlier
    /// minutes are read back (those still open canceled) before this one trades, and "sell everything, then
    /// stop" requests are carried out.
    private func begin(_ minute: Timestamp, cards: Cards) async {
        if let previous = currentMinute, previous < minute { logSkips(minute: previous, cards: cards) }
        currentMinute = minute
        await desk.follow(currentMinute: minute)
        await liquidate(cards.running.filter { cards.stopping.contains($0.id) }, minute: minute)
    }

    /// The cards to decide for `minute`: not stopping, their ticker's bar for it in, not decided for it yet.
    private func readyCards(_ cards: Cards, minute: Timestamp) -> [AlgorithmInstance] {
        cards.running.filter { card in
            !cards.stopping.contains(card.id) && cards.latest[card.ticker] == minute
                && (decidedMinute[card.id].map { $0 < minute } ?? true)
        }
    }

    /// Runs the cards' algorithms side by side (`concurrency` at a time); each card is decided once a minute.
    private func decide(_ cards: [AlgorithmInstance], minute: Timestamp) async -> [CardDecider.CardResult] {
        for card in cards { decidedMinute[card.id] = minute }
        let openCards = (try? await desk.cardsWithOpenIntents()) ?? []
        openOrders = openCards.count
        let decider = self.decider
        // A script's cards all go at once: its worker pipelines the minute's decisions (threads are for compiled ones).
        let limit = cards.contains { catalog.entry(named: $0.algorithmType) == nil } ? max(1, cards.count) : options.concurrency
        let results = await cards.concurrentMap(limit: limit) { card in
            await decider.decide(card, minute: minute, hasOpenOrder: openCards.contains(card.id))
        }
        for error in results.compactMap(\.error) { lastError = error }
        return results
    }

    /// Writes every order of the minute down in one transaction (one fsync) before any is sent. Returns the
    /// intents to send and the decision-log entries of the orders refused (by the guards, or all of them
    /// when the write failed).
    private func writeIntents(
        _ requests: [SystemDatabase.IntentRequest], cards: [AlgorithmInstance], minute: Timestamp
    ) -> (outgoing: [Outgoing], refused: [DecisionEntry]) {
        guard !requests.isEmpty else { return ([], []) }
        let written: [Result<OrderIntent, OrderRefusal>]
        do {
            written = try system.createIntents(requests)
        } catch {
            note(error: "writing the minute's order intents: \(error)")
            return ([], requests.map { request in
                DecisionEntry(
                    algorithmId: request.algorithmId, minute: minute, decision: .error, shares: request.shares,
                    reason: "could not write the order intent: \(error)")
            })
        }
        var outgoing: [Outgoing] = []
        var refused: [DecisionEntry] = []
        for (request, result) in zip(requests, written) {
            let ticker = cards.first { $0.id == request.algorithmId }?.ticker ?? ""
            switch result {
            case .success(let intent):
                outgoing.append((intent, ticker))
            case .failure(let refusal):
                logger.notice("decision refused by the guards", metadata: [
                    "card": "\(request.algorithmId)", "ticker": "\(ticker)", "minute": "\(minute)",
                    "side": "\(request.side.rawValue)", "shares": "\(request.shares)", "reason": "\(refusal)",
                ])
                refused.append(DecisionEntry(
                    algorithmId: request.algorithmId, minute: minute, decision: .refused, shares: request.shares,
                    reason: "\(request.side.rawValue) \(request.shares): \(request.reason)", outcome: refusal.description))
            }
        }
        return (outgoing, refused)
    }

    /// Sends the written orders side by side (`sendConcurrency` at a time).
    private func send(_ outgoing: [Outgoing]) async {
        guard !outgoing.isEmpty else { return }
        let desk = self.desk
        _ = await outgoing.concurrentMap(limit: options.sendConcurrency) { order in
            await desk.submit(order.intent, symbol: order.symbol)
        }
        ordersSent += outgoing.count
    }

    private func logDecisions(_ entries: [DecisionEntry]) {
        do {
            try system.logDecisions(entries)
            decisionsLogged += entries.count
        } catch {
            note(error: "writing the decision log: \(error)")
        }
    }

    /// Once per broker date, while the market is closed (nothing is latency-critical then): drops the
    /// decision log's holds older than `keepHoldDays`, measured on the broker's clock, not the machine's.
    private func pruneDecisionLog(brokerNow: Timestamp) {
        guard let days = options.keepHoldDays else { return }
        let date = String(brokerNow.text.prefix(10))
        guard prunedOn != date else { return }
        prunedOn = date
        let cutoff = brokerNow.adding(minutes: -days * 24 * 60)
        do {
            let deleted = try system.pruneHoldDecisions(before: cutoff)
            if deleted > 0 {
                logger.info("pruned the decision log", metadata: ["holds_deleted": "\(deleted)", "before": "\(cutoff)"])
            }
        } catch {
            note(error: "pruning the decision log: \(error)")
        }
    }

    /// Carries out "sell everything, then stop" for cards that asked.
    private func liquidate(_ cards: [AlgorithmInstance], minute: Timestamp) async {
        guard !cards.isEmpty else { return }
        let openCards = (try? await desk.cardsWithOpenIntents()) ?? []
        for card in cards where !openCards.contains(card.id) {
            let metadata: Logger.Metadata = ["card": "\(card.id)", "ticker": "\(card.ticker)", "minute": "\(minute)"]
            do {
                let held = try system.position(algorithmId: card.id).shares
                if held == 0 {
                    if try system.finishLiquidationIfFlat(algorithmId: card.id) {
                        logger.info("card holds no shares; stopped as asked", metadata: metadata)
                    }
                    continue
                }
                let result = try system.createIntent(
                    algorithmId: card.id, minute: minute, side: .sell, shares: held, price: 0, purpose: .liquidate,
                    reason: "sell everything, then stop (as asked)")
                switch result {
                case .success(let intent):
                    ordersSent += 1
                    logger.info("selling everything before stopping", metadata: metadata.merging(["shares": "\(held)"]) { $1 })
                    _ = await desk.submit(intent, symbol: card.ticker)
                case .failure(let refusal):
                    logger.notice("liquidation waits", metadata: metadata.merging(["reason": "\(refusal)"]) { $1 })
                }
            } catch {
                note(error: "liquidating card \(card.id): \(error)")
            }
            decidedMinute[card.id] = minute
        }
    }

    /// Cards that got no bar for `minute` before the next minute began: skipped, and logged.
    private func logSkips(minute: Timestamp, cards: Cards) {
        var entries: [DecisionEntry] = []
        for card in cards.running where !cards.stopping.contains(card.id) && card.createdAt <= minute.adding(minutes: 1) {
            guard decidedMinute[card.id].map({ $0 < minute }) ?? true else { continue }
            decidedMinute[card.id] = minute
            let newest = cards.latest[card.ticker].map { "newest bar \($0)" } ?? "no bar at all"
            logger.info("skipped: no fresh bar", metadata: [
                "card": "\(card.id)", "ticker": "\(card.ticker)", "minute": "\(minute)", "newest": "\(newest)",
            ])
            entries.append(DecisionEntry(
                algorithmId: card.id, minute: minute, decision: .skip, reason: "no bar for \(minute) (\(newest))"))
        }
        logDecisions(entries)
    }

    // MARK: - Heartbeat

    public var status: ExecutorStatus {
        ExecutorStatus(
            mode: configuration.mode.rawValue, marketOpen: marketOpen, minute: currentMinute, runningCards: runningCount,
            openOrders: openOrders, hungDecisions: runner.hungCards.sorted(), ordersSent: ordersSent,
            decisionsLogged: decisionsLogged, lastError: lastError)
    }

    func statusLine() -> String {
        "\(marketOpen ? "market open" : "market closed"); minute \(currentMinute?.text ?? "none"); \(runningCount) cards; \(ordersSent) orders sent"
            + (tradeUpdates == nil ? "" : "; trade updates \(tradeUpdatesListening ? "listening" : "down, polling")")
    }

    /// `starting` until the open intents are reconciled; `degraded` while a decision hangs.
    public func heartbeatReport() async -> HeartbeatReport {
        if let deskError = await desk.lastError, deskError != lastError { lastError = deskError }
        let state: ServiceHeartbeat.State = !readiness.isReady ? .starting : runner.hungCards.isEmpty ? .running : .degraded
        return HeartbeatReport(state: state, detail: status, status: statusLine())
    }

    private func note(error text: String) {
        lastError = text
        logger.warning("\(text)")
    }
}

extension Array where Element: Sendable {
    /// `transform` of every element, at most `limit` at a time; the results in the order they finish.
    func concurrentMap<T: Sendable>(limit: Int, _ transform: @escaping @Sendable (Element) async -> T) async -> [T] {
        await withTaskGroup(of: T.self) { group in
            var results: [T] = []
            results.reserveCapacity(count)
            for (index, element) in enumerated() {
                if index >= limit, let result = await group.next() { results.append(result) }
                group.addTask { await transform(element) }
            }
            for await result in group { results.append(result) }
            return results
        }
    }
}

/// Decides one card for one minute and sends the order the guards allow. A value with no state
/// of its own, so the executor runs many side by side, off its actor.
struct CardDecider: Sendable {
    let catalog: AlgorithmCatalog
    let watch: BarWatch
    let system: SystemDatabase
    let runner: DecisionRunner
    let logger: Logger
    /// The folder's script algorithms, for cards whose algorithm isn't compiled in.
    var scripts: ScriptAlgorithms? = nil

    /// What deciding one card came to.
    struct CardResult: Sendable {
        /// The decision to log (nil: it becomes an order, logged with its intent).
        var entry: DecisionEntry?
        /// The order it asks for, checked and written with the minute's others.
        var order: SystemDatabase.IntentRequest?
        var error: String?
    }

    /// Runs one card's algorithm for `minute` and acts on it. Off the actor: cards are decided side by side.
    func decide(_ card: AlgorithmInstance, minute: Timestamp, hasOpenOrder: Bool) async -> CardResult {
        let metadata: Logger.Metadata = ["card": "\(card.id)", "ticker": "\(card.ticker)", "minute": "\(minute)"]
        func entry(_ kind: DecisionRecord.Kind, _ reason: String, shares: Int? = nil, outcome: String = "") -> CardResult {
            CardResult(entry: DecisionEntry(
                algorithmId: card.id, minute: minute, decision: kind, shares: shares, reason: reason, outcome: outcome))
        }
        func failure(_ text: String, _ reason: String, shares: Int? = nil) -> CardResult {
            logger.warning("\(text)", metadata: metadata)
            var result = entry(.error, reason, shares: shares)
            result.error = text
            return result
        }
        guard let algorithm = catalog.entry(named: card.algorithmType) else {
            return await decideScript(card, minute: minute, hasOpenOrder: hasOpenOrder, metadata: metadata)
        }
        if hasOpenOrder {
            logger.info("skipped: the previous order is still open", metadata: metadata)
            return entry(.skip, "the previous order is still open")
        }
        let input: AlgorithmInput
        do {
            let bars = try watch.bars(ticker: card.ticker, before: minute.adding(minutes: 1), count: algorithm.barsNeeded)
            let trades = try system.trades(algorithmId: card.id).reversed()
            input = AlgorithmInput(
                ticker: card.ticker, initialCapital: card.initialCapital, bars: bars, transactions: Array(trades), now: minute)
        } catch {
            return failure("reading card \(card.id)'s bars or transactions: \(error)", "could not read bars or transactions: \(error)")
        }
        let decision: AlgorithmDecision
        switch await runner.run(card: card.id, algorithm: algorithm.type, input: input) {
        case .decided(let answer):
            decision = answer
        case .threw(let message):
            logger.warning("algorithm threw", metadata: metadata.merging(["error": "\(message)"]) { $1 })
            return entry(.error, "the algorithm threw: \(message)")
        case .timedOut:
            logger.warning("algorithm took too long; abandoned", metadata: metadata.merging(["limit": "\(runner.timeLimit)"]) { $1 })
            return entry(.error, "the algorithm took longer than \(runner.timeLimit)")
        case .stillBusy:
            logger.warning("skipped: the algorithm's previous decision is still running", metadata: metadata)
            return entry(.skip, "the algorithm's previous decision is still running")
        }

        // The same mapping the backtest uses; the guards run where the intent is written (`createIntents`).
        guard let plan = OrderPlan(decision, lastPrice: input.lastPrice) else { return entry(.hold, decision.reason) }
        return CardResult(order: SystemDatabase.IntentRequest(
            algorithmId: card.id, minute: minute, side: plan.side, shares: plan.shares, price: plan.price, reason: plan.reason))
    }
}
