import Foundation
import Logging
import Synchronization

/// How the streamer paces itself. The defaults suit Alpaca; tests shorten some.
public struct StreamerOptions: Sendable {
    /// How often system.db is read for running cards.
    public var pollInterval: Duration = .seconds(1)
    /// How often the broker's clock is asked whether the market is open (for the quiet-connection watchdog).
    public var clockInterval: Duration = .seconds(5)
    /// Sessions of history before today's (at least two).
    public var lookbackSessions = 2
    /// Market minutes of history the longest indicator needs.
    public var lookbackMinutes = 0
    /// A connection silent this long while the market is open is replaced.
    public var idleTimeout: Duration? = .seconds(150)
    /// First wait after a failed history fetch (doubles to `repairRetryMaximum`).
    public var repairRetryInitial: Duration = .seconds(1)
    public var repairRetryMaximum: Duration = .seconds(30)
    public var backoff: AlpacaBarStream.Backoff = {
        var backoff = AlpacaBarStream.Backoff.marketData
        // A connection that authenticated and lived a couple of seconds worked: a server that drops
        // connections now and then must not push the reconnect delay to its maximum.
        backoff.healthyAfter = .seconds(2)
        return backoff
    }()

    public init() {}
}

/// What the heartbeat row's `detail` says.
public struct StreamerStatus: Codable, Sendable, Equatable {
    public var mode: String
    public var tickers: [String]
    public var connected: Bool
    public var subscribed: [String]
    public var newestBar: Timestamp?
    public var barsWritten: Int
    public var pendingBars: Int
    public var pendingRepairs: [String]
    public var lastError: String?

    enum CodingKeys: String, CodingKey {
        case mode, tickers, connected, subscribed, newestBar = "newest_bar", barsWritten = "bars_written"
        case pendingBars = "pending_bars", pendingRepairs = "pending_repairs", lastError = "last_error"
    }
}

