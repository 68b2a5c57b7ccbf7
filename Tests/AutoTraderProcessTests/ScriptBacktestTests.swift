import AutoTraderSim
import Foundation
import Logging
import Testing
@testable import AutoTraderCore
@testable import TradingAlgorithms

/// Script algorithms in the backtester (issue 16, point 1): a script's worker (the executor's `ScriptWorker`, real
/// `python3` and `sh` processes) is asked every minute, and its answers go through the compiled algorithms' order
/// rules, guards, sizing and fills. A Python copy of sma_crossover's rule gives the compiled one's fills exactly; a
/// script that fails stops the backtest with an error naming it and the minute; the executor's queue and the CLI
/// run scripts. Every wait is for a condition with a deadline.
@Suite(.serialized) struct ScriptBacktestTests {
    static let calendar = try! MarketCalendar()
    static let logger = Logger(label: "script-backtest") { _ in SwiftLogNoOpLogHandler() }

    /// sma_crossover's rule in the original design's Python form: SMA 20/50 over the last 51 closes with the same
    /// running sum (so bit for bit the same doubles), all-in whole shares with the 0.5 % cushion in exact integer
    /// micro-dollars (as `affordableShares`), sell everything on the cross-under.
    static let smaPython = #"""
        """SMA 20/50 crossover in Python: the compiled sma_crossover's rule and sizing."""
        from decimal import Decimal


        def micros(value):
            # Prices cross as decimal strings of at most six decimals; repr gives that decimal back exactly.
            return int(Decimal(repr(value)) * 1000000)


        def sma_last_two(closes, period):
            total, values = 0.0, []
            for index, close in enumerate(closes):
                total = total + close
                if index >= period:
                    total = total - closes[index - period]
                if index + 1 >= period:
                    values.append(total / period)
            return values[-2], values[-1]


        class Algorithm:
            def __init__(self, ticker, initial_capital):
                self.capital = initial_capital

            def on_data(self, bars, transaction_history):
                if len(bars) < 51:
                    return ('hold', 0, 'warming up')
                closes = [bar['ohlcv']['c'] for bar in bars]
                fast_before, fast_now = sma_last_two(closes, 20)
                slow_before, slow_now = sma_last_two(closes, 50)
                signs = [1 if t['type'] == 'buy' else -1 for t in transaction_history]
                held = sum(sign * t['shares'] for sign, t in zip(signs, transaction_history))
                if fast_before <= slow_before and fast_now > slow_now:
                    cash = micros(self.capital) - sum(
                        sign * t['shares'] * micros(t['price']) for sign, t in zip(signs, transaction_history))
                    price = micros(closes[-1])
                    shares = cash * 1000 // (price * 1005) if cash > 0 and price > 0 else 0
                    if shares <= 0:
                        return ('hold', 0, 'crossed up but no cash for a share')
                    return ('buy', shares, 'sma20 crossed above sma50')
                if fast_before >= slow_before and fast_now < slow_now and held > 0:
                    return ('sell', held, 'sma20 crossed below sma50')
                return ('hold', 0, 'no cross')

            def get_data_requirements(self, current_time):
                return {'bars': 51}
        """#

    /// Holds, until the minute `minute`, where it does `what` (a Python statement or expression returned).
    static func failsAt(_ minute: String, _ what: String) -> String {
        """
        import os, sys, time

        class Algorithm:
            def __init__(self, *card):
                pass

            def on_data(self, bars, transaction_history):
                if bars[-1]['timestamp'] == '\(minute)':
                    \(what)
                return ('hold', 0)

