import Foundation
import GRDB
import Testing
@testable import AutoTraderCore
#if canImport(Glibc)
import Glibc
#endif

/// `autotrader-streamer`: subscription counting (pure), and the built binary against `autotrader-sim`
/// at 60× (a market minute a second) with forced disconnects, SIGKILLs and extended-hours bars.
@Suite struct StreamerSubscriptionTests {
    /// Cards of several tickers (some sharing one), created and stopped in many orders: after every step the
    /// subscribed tickers are exactly those with a running card, and a ticker leaves only with its last card.
    @Test func streamArrivalsStayBoundedAndStillKnowTheRecentBars() {
        // 30 days of ten tickers, one frame a minute with a bar each: 117,000 bars.
        let arrivals = StreamArrivals()
        let tickers = (0..<10).map { "T\($0)" }
        var minute = Timestamp.at("2024-06-03T13:30:00Z")
        var peak = 0
        var markBeforeLast: UInt64 = 0
        for index in 0..<11_700 {
            if index == 11_699 { markBeforeLast = arrivals.mark() }
            arrivals.record(tickers.map { MinuteBar(ticker: $0, timestamp: minute, open: 1, high: 1, low: 1, close: 1, volume: 1) })
            peak = max(peak, arrivals.count)
            minute = minute.adding(minutes: 1)
        }
        #expect(peak <= 40_010, "remembered \(peak) bars at most")
        #expect(arrivals.count >= 20_000)
        let last = minute.adding(minutes: -1)
        #expect(arrivals.arrived(ticker: "T3", minute: last, after: markBeforeLast))
        #expect(!arrivals.arrived(ticker: "T3", minute: last.adding(minutes: -1), after: markBeforeLast))
        #expect(!arrivals.arrived(ticker: "T3", minute: Timestamp.at("2024-06-03T13:30:00Z"), after: 0), "long pruned")
    }

    @Test func aTickerStaysSubscribedUntilItsLastRunningCardStopsWhateverTheOrder() {
        let cards = ["AAPL", "AAPL", "MSFT", "AAPL", "NVDA", "MSFT"]
        var generator = SplitMix64(seed: 42)
        for round in 0..<200 {
            // A random interleaving of creates and stops, each card stopped after it was created.
            var events: [(card: Int, start: Bool)] = []
            var created: [Int] = [], pendingStart = Array(cards.indices).shuffled(using: &generator)
            while !pendingStart.isEmpty || !created.isEmpty {
                if !pendingStart.isEmpty && (created.isEmpty || Bool.random(using: &generator)) {
                    let card = pendingStart.removeLast()
                    events.append((card, true))
                    created.append(card)
                } else {
                    let card = created.remove(at: Int.random(in: 0..<created.count, using: &generator))
                    events.append((card, false))
                }
            }
            var polled = TickerSubscriptions(), counted = TickerSubscriptions()
            var running: Set<Int> = []
            for event in events {
                let before = polled.tickers
                if event.start { running.insert(event.card) } else { running.remove(event.card) }
                let change = polled.update(runningTickers: running.sorted().map { cards[$0] })
                let countedChange = event.start ? counted.cardStarted(ticker: cards[event.card]) : counted.cardStopped(ticker: cards[event.card])
                let expected = Set(running.map { cards[$0] })
                #expect(polled.tickers == expected, "round \(round)")
                #expect(counted.tickers == expected, "round \(round)")
                #expect(change == countedChange, "round \(round)")
                #expect(change.added == expected.subtracting(before) && change.removed == before.subtracting(expected))
                for ticker in Set(cards) {
                    #expect(polled.count(of: ticker) == running.filter { cards[$0] == ticker }.count)
                }
            }
            #expect(polled.tickers.isEmpty && counted.tickers.isEmpty)
        }
    }

    @Test func stoppingOneOfTwoCardsKeepsTheTickerAndRepeatedPollsChangeNothing() {
        var subscriptions = TickerSubscriptions()
        #expect(subscriptions.update(runningTickers: ["AAPL", "AAPL", "MSFT"]) == .init(added: ["AAPL", "MSFT"], removed: []))
        #expect(subscriptions.update(runningTickers: ["AAPL", "AAPL", "MSFT"]).isEmpty)
        #expect(subscriptions.update(runningTickers: ["AAPL", "MSFT"]).isEmpty)
        #expect(subscriptions.count(of: "AAPL") == 1)
        #expect(subscriptions.update(runningTickers: ["MSFT"]) == .init(added: [], removed: ["AAPL"]))
        #expect(subscriptions.cardStopped(ticker: "AAPL").isEmpty) // never below zero
        #expect(subscriptions.update(runningTickers: []) == .init(added: [], removed: ["MSFT"]))
    }

    @Test func backfillWindowIsTheTwoPreviousSessionsOrTheLongestLookback() throws {
        let calendar = try MarketCalendar()
        let ingest = BarIngest(stocks: SharedStocks.database, calendar: calendar)
        let client = AlpacaClient(configuration: .simulator())
        // Tuesday 2024-06-04 10:00 New York: the previous sessions are Monday 06-03 and Friday 05-31.
        let now = Timestamp.at("2024-06-04T14:00:00Z")
        #expect(GapRepair(client: client, ingest: ingest).windowStart(now: now) == .at("2024-05-31T13:30:00Z"))
        // Saturday: Friday and Thursday.
        #expect(GapRepair(client: client, ingest: ingest).windowStart(now: .at("2024-06-08T15:00:00Z")) == .at("2024-06-06T13:30:00Z"))
        // 1000 market minutes before 10:00 on 06-04: 30 today + 390 + 390 + 390 (05-30 too).
        #expect(GapRepair(client: client, ingest: ingest, lookbackMinutes: 1000).windowStart(now: now) == .at("2024-05-30T13:30:00Z"))
    }