/// Whether bars should be flowing (the broker says the market is open), shared with the stream's watchdog.
final class MarketOpenFlag: Sendable {
    private let value = Mutex(false)
    var isOpen: Bool {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// The streamer: keeps the bar stream subscribed to exactly the tickers of running cards, writes every
/// regular-hours bar to stocks.db as it arrives, backfills and repairs over REST after every (re)connect,
/// and reports itself for its heartbeat (`HeartbeatService`: system.db's row and systemd). A `Service`:
/// `start()` on run, `shutdown()` on SIGTERM.
public actor StreamerService: StartStopService, HeartbeatReporting {
    public static let serviceName = "streamer"

    let configuration: AlpacaConfiguration
    let system: SystemDatabase
    let ingest: BarIngest
    let repair: GapRepair
    let client: AlpacaClient
    let stream: AlpacaBarStream
    /// The broker's clock, extrapolated between reads: whether the market is open, and the stream watchdog's time.
    let brokerClock: BrokerClock
    let options: StreamerOptions
    let logger: Logger
    public nonisolated let heartbeatWriter: HeartbeatWriter
    /// Ready once the stream is authenticated (and subscribed, when cards run).
    public nonisolated let readiness = ServiceReadiness()
    let marketOpen = MarketOpenFlag()
    let arrivals = StreamArrivals()

    private var subscriptions = TickerSubscriptions()
    private var confirmed: Set<String> = []
    private var connected = false
    private var pending: [MinuteBar] = []
    private var newestBar: Timestamp?
    private var barsWritten = 0
    private var lastError: String?
    /// Tickers waiting for a history fetch, with the number of the request (a request that comes in
    /// while a fetch of the same ticker is under way must lead to another fetch: its "now" is later).
    private var pendingRepairs: [String: Int] = [:]
    private var repairRequests = 0
    private var coveredThrough: [String: Timestamp] = [:]
    private var repairWake: AsyncStream<Void>.Continuation?
    private var tasks: [Task<Void, Never>] = []
    private var consumer: Task<Void, Never>?
    private var stopped = false

    public init(
        configuration: AlpacaConfiguration, system: SystemDatabase, stocks: StocksDatabase, calendar: MarketCalendar,
        options: StreamerOptions = StreamerOptions(), logger: Logger = Logger(label: "streamer")
    ) {
        self.configuration = configuration
        self.system = system
        self.options = options
        self.logger = logger
        let client = AlpacaClient(configuration: configuration, logger: logger)
        self.client = client
        let ingest = BarIngest(stocks: stocks, calendar: calendar, logger: logger)
        self.ingest = ingest
        self.repair = GapRepair(
            client: client, ingest: ingest, lookbackSessions: options.lookbackSessions, lookbackMinutes: options.lookbackMinutes,
            logger: logger)
        let flag = marketOpen
        let brokerClock = BrokerClock(client: client)
        self.brokerClock = brokerClock
        self.stream = AlpacaBarStream(
            configuration: configuration, logger: logger, backoff: options.backoff, idleTimeout: options.idleTimeout,
            // Open by the broker's last word and, between reads, by the calendar at the extrapolated broker time
            // (at an accelerated simulator's pace a 15 s old "open" would outlive the close by half an hour).
            expectsData: {
                guard flag.isOpen else { return false }
                guard let now = try? await brokerClock.now().time else { return true }
                return calendar.session(containing: Timestamp(secondsSinceEpoch: Int64(now))) != nil
            },
            brokerNow: { try? await brokerClock.now().time })
        self.heartbeatWriter = HeartbeatWriter(system: system, service: Self.serviceName)
    }

    /// Starts everything and returns at once; `shutdown()` stops it.
    public func start() async {
        logger.info("streamer starting", metadata: ["alpaca": "\(configuration.description)"])
        // Subscriptions first, from system.db alone, so the first connection subscribes them at once.
        await poll()
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        repairWake = wake
        if !pendingRepairs.isEmpty { wake.yield() }
        let stream = self.stream
        consumer = Task { [weak self] in
            for await event in stream.events {
                guard let self else { return }
                await self.handle(event)
            }
            await self?.markConsumerDone()
        }
        tasks.append(Task { await stream.run() })
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: self?.options.pollInterval ?? .seconds(1))
                guard let self, !Task.isCancelled else { return }
                await self.poll()
                await self.flushPending()
            }
        })
        tasks.append(Task { [weak self] in
            for await _ in wakeups {
                guard let self, !Task.isCancelled else { return }
                await self.repairPending()
            }
        })
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                await self.refreshClock()
                try? await Task.sleep(for: self.options.clockInterval)
            }
        })
    }

    /// Stops the stream and the loops and writes what is still pending. (Its heartbeat, stopped after it,
    /// then marks the row stopped.)
    public func shutdown() async {
        guard !stopped else { return }
        stopped = true
        logger.info("streamer stopping")
        for task in tasks { task.cancel() }
        repairWake?.finish()
        // Let the consumer write what already arrived, briefly: what is lost is re-fetched on restart.
        if let consumer {
            let deadline = ContinuousClock.now + .milliseconds(400)
            while ContinuousClock.now < deadline && !consumerDone {
                try? await Task.sleep(for: .milliseconds(20))
            }
            consumer.cancel()
        }
        await flushPending()
        logger.info("streamer stopped", metadata: ["bars_written": "\(barsWritten)"])
    }

    private var consumerDone = false
    private func markConsumerDone() { consumerDone = true }

    // MARK: - Subscriptions

    /// Reads the running cards and brings the stream's symbols in line.
    func poll() async {
        let running: [AlgorithmInstance]
        do {
            running = try system.algorithms(status: .running)
        } catch {
            note(error: "cannot read system.db: \(error)")
            return
        }
        let change = subscriptions.update(running: running)
        guard !change.isEmpty else { return }
        for ticker in change.removed {
            coveredThrough[ticker] = nil
            pendingRepairs[ticker] = nil
        }
        await stream.setSymbols(subscriptions.tickers)
        logger.info("subscriptions changed", metadata: [
            "added": "\(change.added.sorted())", "removed": "\(change.removed.sorted())", "tickers": "\(subscriptions.tickers.sorted())",
        ])
        if !change.added.isEmpty { requestRepair(change.added) }
    }

    // MARK: - Stream events

    func handle(_ event: AlpacaBarStream.Event) async {
        switch event {
        case .connected:
            break
        case .authenticated:
            connected = true
            // No running card: nothing to subscribe, so no subscription reply will come; ready now.
            if subscriptions.tickers.isEmpty { readiness.ready() }
        case .subscribed(let subscription):
            // Everything from here on arrives on the stream: fill what it missed before. Only for symbols new
            // to this connection: one added to a live subscription leaves the others' bars uninterrupted.
            let newlyConfirmed = Set(subscription.bars).subtracting(confirmed)
            confirmed = Set(subscription.bars)
            requestRepair(newlyConfirmed.intersection(subscriptions.tickers))
            readiness.ready()
        case .bars(let streamBars):
            let bars = streamBars.map(\.minuteBar).filter { subscriptions.tickers.contains($0.ticker) }
            arrivals.record(bars)
            pending.append(contentsOf: bars)
            await flushPending()
        case .streamError(let error):
            lastError = error.description
            if error.reaction == .stop {
                logger.error("stream refused: \(error.description); retrying slowly", metadata: ["retry_in_s": "\(options.backoff.refused.milliseconds / 1000)"])
            }
        case .disconnected(let reason):
            connected = false
            confirmed = []
            // Closing it ourselves at shutdown is no cause for a warning.
            logger.log(level: stopped ? .info : .warning, "stream disconnected", metadata: ["reason": "\(reason)"])
        }
    }

    /// Writes the bars waiting (one transaction); on failure they stay for the next try.
    func flushPending() async {
        guard !pending.isEmpty else { return }
        let batch = pending
        do {
            let written = try await ingest.write(batch)
            pending.removeFirst(min(batch.count, pending.count))
            barsWritten += written
            for bar in batch where ingest.calendarAllows(bar) { if newestBar.map({ bar.timestamp > $0 }) ?? true { newestBar = bar.timestamp } }
        } catch is CancellationError {
            // Shutting down: the bars stay pending and shutdown() writes them.
        } catch {
            note(error: "cannot write \(batch.count) bars to stocks.db (kept, retrying): \(error)")
        }
    }

    // MARK: - History

    func requestRepair(_ tickers: Set<String>) {
        guard !tickers.isEmpty else { return }
        repairRequests += 1
        for ticker in tickers { pendingRepairs[ticker] = repairRequests }
        repairWake?.yield()
    }

    /// Fetches history for every ticker waiting, one at a time; failures wait and try again.
    func repairPending() async {
        var delay = options.repairRetryInitial
        while !pendingRepairs.isEmpty && !Task.isCancelled && !stopped {
            // The requests this round answers: taken before the clock is read, so a later one stays pending.
            let batch = pendingRepairs
            let now: Timestamp
            do {
                now = Timestamp(try await client.clock().timestamp)
            } catch {
                note(error: "cannot read the broker's clock: \(error)")
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, options.repairRetryMaximum)
                continue
            }
            var failed = false
            for ticker in batch.keys.sorted() {
                guard subscriptions.tickers.contains(ticker) else { pendingRepairs[ticker] = nil; continue }
                do {
                    if let from = try repair.fetchStart(ticker: ticker, now: now, coveredThrough: coveredThrough[ticker]) {
                        let written = try await repair.fetch(ticker: ticker, from: from, now: now, arrivals: arrivals)
                        barsWritten += written
                    }
                    // Only if the ticker is still wanted (it may have been dropped while fetching).
                    if subscriptions.tickers.contains(ticker) {
                        coveredThrough[ticker] = max(coveredThrough[ticker] ?? now.minuteStart, now.minuteStart)
                    }
                    // Done, unless it was asked for again after `now` was read.
                    if pendingRepairs[ticker] == batch[ticker] { pendingRepairs[ticker] = nil }
                    if let latest = try? ingest.stocks.latestBar(ticker: ticker)?.timestamp, newestBar.map({ latest > $0 }) ?? true {
                        newestBar = latest
                    }
                } catch {
                    failed = true
                    note(error: "history for \(ticker) failed (will retry): \(error)")
                }
                if Task.isCancelled || stopped { return }
            }
            if failed {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, options.repairRetryMaximum)
            } else {
                delay = options.repairRetryInitial
            }
        }
    }

    func refreshClock() async {
        do {
            marketOpen.isOpen = try await brokerClock.now().isOpen
        } catch {
            logger.debug("clock unavailable", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Heartbeat

    public var status: StreamerStatus {
        StreamerStatus(
            mode: configuration.mode.rawValue, tickers: subscriptions.tickers.sorted(), connected: connected,
            subscribed: confirmed.sorted(), newestBar: newestBar, barsWritten: barsWritten, pendingBars: pending.count,
            pendingRepairs: pendingRepairs.keys.sorted(), lastError: lastError)
    }

    func statusLine() -> String {
        let tickers = subscriptions.tickers.sorted()
        return "\(connected ? "connected" : "disconnected"); \(tickers.count) tickers\(tickers.isEmpty ? "" : " (\(tickers.prefix(10).joined(separator: ","))\(tickers.count > 10 ? ",…" : ""))"); newest bar \(newestBar?.text ?? "none")"
    }

    public func heartbeatReport() -> HeartbeatReport {
        HeartbeatReport(
            state: (connected || subscriptions.tickers.isEmpty) && pending.isEmpty ? .running : .degraded,
            detail: status, status: statusLine())
    }

    private func note(error text: String) {
        lastError = text
        logger.warning("\(text)")
    }
}

extension BarIngest {
    func calendarAllows(_ bar: MinuteBar) -> Bool { (try? calendar.isOpen(at: bar.timestamp)) == true }
}