            def get_data_requirements(self, current_time):
                return {'bars': 3}
        """
    }

    /// Speaks the protocol's describe, then prints what is not the protocol.
    static let garbageSh = ShellAlgorithm.script(summary: "prints garbage", decide: #"echo "this is not json""#)

    /// Three sessions (2024-06-03 … 05) of a seeded random walk in whole cents (up to ±0.33 % a minute), often crossing.
    static func walk(seed: UInt64) -> [MinuteBar] {
        var random = SplitMix64(seed: seed)
        var cents = 5_000
        let sessions = try! BacktestPeriod.dates("2024-06-03", "2024-06-05", calendar: calendar).sessions
        let minutes = sessions.flatMap { session in (0..<session.minuteCount).map { session.open.adding(minutes: $0) } }
        return minutes.map { minute in
            let open = cents
            cents = max(100, cents + Int((Double(cents) * (Double(random.next() % 2001) - 1000) / 300_000).rounded()))
            return MinuteBar(ticker: "TEST", timestamp: minute, open: Double(open) / 100, high: Double(max(open, cents)) / 100,
                             low: Double(min(open, cents)) / 100, close: Double(cents) / 100, volume: 100)
        }
    }

    static func write(_ text: String, to folder: TemporaryDirectory, as name: String, executable: Bool = false) -> String {
        let path = folder.file(name)
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: executable ? [.posixPermissions: 0o755] : nil)
        return path
    }

    /// Starts the script at `path` for one backtest and replays `bars` through it.
    static func runScript(
        _ path: String, bars: BacktestBars, settings: BacktestSettings, timeLimit: Duration = .seconds(10)
    ) async throws(BacktestJobFailure) -> BacktestResult {
        var options = ScriptBacktest.Options()
        options.timeLimit = timeLimit
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let script = try await ScriptBacktest.start(name: name, path: path, options: options, logger: logger)
        do {
            let results = try await Backtester(calendar: calendar).run([.script(script)], ticker: "TEST", bars: bars, settings: settings).results
            await script.stop()
            return results[0]
        } catch {
            await script.stop()
            throw error
        }
    }

    @Test func aPythonSmaCrossoverGivesTheCompiledOnesFillsAndEquityExactly() async throws {
        let seed: UInt64 = 1616
        print("ScriptBacktestTests seed \(seed)")
        let folder = TemporaryDirectory("script-backtest")
        let path = Self.write(Self.smaPython, to: folder, as: "sma_py.py")
        let bars = BacktestBars(bars: Self.walk(seed: seed), firstIndex: 0)
        for settings in [BacktestSettings(capital: 10_000), BacktestSettings(capital: Decimal(string: "2500.50")!, fill: .close)] {
            let compiled = Backtester(calendar: Self.calendar)
                .run(AlgorithmRegistry.catalog.entry(named: "sma_crossover")!, ticker: "TEST", bars: bars, settings: settings)
            let started = ContinuousClock.now
            let script = try await Self.runScript(path, bars: bars, settings: settings)
            let elapsed = ContinuousClock.now - started
            print("ScriptBacktestTests: \(bars.rangeCount) bars through the Python worker in \(elapsed) (\(Int(Double(bars.rangeCount) / (Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)))) bars/s, debug build), \(script.fills.count) fills, fill \(settings.fill.rawValue)")

            #expect(compiled.fills.count >= 6, "the walk should make sma_crossover trade a few times; not a test of anything")
            func key(_ fill: BacktestFill) -> String { "\(fill.time.text) \(fill.decidedAt.text) \(fill.side.rawValue) \(fill.shares) @ \(fill.price)" }
            #expect(script.fills.map(key) == compiled.fills.map(key))
            #expect(script.finalEquity == compiled.finalEquity && script.sharesHeld == compiled.sharesHeld)
            #expect(script.refused == compiled.refused && script.unfilled == compiled.unfilled && script.errors == 0)
            let firstDifference = zip(script.minuteEquity.micros, compiled.minuteEquity.micros).enumerated().first { $0.element.0 != $0.element.1 }
            #expect(script.minuteEquity.micros.count == compiled.minuteEquity.micros.count && firstDifference == nil,
                    "the equity differs first at bar \(firstDifference?.offset ?? -1)")
            #expect(script.algorithm == "sma_py" && script.fills.first?.reason == "sma20 crossed above sma50")
        }
    }

    @Test func aScriptThatFailsStopsTheBacktestWithAnErrorNamingItAndTheMinute() async throws {
        let folder = TemporaryDirectory("script-backtest-bad")
        print("ScriptBacktestTests seed 7")
        let bars = BacktestBars(bars: Self.walk(seed: 7), firstIndex: 0)
        let settings = BacktestSettings(capital: 1000)
        let cases: [(file: String, text: String, executable: Bool, expected: [String])] = [
            ("exits.py", Self.failsAt("2024-06-03T15:00:00Z", "os._exit(3)"), false,
             ["script algorithm exits gave no decision: the worker exited", "(the minute 2024-06-03T15:00:00Z)", "the backtest is stopped"]),
            ("hangs.py", Self.failsAt("2024-06-04T13:45:00Z", "time.sleep(3600)"), false,
             ["script algorithm hangs gave no decision: no answer within 1", "(the minute 2024-06-04T13:45:00Z)"]),
            ("half_share.py", Self.failsAt("2024-06-03T13:40:00Z", "return ('buy', 1.5)"), false,
             ["script algorithm half_share answered nonsense: buy 1.5: shares must be a whole number", "(the minute 2024-06-03T13:40:00Z)"]),
            ("raises.py", Self.failsAt("2024-06-05T19:59:00Z", "raise ValueError('no idea')"), false,
             ["script algorithm raises answered nonsense: the script reported an error: ValueError: no idea", "(the minute 2024-06-05T19:59:00Z)"]),
            ("garbage", Self.garbageSh, true,
             ["script algorithm garbage gave no decision: the worker printed something that is not the protocol: \"this is not json\"",
              "(the minute 2024-06-03T13:30:00Z)"]),
            ("broken.py", "class Algorithm(:\n", false, ["script algorithm broken can't run: the file could not be loaded: SyntaxError"]),
        ]
        for item in cases {
            let path = Self.write(item.text, to: folder, as: item.file, executable: item.executable)
            do {
                let result = try await Self.runScript(path, bars: bars, settings: settings, timeLimit: .seconds(1))
                Issue.record("\(item.file): a result (\(result.fills.count) fills) instead of an error")
            } catch {
                for part in item.expected { #expect(error.description.contains(part), "\(item.file): \(error.description)") }
            }
        }
    }

    @Test func theExecutorsQueueRunsAScriptBacktestAndFailsOneWhoseScriptFails() async throws {
        let directory = TemporaryDirectory("script-backtest-queue")
        let folder = TemporaryDirectory("script-backtest-queue-scripts")
        let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        let stocks = try StocksDatabase.open(path: directory.file("stocks.db"), create: true)
        let good = Self.write(Self.smaPython, to: folder, as: "sma_py.py")
        let bad = Self.write(Self.failsAt("2024-06-03T14:00:00Z", "os._exit(1)"), to: folder, as: "crashes.py")
        // What the executor publishes for its folder (its ScriptAlgorithms), and one script it found broken.
        try system.publishCatalog(
            AlgorithmRegistry.catalog.entries.map {
                CatalogEntry(name: $0.name, kind: .swift, summary: $0.summary, barsNeeded: $0.barsNeeded, status: .ok)
            } + [
                CatalogEntry(name: "sma_py", kind: .script, summary: "sma", barsNeeded: 51, status: .ok, path: good),
                CatalogEntry(name: "crashes", kind: .script, summary: "crashes", barsNeeded: 3, status: .ok, path: bad),
                CatalogEntry(name: "broken", kind: .script, summary: "", barsNeeded: nil, status: .error, error: "SyntaxError", path: "/x.py"),
            ])
        // Tuesday 2024-06-04 10:00 New York: the last 2 sessions are 2024-05-31 and 2024-06-03.
        let start = Timestamp.at("2024-06-04T14:00:00Z")
        try await InProcessSimulator.run(start: start, logger: Self.logger) { simURL in
            var scripts = ScriptBacktest.Options()
            scripts.lowPriority = true
            let service = BacktestQueueService(
                system: system,
                runner: BacktestQueueRunner(
                    system: system, stocks: stocks, calendar: Self.calendar, compiled: AlgorithmRegistry.catalog,
                    client: AlpacaClient(configuration: .simulator(baseURL: simURL), logger: Self.logger), scripts: scripts, logger: Self.logger),
                pollInterval: .milliseconds(50), logger: Self.logger)
            let running = Task { try await service.run() }
            defer { running.cancel() }

            let job = try system.enqueueBacktest(ticker: "AAPL", algorithm: "sma_py", capital: 5000, sessions: 2, client: "test").job
            let done = try await BacktestQueueProcessTests.wait(system, id: job.id, for: [.done, .failed], timeout: 240)
            #expect(done.state == .done, "\(done.error ?? "")")
            // What the same script gives run directly over the bars the queue fetched, as the CLI would print it.
            let period = try BacktestPeriod.last(2, calendar: Self.calendar, now: start)
            let bars = try BacktestHistory(stocks: stocks, calendar: Self.calendar).bars(ticker: "AAPL", period: period, warmUp: 51)
            #expect(bars.rangeCount >= 2 * 380, "the bars were fetched from the broker first")
            // The queue's worker runs at the queue's low priority: SCHED_IDLE (policy 5 in /proc's stat), else nice 19.
            let script = try await ScriptBacktest.start(name: "sma_py", path: good, options: scripts, logger: Self.logger)
            let pid = try #require(await script.worker.pid)
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
            #expect(fields[38] == "5" || fields[16] == "19", "policy \(fields[38]), nice \(fields[16])")
            let direct = try await Backtester(calendar: Self.calendar).run([.script(script)], ticker: "AAPL", bars: bars, settings: BacktestSettings(capital: 5000)).results
            await script.stop()
            #expect(done.result == (try BacktestReport(period: period, results: direct).json()))

            let crash = try system.enqueueBacktest(ticker: "AAPL", algorithm: "crashes", capital: 5000, sessions: 2, client: "test").job
            let failed = try await BacktestQueueProcessTests.wait(system, id: crash.id, for: [.done, .failed], timeout: 240)
            #expect(failed.state == .failed && failed.result == nil)
            #expect(failed.error?.contains("script algorithm crashes gave no decision: the worker exited") == true, "\(failed.error ?? "")")
            #expect(failed.error?.contains("(the minute 2024-06-03T14:00:00Z)") == true, "\(failed.error ?? "")")

            // all: the compiled algorithms and the scripts the catalog has as ok, ranked; crashes, which stops its
            // own backtest at its minute, is left out of the leaderboard rather than failing it.
            let all = try system.enqueueBacktest(ticker: "AAPL", algorithm: "all", capital: 5000, sessions: 2, client: "test").job
            let ranked = try await BacktestQueueProcessTests.wait(system, id: all.id, for: [.done, .failed], timeout: 240)
            #expect(ranked.state == .done, "\(ranked.error ?? "")")
            let board = (try JSONSerialization.jsonObject(with: Data((ranked.result ?? "{}").utf8)) as? [String: Any])?["leaderboard"] as? [[String: Any]]
            #expect(Set((board ?? []).compactMap { $0["algorithm"] as? String }) == Set(AlgorithmRegistry.catalog.names + ["sma_py"]))
            // …and the result says so, for the script the catalog has in error too: the dashboard shows why each is missing.
            let queueLeftOut = (try JSONSerialization.jsonObject(with: Data((ranked.result ?? "{}").utf8)) as? [String: Any])?["left_out"] as? [String] ?? []
            #expect(queueLeftOut.count == 2 && queueLeftOut[0] == "script algorithm broken can't run: SyntaxError"
                && queueLeftOut[1].hasPrefix("script algorithm crashes gave no decision"), "\(queueLeftOut)")
            running.cancel()
            _ = await running.result
        }
    }

    @Test func theCLIBacktestsAScriptInTheAlgorithmFolderAndRefusesABrokenOne() async throws {
        let directory = TemporaryDirectory("script-backtest-cli")
        let folder = TemporaryDirectory("script-backtest-cli-scripts")
        _ = Self.write(Self.smaPython, to: folder, as: "sma_py.py")
        _ = Self.write(Self.failsAt("2024-06-04T13:31:00Z", "os._exit(1)"), to: folder, as: "crashes.py")
        _ = Self.write("class Algorithm(:\n", to: folder, as: "broken.py")
        // A script with a compiled algorithm's name never runs (a name clash): left out of `all` too.
        _ = Self.write(Self.smaPython, to: folder, as: "macd_signal.py")
        let stocks = try StocksDatabase.open(path: directory.file("stocks.db"), create: true)
        print("ScriptBacktestTests seed 1616")
        try stocks.insert(Self.walk(seed: 1616))
        let environment = ["AUTOTRADER_ALGORITHM_DIR": folder.path]
        func backtest(_ type: String, _ extra: [String] = []) async throws -> ProcessResult {
            try await Executables.run(
                "autotrader",
                ["backtest", "--type", type, "--ticker", "TEST", "--from", "2024-06-03", "--to", "2024-06-05", "--capital", "10000",
                 "--no-fetch", "--stocks-db", directory.file("stocks.db")] + extra,
                environment: environment, directory: directory)
        }
        // The script's report is the compiled one's, but for its name and its reasons.
        let script = try await backtest("sma_py", ["--json", "--trades", directory.file("trades.csv")])
        #expect(script.status == 0, "\(script.stderr)")
        let compiled = try await backtest("sma_crossover", ["--json"])
        func comparable(_ json: String) throws -> [String: Any] {
            var object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
            object["algorithm"] = nil
            object["trades"] = (object["trades"] as? [[String: Any]])?.map { $0.filter { $0.key != "reason" } }
            return object
        }
        let (fromScript, fromCompiled) = (try comparable(script.stdout), try comparable(compiled.stdout))
        #expect(NSDictionary(dictionary: fromScript) == NSDictionary(dictionary: fromCompiled), "\(script.stdout.prefix(600))")
        #expect((fromScript["trades"] as? [Any])?.count ?? 0 >= 6)
        #expect(FileManager.default.fileExists(atPath: directory.file("trades.csv")))

        // all: the leaderboard has the ok script beside the compiled ones; the broken one and the one that stops its
        // backtest are left out, each said why.
        let all = try await backtest("all", ["--json"])
        #expect(all.status == 0, "\(all.stderr)")
        let board = (try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])?["leaderboard"] as? [[String: Any]]
        let names = Set((board ?? []).compactMap { $0["algorithm"] as? String })
        #expect(names.isSuperset(of: Set(AlgorithmRegistry.catalog.names + ["sma_py"])) && !names.contains("broken"), "\(names)")
        #expect(!names.contains("crashes"))
        #expect(all.stderr.contains("left out: script algorithm broken can't run"), "\(all.stderr)")
        #expect(all.stderr.contains("left out: script algorithm crashes gave no decision"), "\(all.stderr)")
        let leftOut = (try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])?["left_out"] as? [String] ?? []
        #expect(leftOut.count == 3 && leftOut[0].hasPrefix("script algorithm macd_signal can't run: macd_signal.py has the name of the Swift algorithm")
            && leftOut[1].hasPrefix("script algorithm broken can't run")
            && leftOut[2].hasPrefix("script algorithm crashes gave no decision"), "\(leftOut)")
        #expect(all.stderr.contains("left out: script algorithm macd_signal can't run"), "\(all.stderr)")
        #expect(!leftOut.joined().contains("the backtest is stopped"), "the ranking was not stopped: \(leftOut)")

        // A script in error is refused with its error; one that fails stops the backtest naming the minute, and
        // writes no file.
        let broken = try await backtest("broken")
        #expect(broken.status != 0 && broken.stderr.contains("script algorithm broken can't run: the file could not be loaded: SyntaxError"), "\(broken.stderr)")
        let crash = try await backtest("crashes", ["--trades", directory.file("crash.csv")])
        #expect(crash.status != 0 && crash.stdout.isEmpty)
        #expect(crash.stderr.contains("script algorithm crashes gave no decision: the worker exited") && crash.stderr.contains("(the minute 2024-06-04T13:31:00Z); the backtest is stopped, nothing of it is kept"), "\(crash.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("crash.csv")))
        let unknown = try await backtest("nope")
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown algorithm type \"nope\"") && unknown.stderr.contains("sma_crossover, sma_py"), "\(unknown.stderr)")
    }
}