    @Test func onlyRegularHoursBarsAreStorable() throws {
        let ingest = BarIngest(stocks: SharedStocks.database, calendar: try MarketCalendar())
        func bar(_ time: String) -> MinuteBar {
            MinuteBar(ticker: "AAPL", timestamp: .at(time), open: 1, high: 1, low: 1, close: 1, volume: 1)
        }
        let bars = ["2024-06-04T13:29:00Z", "2024-06-04T13:30:00Z", "2024-06-04T19:59:00Z", "2024-06-04T20:00:00Z", "2024-06-08T15:00:00Z"].map(bar)
        #expect(ingest.storable(bars).map(\.timestamp.text) == ["2024-06-04T13:30:00Z", "2024-06-04T19:59:00Z"])
    }

    @Test func sdNotifyDatagramsReachAFileSocketAndAnAbstractOne() throws {
        let directory = TemporaryDirectory("notify")
        for name in [directory.file("notify.sock"), "@autotrader-test-\(UUID().uuidString.prefix(8))"] {
            let socket = try NotifySocket(name: name)
            let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": name, "WATCHDOG_USEC": "4000000"])
            #expect(notifier.watchdogInterval == .seconds(2))
            notifier.ready(status: "2 tickers")
            #expect(socket.receive() == "READY=1\nSTATUS=2 tickers")
            notifier.watchdog()
            #expect(socket.receive() == "WATCHDOG=1")
        }
        #expect(SystemdNotifier(environment: [:]).send(["READY=1"]) == false)
    }
}

/// The built `autotrader-streamer` against `autotrader-sim`.
@Suite(.serialized) struct StreamerProcessTests {
    static let symbols = ["AAPL", "MSFT", "NVDA"]
    /// Tuesday 2024-06-04 10:00 New York; the backfill window opens on Friday 05-31.
    static let simStart = ["--start", "2024-06-04T14:00:00Z", "--speed", "60", "--seed", "7"]
    static let windowStart = Timestamp.at("2024-05-31T13:30:00Z")

    struct Setup {
        let directory: TemporaryDirectory
        let systemPath: String
        let stocksPath: String
        let system: SystemDatabase
        let stocks: StocksDatabase
        let reaper = Reaper()
    }

    /// Kills the streamers a test started if it ends early (a failed wait throws past the SIGTERM).
    final class Reaper: @unchecked Sendable {
        private let lock = NSLock()
        private var processes: [Process] = []
        func add(_ process: Process) { lock.withLock { processes.append(process) } }
        deinit { for process in processes { process.stopInBackground(signal: SIGKILL) } }
    }

    func setUp() async throws -> Setup {
        let directory = TemporaryDirectory("streamer")
        let systemPath = directory.file("system_databse/system.db"), stocksPath = directory.file("database/stocks.db")
        let initRun = try await Executables.run(
            "autotrader", ["init", "--system-db", systemPath, "--stocks-db", stocksPath], directory: directory)
        #expect(initRun.status == 0, "\(initRun.stderr)")
        return Setup(
            directory: directory, systemPath: systemPath, stocksPath: stocksPath,
            system: try SystemDatabase.open(path: systemPath), stocks: try StocksDatabase.open(path: stocksPath))
    }

    func startStreamer(
        _ setup: Setup, _ sim: SimulatorProcess, arguments: [String] = [], environment: [String: String] = [:]
    ) throws -> RunningProcess {
        var env = ["AUTOTRADER_SIM_URL": sim.baseURL.absoluteString]
        for (key, value) in environment { env[key] = value }
        let running = try Executables.start(
            "autotrader-streamer",
            ["--system-db", setup.systemPath, "--stocks-db", setup.stocksPath, "--heartbeat-interval", "0.5", "--poll-interval", "0.2"]
                + arguments,
            environment: env, directory: setup.directory)
        setup.reaper.add(running.process)
        return running
    }

    /// SIGTERM, then the exit status and how long it took. The tests check that duration only against systemd's
    /// `TimeoutStopSec` (15 s, `Self.stopLimit`): past it systemd SIGKILLs the streamer and what is pending is lost.
    /// That is a deadline, not a stopwatch: the streamer's own waits (backoff up to 300 s, repair pauses up to 30 s, a
    /// busy stocks.db) are all longer, so a shutdown that waited for any of them still fails. (The README's "within
    /// 2 s" is a figure for a quiet machine, not something a loaded test machine can time.)
    func terminate(_ process: RunningProcess) async -> (ProcessResult, Duration) {
        let started = ContinuousClock.now
        process.process.send(SIGTERM)
        let result = await process.wait()
        return (result, ContinuousClock.now - started)
    }

    func heartbeat(_ setup: Setup) throws -> ServiceHeartbeat? { try setup.system.heartbeat(service: "streamer") }

    /// systemd's `TimeoutStopSec` for the streamer (systemd/autotrader-streamer.service).
    static let stopLimit: Duration = .seconds(15)

    /// Whether stocks.db holds every bar the simulator has for `tickers` in `from...through` (extras and values are
    /// left to `expectExactlyGroundTruth`): the condition to wait for before the exact comparison.
    func holdsEveryBar(_ setup: Setup, _ sim: SimulatorProcess, tickers: [String], from: Timestamp, through: Timestamp) async throws -> Bool {
        let truth = try await sim.request(
            "GET", "/sim/bars?symbols=\(tickers.joined(separator: ","))&start=\(from.text)&end=\(through.text)"
        ).decode(AlpacaMultiBarsPage.self).bars
        for ticker in tickers {
            let stored = Set(try setup.stocks.bars(ticker: ticker, from: from, to: through.adding(minutes: 1)).map(AlpacaBar.init).map(\.t))
            guard let expected = truth[ticker], !expected.isEmpty, expected.allSatisfy({ stored.contains($0.t) }) else { return false }
        }
        return true
    }

    /// Waits until every ticker has a stored bar at least as new as `minute`.
    func waitForBars(_ setup: Setup, _ sim: SimulatorProcess, tickers: [String], through minute: Timestamp, timeout: TimeInterval = 20) async throws {
        _ = try await sim.waitFor(timeout: timeout) {
            try tickers.allSatisfy { try (setup.stocks.latestBar(ticker: $0)?.timestamp ?? .at("2000-01-01T00:00:00Z")) >= minute } ? true : nil
        }
    }

    /// The simulator's clock from /sim/clock (never subject to injected faults).
    func simNow(_ sim: SimulatorProcess) async throws -> Timestamp {
        Timestamp(try await sim.request("GET", "/sim/clock").decode(AlpacaClock.self).timestamp)
    }

    /// stocks.db holds exactly the feed's bars of `tickers` in `from...through`: nothing missing, nothing extra.
    func expectExactlyGroundTruth(
        _ setup: Setup, _ sim: SimulatorProcess, tickers: [String], from: Timestamp, through: Timestamp,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let truth = try await sim.request(
            "GET", "/sim/bars?symbols=\(tickers.joined(separator: ","))&start=\(from.text)&end=\(through.text)"
        ).decode(AlpacaMultiBarsPage.self).bars
        for ticker in tickers {
            let expected = truth[ticker] ?? []
            let stored = try setup.stocks.bars(ticker: ticker, from: from, to: through.adding(minutes: 1)).map(AlpacaBar.init)
            #expect(!expected.isEmpty, sourceLocation: sourceLocation)
            let expectedTimes = Set(expected.map(\.t)), storedTimes = Set(stored.map(\.t))
            let missing = expectedTimes.subtracting(storedTimes).sorted(), extra = storedTimes.subtracting(expectedTimes).sorted()
            #expect(missing.isEmpty, "\(ticker): \(missing.count) bars missing, first \(missing.prefix(5))", sourceLocation: sourceLocation)
            #expect(extra.isEmpty, "\(ticker): \(extra.count) bars extra, first \(extra.prefix(5))", sourceLocation: sourceLocation)
            if missing.isEmpty && extra.isEmpty {
                let different = zip(expected, stored).filter { $0 != $1 }
                #expect(different.isEmpty, "\(ticker): \(different.count) bars differ, first \(different.prefix(2))", sourceLocation: sourceLocation)
            }
        }
    }

    /// Forced disconnects every 3 s and corrected bars (`u` messages), cards created and stopped while it runs; ends with SIGTERM (exit 0 within 2 s)
    /// and stocks.db holding exactly the simulator's bars since the backfill window opened.
    @Test func forcedDisconnectsLoseNothingAndSubscriptionsFollowTheCards() async throws {
        let setup = try await setUp()
        let sim = try await SimulatorProcess(Self.simStart + ["--disconnect-every", "3", "--updated-bar-rate", "0.3"])
        let aapl1 = try setup.system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 1000)
        let aapl2 = try setup.system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 1000)
        _ = try setup.system.createAlgorithm(ticker: "MSFT", algorithmType: "sma_crossover", initialCapital: 1000)
        let notify = try NotifySocket(name: setup.directory.file("notify.sock"))
        let collector = Task { // reads the datagrams as systemd would, so the queue never fills
            var all: [String] = []
            while !Task.isCancelled {
                all += notify.receiveAll()
                try? await Task.sleep(for: .milliseconds(50))
            }
            return all + notify.receiveAll()
        }
        let streamer = try startStreamer(setup, sim, environment: ["NOTIFY_SOCKET": setup.directory.file("notify.sock")])

        func subscribed() throws -> [String]? { try heartbeat(setup)?.detailObject["subscribed"] as? [String] }
        _ = try await sim.waitFor { try subscribed() == ["AAPL", "MSFT"] ? true : nil }
        // One AAPL card stops: AAPL stays. A new NVDA card: NVDA joins. The last AAPL card stops: AAPL goes.
        // (Not "wait 2 s and see that nothing changed": the NVDA card is created after the stop, so once NVDA is
        // subscribed the streamer has certainly read system.db with the AAPL card stopped, and AAPL must still be there.)
        try setup.system.stopAlgorithm(id: aapl2.id)
        _ = try setup.system.createAlgorithm(ticker: "NVDA", algorithmType: "sma_crossover", initialCapital: 1000)
        _ = try await sim.waitFor(timeout: 60) { try subscribed() == ["AAPL", "MSFT", "NVDA"] ? true : nil }
        #expect(try heartbeat(setup)?.detailObject["tickers"] as? [String] == ["AAPL", "MSFT", "NVDA"])
        try setup.system.stopAlgorithm(id: aapl1.id)
        _ = try await sim.waitFor(timeout: 60) { try subscribed() == ["MSFT", "NVDA"] ? true : nil }

        // At least four forced disconnects in all, two of them after the last subscription change (the sim's timer
        // runs from its own start, not the streamer's): counted, not slept for.
        let forcedBefore = try await simStats(sim)["stream_disconnects_forced", default: 0]
        _ = try await sim.waitFor(timeout: 60) {
            let forced = try await simStats(sim)["stream_disconnects_forced", default: 0]
            return forced >= 4 && forced >= forcedBefore + 2 ? true : nil
        }
        let now = try await simNow(sim)
        try await waitForBars(setup, sim, tickers: ["MSFT", "NVDA"], through: now.minuteStart.adding(minutes: -2), timeout: 60)
        _ = try await sim.waitFor(timeout: 90) {
            try await holdsEveryBar(setup, sim, tickers: ["MSFT", "NVDA"], from: Self.windowStart, through: now.minuteStart.adding(minutes: -2)) ? true : nil
        }
        let stoppedAt = try await simNow(sim)
        let (result, took) = await terminate(streamer)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(took < Self.stopLimit, "took \(took)")
        let stats: [String: Int] = try await sim.request("GET", "/sim/stats").decode()
        #expect(stats["stream_disconnects_forced", default: 0] >= 4)

        // Up to a minute whose correction was due before the stop (corrections come ~30 simulated s after a bar).
        let through = min(
            try ["MSFT", "NVDA"].compactMap { try setup.stocks.latestBar(ticker: $0)?.timestamp }.min()!,
            stoppedAt.minuteStart.adding(minutes: -3))
        #expect(stats["updated_bars_streamed", default: 0] > 0)
        try await expectExactlyGroundTruth(setup, sim, tickers: ["MSFT", "NVDA"], from: Self.windowStart, through: through)
        // AAPL stopped being streamed when its last card stopped: no bars after that (beyond the one in flight).
        let beat = try #require(try heartbeat(setup))
        #expect(beat.state == .stopped && beat.pid == streamer.process.processIdentifier)
        #expect(beat.detailObject["newest_bar"] as? String != nil)
        collector.cancel()
        let messages = await collector.value
        #expect(messages.contains { $0.hasPrefix("READY=1") }, "\(messages)")
        #expect(messages.contains("WATCHDOG=1") && messages.contains { $0.hasPrefix("STATUS=") }, "\(messages)")
        #expect(messages.contains("STOPPING=1"))
        #expect(!result.stderr.contains(sim.secretKey))
        await sim.terminate()
    }

    /// SIGKILL at random moments and restarts (with corrected bars on the feed): subscriptions come back from
    /// system.db alone, and the gaps (and corrections missed while down) are repaired so that stocks.db ends with exactly the simulator's bars.
    @Test func sigkillAtRandomMomentsAndRestartsLoseNothing() async throws {
        let setup = try await setUp()
        let sim = try await SimulatorProcess(Self.simStart + ["--updated-bar-rate", "0.3"])
        for ticker in Self.symbols {
            _ = try setup.system.createAlgorithm(ticker: ticker, algorithmType: "sma_crossover", initialCapital: 1000)
        }
        let seed = ProcessInfo.processInfo.environment["AUTOTRADER_TEST_SEED"].flatMap(UInt64.init) ?? UInt64(Date().timeIntervalSince1970)
        print("sigkillAtRandomMomentsAndRestartsLoseNothing: seed \(seed) (AUTOTRADER_TEST_SEED=\(seed) repeats it)")
        var generator = SplitMix64(seed: seed)
        for _ in 0..<3 {
            let streamer = try startStreamer(setup, sim)
            // The sleeps here are the experiment: a kill at a random moment (starting, backfilling, streaming) and a
            // random outage; what is checked afterwards (exactly the simulator's bars) holds whatever they hit.
            try await Task.sleep(for: .milliseconds(Int64.random(in: 700...3500, using: &generator)))
            streamer.process.send(SIGKILL)
            _ = await streamer.wait()
            // Down for a few simulated minutes.
            try await Task.sleep(for: .milliseconds(Int64.random(in: 500...3000, using: &generator)))
        }
        let streamer = try startStreamer(setup, sim)
        // Not "give it 4 s": wait until this streamer is up and subscribed, its bars reach past the moment it
        // was started, and the gaps the kills left are repaired (every bar since the window opened is in).
        _ = try await sim.waitFor(timeout: 60) {
            let beat = try heartbeat(setup)
            return beat?.pid == streamer.process.processIdentifier && beat?.detailObject["subscribed"] as? [String] == Self.symbols ? true : nil
        }
        let now = try await simNow(sim)
        try await waitForBars(setup, sim, tickers: Self.symbols, through: now.minuteStart.adding(minutes: 1), timeout: 60)
        _ = try await sim.waitFor(timeout: 90) {
            try await holdsEveryBar(setup, sim, tickers: Self.symbols, from: Self.windowStart, through: now.minuteStart.adding(minutes: -2)) ? true : nil
        }
        let stoppedAt = try await simNow(sim)
        let (result, took) = await terminate(streamer)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(took < Self.stopLimit, "took \(took)")
        let through = min(
            try Self.symbols.compactMap { try setup.stocks.latestBar(ticker: $0)?.timestamp }.min()!,
            stoppedAt.minuteStart.adding(minutes: -3))
        try await expectExactlyGroundTruth(setup, sim, tickers: Self.symbols, from: Self.windowStart, through: through)
        await sim.terminate()
    }

    /// 500s and 429 bursts on REST while it backfills and repairs: it retries, paced,
    /// until every bar is in.
    @Test func restErrorsAndRateLimitsDuringBackfillAreRetriedUntilNothingIsMissing() async throws {
        let setup = try await setUp()
        let sim = try await SimulatorProcess(Self.simStart + ["--error-rate", "0.3", "--rate-limit-burst", "3:4"])
        for ticker in ["AAPL", "MSFT"] {
            _ = try setup.system.createAlgorithm(ticker: ticker, algorithmType: "sma_crossover", initialCapital: 1000)
        }
        let streamer = try startStreamer(setup, sim)
        // Not "give it 8 s": wait until it streams both tickers, then until the backfill through 500s and 429s
        // has brought in every bar since the window opened.
        _ = try await sim.waitFor(timeout: 90) { try heartbeat(setup)?.detailObject["subscribed"] as? [String] == ["AAPL", "MSFT"] ? true : nil }
        let now = try await simNow(sim)
        try await waitForBars(setup, sim, tickers: ["AAPL", "MSFT"], through: now.minuteStart.adding(minutes: -2), timeout: 90)
        _ = try await sim.waitFor(timeout: 90) {
            try await holdsEveryBar(setup, sim, tickers: ["AAPL", "MSFT"], from: Self.windowStart, through: now.minuteStart.adding(minutes: -2)) ? true : nil
        }
        // Wait for the repairs in flight to finish (nothing pending in the heartbeat).
        _ = try await sim.waitFor(timeout: 90) { // 30 % 500s and 429 pauses: repairs drain slowly under load (the whole suite runs in parallel on 2 cores)
            let beat = try heartbeat(setup)
            return (beat?.detailObject["pending_repairs"] as? [String])?.isEmpty == true ? true : nil
        }
        let (result, took) = await terminate(streamer)
        #expect(result.status == 0)
        #expect(took < Self.stopLimit, "took \(took)")
        let stats: [String: Int] = try await sim.request("GET", "/sim/stats").decode()
        #expect(stats["injected_errors", default: 0] + stats["rate_limited", default: 0] > 0, "\(stats)")
        let through = try ["AAPL", "MSFT"].compactMap { try setup.stocks.latestBar(ticker: $0)?.timestamp }.min()!
        try await expectExactlyGroundTruth(setup, sim, tickers: ["AAPL", "MSFT"], from: Self.windowStart, through: through)
        await sim.terminate()
    }

    /// Another process holds stocks.db's write lock for seconds: bars wait and go in once it is released, and
    /// SIGTERM during such a wait still exits 0 (within systemd's stop timeout).
    @Test func aBusyStocksDatabaseDelaysBarsButLosesNone() async throws {
        let setup = try await setUp()
        let sim = try await SimulatorProcess(Self.simStart)
        for ticker in ["AAPL", "MSFT"] {
            _ = try setup.system.createAlgorithm(ticker: ticker, algorithmType: "sma_crossover", initialCapital: 1000)
        }
        let streamer = try startStreamer(setup, sim)
        try await waitForBars(setup, sim, tickers: ["AAPL", "MSFT"], through: .at("2024-06-04T14:00:00Z"))
        let first = try await WriteLockHolder.hold(path: setup.stocksPath, seconds: 3)
        await first.released()
        let now = try await simNow(sim)
        try await waitForBars(setup, sim, tickers: ["AAPL", "MSFT"], through: now.minuteStart.adding(minutes: -2))
        // Busy again, and told to stop meanwhile: not after "1.5 s", but once the simulator's clock has passed the
        // next minute, so a bar has come that cannot be written yet. (10 s: the marker comes in about 2 s; a
        // shutdown that waits out the rest of the lock still ends inside systemd's 15 s.)
        let second = try await WriteLockHolder.hold(path: setup.stocksPath, seconds: 10)
        let lockedAt = try await simNow(sim)
        _ = try await sim.waitFor(timeout: 60) { try await simNow(sim) >= lockedAt.minuteStart.adding(minutes: 2) ? true : nil }
        #expect(second.isHolding, "the lock was released before the SIGTERM: the machine is too slow for this test's 10 s hold")
        let (result, took) = await terminate(streamer)
        await second.released()
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(took < Self.stopLimit, "took \(took)")
        let through = try ["AAPL", "MSFT"].compactMap { try setup.stocks.latestBar(ticker: $0)?.timestamp }.min()!
        #expect(through >= now.minuteStart.adding(minutes: -2))
        try await expectExactlyGroundTruth(setup, sim, tickers: ["AAPL", "MSFT"], from: Self.windowStart, through: through)
        await sim.terminate()
    }

    /// Wrong keys: the error is logged clearly, the stream is retried only at the slowest pace, REST with
    /// backoff, the heartbeat says degraded, and the secret never appears in the log.
    @Test func authenticationErrorsAreLoggedAndBackedOffNeverATightLoop() async throws {
        let setup = try await setUp()
        let sim = try await SimulatorProcess(Self.simStart)
        _ = try setup.system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 1000)
        let wrongSecret = "wrong-secret-\(UUID().uuidString.prefix(6))"
        let started = ContinuousClock.now
        let streamer = try startStreamer(setup, sim, environment: ["AUTOTRADER_SIM_SECRET_KEY": wrongSecret])
        // Not "look after 5 s": wait until the stream was refused and REST was retried a few times (a correct
        // streamer's first five refused REST requests come within ~5 s), then bound the counts by the time that
        // really passed, which a loaded machine only makes longer.
        _ = try await sim.waitFor(timeout: 60) {
            let beat = try heartbeat(setup), stats = try await simStats(sim)
            return beat?.state == .degraded && beat?.detailObject["last_error"] as? String != nil
                && stats["stream_connections", default: 0] >= 1 && stats["unauthorized_requests", default: 0] >= 5 ? true : nil
        }
        let stats = try await simStats(sim)
        let elapsed = Double((ContinuousClock.now - started).components.seconds) + 1
        let beat = try #require(try heartbeat(setup))
        #expect(beat.state == .degraded)
        #expect(beat.detailObject["last_error"] as? String != nil)
        // The stream is retried only after 300 s (bad keys need a configuration change); REST rounds wait 1, 2, 4 … 30 s
        // (one clock read each) beside the clock refresh every 5 s. Allowed: twice that (12 in the first 5 s); a tight
        // loop makes hundreds.
        let streamAllowed = 2 + Int(elapsed / 300)
        let restAllowed = Int((2 * ((1 + log2(1 + elapsed)) + (1 + elapsed / 5))).rounded(.up))
        #expect(stats["stream_connections", default: 0] <= streamAllowed, "\(stats) in \(elapsed) s")
        #expect(stats["unauthorized_requests", default: 0] <= restAllowed, "\(stats) in \(elapsed) s: at most \(restAllowed)")
        let (result, took) = await terminate(streamer)
        #expect(result.status == 0)
        #expect(took < Self.stopLimit, "took \(took)")
        #expect(result.stderr.contains("402") && result.stderr.contains("ALPACA_API_KEY"), "\(result.stderr.suffix(1500))")
        #expect(!result.stderr.contains(wrongSecret))
        #expect(try setup.stocks.barCount(ticker: "AAPL") == 0)
        await sim.terminate()
    }

    /// `--extended-hours` streams pre-market and after-hours bars: stocks.db keeps none of them.
    @Test func extendedHoursBarsAreNotStored() async throws {
        let setup = try await setUp()
        // 15:55 New York: the close at 16:00, then after-hours bars on the stream.
        let sim = try await SimulatorProcess(["--start", "2024-06-04T19:55:00Z", "--speed", "60", "--seed", "3", "--extended-hours"])
        _ = try setup.system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 1000)
        let streamer = try startStreamer(setup, sim)
        // Until the feed has had several after-hours minutes.
        _ = try await sim.waitFor(timeout: 30) { try await simNow(sim) >= .at("2024-06-04T20:08:00Z") ? true : nil }
        let (result, _) = await terminate(streamer)
        #expect(result.status == 0)
        let extended = try await sim.request(
            "GET", "/sim/bars?symbols=AAPL&start=2024-06-04T20:00:00Z&end=2024-06-04T20:10:00Z&extended_hours=true"
        ).decode(AlpacaMultiBarsPage.self).bars["AAPL"] ?? []
        #expect(!extended.isEmpty, "the simulator sent no after-hours bars")
        #expect(try setup.stocks.bars(ticker: "AAPL", from: .at("2024-06-04T20:00:00Z"), to: .at("2024-06-05T13:30:00Z")).isEmpty)
        // Every stored bar is a regular-hours one, and the session's last minutes are all there.
        try await expectExactlyGroundTruth(setup, sim, tickers: ["AAPL"], from: Self.windowStart, through: .at("2024-06-04T19:59:00Z"))
        await sim.terminate()
    }
}

extension StreamerProcessTests {
    func simStats(_ sim: SimulatorProcess) async throws -> [String: Int] {
        try await sim.request("GET", "/sim/stats").decode()
    }

    /// The known Alpaca failure: the connection stays open (the WebSocket answers pings) but no data comes,
    /// during market hours (`POST /sim/silence`). The streamer's watchdog replaces it after `--idle-timeout`,
    /// and the repair that follows every new subscription fills the silent minutes from REST: stocks.db ends
    /// with exactly the simulator's bars, the silent period included.
    @Test func aConnectionThatGoesQuietDuringMarketHoursIsReplacedAndTheSilentMinutesRepaired() async throws {
        let setup = try await setUp()
        let sim = try await SimulatorProcess(Self.simStart)
        let tickers = ["AAPL", "MSFT"]
        for ticker in tickers {
            _ = try setup.system.createAlgorithm(ticker: ticker, algorithmType: "sma_crossover", initialCapital: 1000)
        }
        let streamer = try startStreamer(setup, sim, arguments: ["--idle-timeout", "5"])
        _ = try await sim.waitFor { try heartbeat(setup)?.detailObject["subscribed"] as? [String] == tickers ? true : nil }
        let started = try await simNow(sim)
        try await waitForBars(setup, sim, tickers: tickers, through: started.minuteStart.adding(minutes: -1))

        let silenced = try await sim.request("POST", "/sim/silence").object()
        #expect(silenced["silenced"] as? Int == 1)
        let silentFrom = try await simNow(sim)
        // Nothing reaches the streamer on that connection any more, yet it stays open … (not "after 2 s": once the
        // simulator has withheld a bar from it)
        _ = try await sim.waitFor(timeout: 30) { try await simStats(sim)["bars_withheld", default: 0] > 0 ? true : nil }
        let during = try await simStats(sim)
        #expect(during["stream_connections_open"] == 1 && during["stream_authenticated"] == 1, "\(during)")
        #expect(during["bars_withheld", default: 0] > 0, "\(during)")
        // … until the watchdog (5 s of silence, or 75 s of the broker's clock, while the market is open) replaces it.
        _ = try await sim.waitFor(timeout: 30) { try await simStats(sim)["stream_authenticated", default: 0] >= 2 ? true : nil }
        let replacedAt = try await simNow(sim)
        #expect(replacedAt.secondsSinceEpoch - silentFrom.secondsSinceEpoch >= 60, "silent from \(silentFrom) to \(replacedAt)")
        _ = try await sim.waitFor(timeout: 30) { try await simStats(sim)["stream_connections_open"] == 1 ? true : nil }

        // Not "give it 3 s": wait until the repair after the new subscription has filled the silent minutes.
        _ = try await sim.waitFor(timeout: 90) {
            try await holdsEveryBar(setup, sim, tickers: tickers, from: Self.windowStart, through: replacedAt.minuteStart) ? true : nil
        }
        // … and bars from the new connection, past the silent period.
        let now = try await simNow(sim)
        try await waitForBars(
            setup, sim, tickers: tickers, through: max(now.minuteStart.adding(minutes: -2), replacedAt.minuteStart.adding(minutes: 1)), timeout: 60)
        _ = try await sim.waitFor(timeout: 60) {
            (try heartbeat(setup)?.detailObject["pending_repairs"] as? [String])?.isEmpty == true ? true : nil
        }
        let (result, took) = await terminate(streamer)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(took < Self.stopLimit, "took \(took)")
        #expect(result.stderr.contains("no data for"), "\(result.stderr.suffix(2000))")
        let stats = try await simStats(sim)
        #expect(stats["stream_connections_silenced"] == 1 && stats["stream_authenticated"] == 2, "replaced once: \(stats)")
        let through = try tickers.compactMap { try setup.stocks.latestBar(ticker: $0)?.timestamp }.min()!
        #expect(through > replacedAt.minuteStart, "stocks.db must reach past the silent period")
        try await expectExactlyGroundTruth(setup, sim, tickers: tickers, from: Self.windowStart, through: through)
        await sim.terminate()
    }

    /// The watchdog also counts the broker's time: at 120× a silent connection is replaced once a whole
    /// broker minute has gone by without its bars (75 s of broker time), not after 150 real seconds — which
    /// would be five hours of market here. The real-time rule is left at its default to show it isn't what acts.
    @Test func aQuietConnectionIsReplacedWithinAboutAMinuteOfTheBrokersClock() async throws {
        let setup = try await setUp()
        let sim = try await SimulatorProcess(["--start", "2024-06-04T14:00:00Z", "--speed", "120", "--seed", "7"])
        let tickers = ["AAPL", "MSFT"]
        for ticker in tickers {
            _ = try setup.system.createAlgorithm(ticker: ticker, algorithmType: "sma_crossover", initialCapital: 1000)
        }
        let streamer = try startStreamer(setup, sim)
        _ = try await sim.waitFor { try heartbeat(setup)?.detailObject["subscribed"] as? [String] == tickers ? true : nil }
        // Past the warm-up: the streamer's broker clock has measured the simulator's rate.
        let started = try await simNow(sim)
        try await waitForBars(setup, sim, tickers: tickers, through: started.minuteStart.adding(minutes: 1))

        #expect(try await sim.request("POST", "/sim/silence").object()["silenced"] as? Int == 1)
        let silentFrom = try await simNow(sim)
        _ = try await sim.waitFor(timeout: 60) { try await simStats(sim)["stream_authenticated", default: 0] >= 2 ? true : nil }
        let replacedAt = try await simNow(sim)
        // 75 s of broker time, plus the watchdog's quarter-second look (30 s here) and the reconnect: well within 4 minutes.
        let brokerSeconds = replacedAt.secondsSinceEpoch - silentFrom.secondsSinceEpoch
        #expect(brokerSeconds <= 240, "replaced after \(brokerSeconds) s of broker time")
        #expect(brokerSeconds >= 60, "not before a whole minute went by: \(brokerSeconds) s")
        let (result, _) = await terminate(streamer)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(result.stderr.contains("of the broker's clock"), "\(result.stderr.suffix(2000))")
        await sim.terminate()
    }

    /// One data-stream connection per account: while another client holds it, the sim refuses the streamer
    /// with 406. The streamer says so clearly (log and heartbeat), retries no faster than every ~5 s, keeps
    /// backfilling over REST, and streams as soon as the slot frees — with nothing missing.
    @Test func aStreamerRefusedWith406WaitsPolitelyAndStreamsOnceTheSlotFrees() async throws {
        let setup = try await setUp()
        let sim = try await SimulatorProcess(Self.simStart)
        let tickers = ["AAPL", "MSFT"]
        for ticker in tickers {
            _ = try setup.system.createAlgorithm(ticker: ticker, algorithmType: "sma_crossover", initialCapital: 1000)
        }
        // Someone else (another copy of the streamer, a notebook …) holds the account's one connection.
        let holder = AlpacaBarStream(
            configuration: .simulator(baseURL: sim.baseURL, keyID: sim.keyID, secretKey: sim.secretKey), idleTimeout: nil)
        await holder.setSymbols(["NVDA"])
        let holderEvents = Task { for await _ in holder.events {} }
        let holderRun = Task { await holder.run() }
        _ = try await sim.waitFor { try await simStats(sim)["stream_authenticated"] == 1 ? true : nil }

        let started = ContinuousClock.now
        let streamer = try startStreamer(setup, sim)
        // Not "count what happened in 9 s": wait for three refusals (a correct streamer needs at least 10 s for
        // them), then bound the count by the time that really passed since the streamer started (the first
        // refusal cannot be earlier): 406 waits at least 5 s, so at most 1 + elapsed / 5 refusals.
        _ = try await sim.waitFor(timeout: 60) { try await simStats(sim)["stream_refused", default: 0] >= 3 ? true : nil }
        let refused = try await simStats(sim)
        let waited = ContinuousClock.now - started
        let allowed = 1 + Int(waited.components.seconds / 5)
        #expect(refused["stream_refused", default: 0] <= allowed, "\(refused) in \(waited): at most \(allowed)")
        #expect(refused["stream_connections", default: 0] - 1 <= allowed, "the streamer connected \(refused["stream_connections", default: 0] - 1) times in \(waited)")
        #expect(refused["stream_authenticated"] == 1, "only the holder")
        let log = (try? String(contentsOfFile: streamer.stderrPath, encoding: .utf8)) ?? ""
        #expect(log.contains("406") && log.contains("connection limit exceeded") && log.contains("another connection"), "\(log.suffix(2000))")
        let beat = try #require(try heartbeat(setup))
        #expect(beat.state == .degraded, "\(beat)")
        #expect((beat.detailObject["last_error"] as? String)?.contains("406") == true, "\(beat.detail)")
        #expect(beat.detailObject["connected"] as? Bool == false)
        // History comes over REST meanwhile.
        #expect(try setup.stocks.barCount(ticker: "AAPL") > 0)

        // The holder goes away: the streamer takes the slot at its next attempt.
        holderRun.cancel()
        await holderEvents.value
        _ = try await sim.waitFor(timeout: 60) { try heartbeat(setup)?.detailObject["subscribed"] as? [String] == tickers ? true : nil }
        let now = try await simNow(sim)
        try await waitForBars(setup, sim, tickers: tickers, through: now.minuteStart.adding(minutes: 1), timeout: 60)
        _ = try await sim.waitFor(timeout: 60) {
            (try heartbeat(setup)?.detailObject["pending_repairs"] as? [String])?.isEmpty == true ? true : nil
        }
        let (result, took) = await terminate(streamer)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(took < Self.stopLimit, "took \(took)")
        let through = try tickers.compactMap { try setup.stocks.latestBar(ticker: $0)?.timestamp }.min()!
        try await expectExactlyGroundTruth(setup, sim, tickers: tickers, from: Self.windowStart, through: through)
        await sim.terminate()
    }
}

/// Another process's long write: holds stocks.db's write lock (BEGIN IMMEDIATE) on a thread of its own for `seconds`.
final class WriteLockHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var started = false, done = false

    static func hold(path: String, seconds: Double) async throws -> WriteLockHolder {
        let holder = WriteLockHolder()
        let queue = try DatabaseQueue(path: path)
        Thread {
            try? queue.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                holder.lock.withLock { holder.started = true }
                // The hold itself is the experiment: a long write by someone else.
                Thread.sleep(forTimeInterval: seconds)
                try db.execute(sql: "COMMIT")
            }
            holder.lock.withLock { holder.done = true }
        }.start()
        // Polls for the thread's BEGIN (no deadline needed: the thread either begins or ends).
        while !holder.lock.withLock({ holder.started || holder.done }) { try await Task.sleep(for: .milliseconds(10)) }
        return holder
    }

    /// Whether the lock is still held.
    var isHolding: Bool { lock.withLock { started && !done } }

    func released() async {
        while !lock.withLock({ done }) { try? await Task.sleep(for: .milliseconds(10)) }
    }
}

/// A unix datagram socket that stands in for systemd's notification socket.
final class NotifySocket: @unchecked Sendable {
    let fd: Int32

    init(name: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SimulatorProcessError("socket() failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw SimulatorProcessError("bind(\(name)) failed: \(errno)") }
    }

    deinit { close(fd) }

    /// One datagram, if one is waiting.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }

    func receiveAll() -> [String] {
        var all: [String] = []
        while let message = receive() { all.append(message) }
        return all
    }
}

