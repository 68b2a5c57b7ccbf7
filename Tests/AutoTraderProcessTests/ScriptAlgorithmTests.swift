import Foundation
import Logging
import Testing
@testable import AutoTraderCore

/// Script algorithms (issue 15): files in the algorithm folder, in any language, run by long-lived
/// worker processes over the JSON-line protocol; Python files in the original design's form run as
/// they are. Real processes throughout (the workers, and for the system tests the simulator, streamer,
/// executor and api); every wait is for a condition with a deadline.
@Suite(.serialized) struct ScriptAlgorithmTests {
    // MARK: - Scripts the tests write

    /// The original design's form: a class Algorithm with on_data, buying one share a minute until it holds three.
    static let buysToThree = """
        \"\"\"Buys one share a minute until it holds three (original design's form).\"\"\"

        class Algorithm:
            def __init__(self, ticker, initial_capital):
                self.ticker = ticker
                self.initial_capital = initial_capital

            def get_data_requirements(self, current_time):
                return {'bars': 5}

            def on_data(self, bars, transaction_history):
                # The original design's shapes, checked: a wrong shape raises, and the card errors instead of trading.
                assert 1 <= len(bars) <= 5, len(bars)
                assert all(set(bar['ohlcv']) == {'o', 'h', 'l', 'c', 'v'} for bar in bars)
                assert all(bars[i]['timestamp'] < bars[i + 1]['timestamp'] for i in range(len(bars) - 1))
                assert isinstance(self.initial_capital, float)
                for t in transaction_history:
                    assert set(t) == {'id', 'algorithm_id', 'type', 'shares', 'price', 'timestamp'}, t
                held = sum(t['shares'] if t['type'] == 'buy' else -t['shares'] for t in transaction_history)
                print('held', held, 'of', self.ticker)  # goes to the log, not into the protocol
                if held < 3:
                    return ('buy', 1)
                return ('hold', 0)
        """

    /// The protocol spoken by a POSIX sh script: it buys one share a minute until it has bought two.
    static let shBuysOne = """
        #!/bin/sh
        # Buys one share a minute until it has bought two: the protocol in POSIX sh, to show it is language-neutral.
        while IFS= read -r line; do
          id=$(printf '%s\\n' "$line" | sed -n 's/^{"v":1,"type":"[a-z]*","id":\\([0-9]*\\).*/\\1/p')
          buys=$(printf '%s\\n' "$line" | grep -o '"type":"buy"' | wc -l)
          case "$line" in
            *'"type":"describe"'*) printf '{"v":1,"id":%s,"summary":"buys one share a minute (POSIX sh)","bars_needed":1}\\n' "$id" ;;
            *) if [ "$buys" -lt 2 ]; then
                 printf '{"v":1,"id":%s,"action":"buy","shares":1,"reason":"sh says buy"}\\n' "$id"
               else
                 printf '{"v":1,"id":%s,"action":"hold","reason":"sh has two"}\\n' "$id"
               fi ;;
          esac
        done
        """

    static let hangs = """
        import time

        class Algorithm:
            def __init__(self, ticker, initial_capital):
                pass

            def on_data(self, bars, transaction_history):
                time.sleep(3600)
                return ('buy', 1)
        """

    static let crashes = """
        import os, sys

        class Algorithm:
            def __init__(self, ticker, initial_capital):
                pass

            def on_data(self, bars, transaction_history):
                print('about to crash', file=sys.stderr)
                os._exit(3)
        """

    static let garbage = """
        #!/bin/sh
        # Describes itself properly, then prints what is not the protocol.
        while IFS= read -r line; do
          case "$line" in
            *'"type":"describe"'*) printf '{"v":1,"id":1,"summary":"prints garbage","bars_needed":1}\\n' ;;
            *) echo 'hello, this is not JSON' ;;
          esac
        done
        """

    static let oversells = """
        class Algorithm:
            def __init__(self, ticker, initial_capital):
                pass

            def on_data(self, bars, transaction_history):
                return ('sell', 1000)
        """

    /// Nonsense by the minute: ('buy', 1.5), ('buy', -3), ('short', 1).
    static let nonsense = """
        class Algorithm:
            def __init__(self, ticker, initial_capital):
                pass

            def on_data(self, bars, transaction_history):
                minute = int(bars[-1]['timestamp'][14:16])
                return [('buy', 1.5), ('buy', -3), ('short', 1)][minute % 3]
        """

    /// The simulator's seed: AUTOTRADER_TEST_SEED replays a run, else a random one, printed.
    static func seed() -> Int {
        let seed = ProcessInfo.processInfo.environment["AUTOTRADER_TEST_SEED"].flatMap { Int($0) } ?? Int.random(in: 1...1_000_000)
        print("ScriptAlgorithmTests seed: \(seed) (AUTOTRADER_TEST_SEED=\(seed) repeats it)")
        return seed
    }

    /// Describes itself, then at its first decision says fifty lines on stderr and exits 3 without answering.
    static let diesLoudly = ShellAlgorithm.script(
        summary: "dies loudly", decide: #"i=1; while [ $i -le 50 ]; do echo "last words $i" >&2; i=$((i + 1)); done; exit 3"#)

    static func write(_ text: String, to path: String, executable: Bool = false) throws {
        // Written beside and renamed, so the scanner never reads half a file.
        let temporary = (path as NSString).deletingLastPathComponent + "/.writing-\(UUID().uuidString)"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        if executable { chmod(temporary, 0o755) }
        guard rename(temporary, path) == 0 else { throw RawHTTP.Failure(description: "rename to \(path) failed: errno \(errno)") }
    }

    static func input(closes: [Double], transactions: [Trade] = [], capital: Decimal = 1000) -> AlgorithmInput {
        let start = Timestamp.at("2024-06-04T14:00:00Z")
        let bars = closes.enumerated().map { index, close in
            MinuteBar(ticker: "NVDA", timestamp: start.adding(minutes: index), open: close, high: close + 0.5, low: close - 0.5,
                      close: close, volume: 1000 + Int64(index))
        }
        return AlgorithmInput(ticker: "NVDA", initialCapital: capital, bars: bars, transactions: transactions, now: bars.last!.timestamp)
    }

    static func worker(_ file: ScriptFile, limit: Duration = .seconds(5)) -> ScriptWorker {
        ScriptWorker(
            name: file.name, path: file.path, arguments: file.arguments, environment: ScriptAlgorithms.workerEnvironment(name: file.name),
            timeLimit: limit, logger: Logger(label: "script-test"))
    }

    // MARK: - The worker and the protocol

    /// The shipped Python algorithm (original form) and a POSIX sh script speak the protocol through one
    /// long-lived worker each; many decisions pipelined through one worker all come back, each to its card.
    @Test func pythonAndShWorkersDescribeAndDecide() async throws {
        let shipped = try #require(ScriptFolder.scan(Repository.path("algorithm")).first { $0.name == "bollinger_reversion" })
        #expect(shipped.runner == .python)
        let python = Self.worker(shipped)
        defer { Task { await python.stop() } }
        let description = try await python.describe().get()
        #expect(description.barsNeeded == 21)
        #expect(description.summary.hasPrefix("Bollinger reversion"))

        // 20 quiet closes, then a drop far below the lower band: buy; holding, and back above the middle: sell.
        let drop = Self.input(closes: Array(repeating: 100.0, count: 19).enumerated().map { 100 + Double($0.offset % 3) } + [80])
        guard case .decided(let buy) = await python.decide(card: 1, input: drop) else { Issue.record("no decision"); return }
        #expect(buy.action == .buy(12), "1000 / (80 × 1.005) = 12.4: \(buy)")
        let held = [Trade(id: 1, algorithmId: 1, side: .buy, shares: 12, price: 80, timestamp: .at("2024-06-04T14:19:00Z"))]
        let rise = Self.input(closes: Array(repeating: 100.0, count: 19) + [120], transactions: held)
        guard case .decided(let sell) = await python.decide(card: 1, input: rise) else { Issue.record("no decision"); return }
        #expect(sell.action == .sell(12))

        // Pipelined: 50 cards' decisions at once through the one worker.
        let answers = await withTaskGroup(of: Bool.self) { group in
            for card in 1...50 {
                group.addTask {
                    if case .decided(let decision) = await python.decide(card: Int64(card), input: card % 2 == 0 ? drop : rise) {
                        return decision.action == (card % 2 == 0 ? .buy(12) : .sell(12))
                    }
                    return false
                }
            }
            var all: [Bool] = []
            for await answer in group { all.append(answer) }
            return all
        }
        #expect(answers.count == 50 && answers.allSatisfy { $0 })
        let pid = await python.pid
        #expect(pid != nil)

        let folder = TemporaryDirectory("scripts")
        try Self.write(Self.shBuysOne, to: folder.file("sh_buys_one.sh"), executable: true)
        let sh = try #require(ScriptFolder.scan(folder.path).first)
        #expect(sh.runner == .executable && sh.name == "sh_buys_one")
        let shWorker = Self.worker(sh)
        defer { Task { await shWorker.stop() } }
        #expect(try await shWorker.describe().get() == ScriptDescription(summary: "buys one share a minute (POSIX sh)", barsNeeded: 1))
        guard case .decided(let shDecision) = await shWorker.decide(card: 7, input: drop) else { Issue.record("sh gave no decision"); return }
        #expect(shDecision == .buy(1, "sh says buy"))
    }

    /// Each way a script can misbehave gives its documented outcome, and none is a decision.
    @Test func misbehavingWorkersGiveClearFailures() async throws {
        let folder = TemporaryDirectory("scripts")
        try Self.write(Self.hangs, to: folder.file("hangs.py"))
        try Self.write(Self.crashes, to: folder.file("crashes.py"))
        try Self.write(Self.garbage, to: folder.file("garbage.sh"), executable: true)
        try Self.write(Self.nonsense, to: folder.file("nonsense.py"))
        try Self.write("def broken(:\n", to: folder.file("syntax_error.py"))
        let files = Dictionary(uniqueKeysWithValues: ScriptFolder.scan(folder.path).map { ($0.name, $0) })
        let input = Self.input(closes: [100, 101, 102])

        let hang = Self.worker(files["hangs"]!, limit: .milliseconds(500))
        _ = try await hang.describe().get()
        guard case .failed(.timedOut) = await hang.decide(card: 1, input: input) else { Issue.record("expected a time-out"); return }
        // Killed; the next request, within the backoff, is told it restarts later (never blocks).
        guard case .failed(.restarting(let seconds, _)) = await hang.decide(card: 1, input: input) else { Issue.record("expected the backoff"); return }
        #expect(seconds >= 1)
        await hang.stop()

        let crash = Self.worker(files["crashes"]!)
        _ = try await crash.describe().get()
        guard case .failed(.exited(let why)) = await crash.decide(card: 1, input: input) else { Issue.record("expected an exit"); return }
        #expect(why.contains("about to crash"), "stderr's tail is in the reason: \(why)")
        await crash.stop()

        let garbage = Self.worker(files["garbage"]!)
        _ = try await garbage.describe().get()
        guard case .failed(.notProtocol(let line)) = await garbage.decide(card: 1, input: input) else { Issue.record("expected not-protocol"); return }
        #expect(line.contains("hello"))
        await garbage.stop()

        let nonsense = Self.worker(files["nonsense"]!)
        _ = try await nonsense.describe().get()
        var problems: [String] = []
        for minute in 0..<3 {
            let shifted = Self.input(closes: Array(repeating: 100, count: minute + 1))
            guard case .nonsense(let problem) = await nonsense.decide(card: 1, input: shifted) else { Issue.record("expected nonsense"); return }
            problems.append(problem)
        }
        #expect(problems.contains { $0.contains("whole number") } && problems.contains { $0.contains("negative") }
            && problems.contains { $0.contains("unknown action") }, "\(problems)")
        await nonsense.stop()

        let broken = Self.worker(files["syntax_error"]!)
        guard case .failure(let problem) = await broken.describe() else { Issue.record("a syntax error must not describe"); return }
        #expect(problem.description.contains("SyntaxError"), "\(problem)")
        await broken.stop()
    }

    /// A worker that dies says why: its requests fail once it has exited, after the last of its stderr (twenty
    /// rounds, as the two pipes' race is lost only now and then), with its exit status; and a reaped worker's
    /// pid is never signalled again (pid_max is 32768 on a Pi: it may be another process's by then).
    @Test func aDyingWorkersLastWordsAreInTheReasonAndItsPidIsLeftAlone() async throws {
        let folder = TemporaryDirectory("scripts")
        try Self.write(Self.diesLoudly, to: folder.file("dies_loudly.sh"), executable: true)
        let file = try #require(ScriptFolder.scan(folder.path).first)
        for round in 1...20 {
            let worker = Self.worker(file)
            _ = try await worker.describe().get()
            guard case .failed(.exited(let why)) = await worker.decide(card: 1, input: Self.input(closes: [100])) else {
                Issue.record("round \(round): expected an exit")
                return
            }
            #expect(why.contains("last words 50") && why.contains("exit status 3"), "round \(round): \(why)")
            await worker.stop()
        }

        let live = try ScriptProcess(
            arguments: ["sleep", "30"], directory: folder.path, environment: ProcessInfo.processInfo.environment, memoryLimitBytes: nil)
        #expect(live.kill(), "a running worker is signalled")
        var ended = ""
        for await event in live.events { if case .exited(let status) = event { ended = status } }
        #expect(ended == "signal 9")
        #expect(!live.kill(), "a reaped worker is not")
    }

    /// Says, as its describe summary, the memory limit and the scheduling it was born with: read by its very first
    /// lines with shell builtins only (no fork), before anything else runs.
    static let reportsItsBirth = """
        #!/bin/sh
        as=none
        while IFS= read -r l; do case "$l" in "Max address space"*) set -- $l; as=$4 ;; esac; done < /proc/self/limits
        read -r stat < /proc/self/stat
        set -- $stat
        born="as=$as nice=${19} policy=${41}"
        while IFS= read -r line; do
          id=$(printf '%s\\n' "$line" | sed -n 's/^{"v":1,"type":"[a-z]*","id":\\([0-9]*\\).*/\\1/p')
          printf '{"v":1,"id":%s,"summary":"%s","bars_needed":1}\\n' "$id" "$born"
        done
        """

    /// `--script-memory-mb` and a backtest's low priority bind a worker from its first instruction: it is exec'd
    /// through prlimit(1) and nice(1) (`WorkerLaunchTests`), not given them a moment after it started, when it could
    /// already have started a process that escapes them. Without them it is born as the executor's threads are.
    @Test func aWorkerIsBornWithItsMemoryLimitAndPriority() async throws {
        try #require(access(WorkerLaunch.prlimitTool, X_OK) == 0 && access(WorkerLaunch.niceTool, X_OK) == 0,
                     "util-linux's prlimit and coreutils' nice are essential Debian packages")
        let folder = TemporaryDirectory("scripts")
        try Self.write(Self.reportsItsBirth, to: folder.file("born_with.sh"), executable: true)
        let file = try #require(ScriptFolder.scan(folder.path).first)
        let logger = Logger(label: "script-test")

        let limited = ScriptWorker(file: file, timeLimit: .seconds(5), memoryLimitBytes: 300 << 20, lowPriority: true, logger: logger)
        let born = try await limited.start(describeLimit: .seconds(10)).get().summary
        await limited.stop()
        // Born at nice 19; the executor then moves it to SCHED_IDLE (policy 5) where allowed, which may come after
        // the script's first lines.
        #expect(born.hasPrefix("as=\(300 << 20) nice=19 policy="), "\(born)")

        var own = rlimit()
        getrlimit(Int32(RLIMIT_AS.rawValue), &own)
        let unlimited = ScriptWorker(file: file, timeLimit: .seconds(5), memoryLimitBytes: nil, lowPriority: false, logger: logger)
        let plain = try await unlimited.start(describeLimit: .seconds(10)).get().summary
        await unlimited.stop()
        #expect(plain.hasPrefix(own.rlim_cur == rlim_t.max ? "as=unlimited " : "as=\(own.rlim_cur) "), "\(plain)")
        #expect(plain.hasSuffix(" nice=\(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)) policy=0"), "\(plain)")
    }

    /// A worker whose program is missing says so at the start, with the name it was given, limits or not.
    @Test func aMissingProgramCantStartAndSaysWhy() async throws {
        let folder = TemporaryDirectory("scripts")
        for limit in [nil, UInt64(300 << 20)] {
            do {
                _ = try ScriptProcess(arguments: [folder.file("missing.sh")], directory: folder.path, environment: [:], memoryLimitBytes: limit)
                Issue.record("a missing program started (limit \(limit.map(String.init) ?? "none"))")
            } catch {
                #expect("\(error)" == "cannot start \(folder.file("missing.sh")): No such file or directory", "\(error)")
            }
        }
    }

    /// A Python worker can't reach the network: the runner's seccomp filter makes socket(AF_INET/AF_INET6)
    /// fail before any algorithm code runs (a local AF_UNIX socket still works).
    @Test func aPythonScriptCannotOpenANetworkSocket() async throws {
        let folder = TemporaryDirectory("scripts")
        try Self.write("""
            import socket

            class Algorithm:
                def __init__(self, ticker, initial_capital):
                    pass

                def on_data(self, bars, transaction_history):
                    try:
                        socket.create_connection(('127.0.0.1', 9), timeout=1).close()
                        return ('buy', 1, 'reached the network')
                    except OSError as error:
                        socket.socket(socket.AF_UNIX).close()
                        return ('hold', 0, 'blocked: %s' % error)
            """, to: folder.file("phones_home.py"))
        let worker = Self.worker(try #require(ScriptFolder.scan(folder.path).first))
        defer { Task { await worker.stop() } }
        _ = try await worker.describe().get()
        guard case .decided(let decision) = await worker.decide(card: 1, input: Self.input(closes: [100])) else {
            Issue.record("no decision"); return
        }
        #expect(decision.action == .hold && decision.reason.contains("Permission denied"), "\(decision)")
    }

    /// A Python worker writes only under its own folder: the runner's Landlock ruleset refuses a write outside.
    @Test func aPythonScriptWritesOnlyInItsOwnFolder() async throws {
        let folder = TemporaryDirectory("scripts")
        let outside = TemporaryDirectory("outside")
        try Self.write("""
            import os

            class Algorithm:
                def __init__(self, ticker, initial_capital):
                    pass

                def on_data(self, bars, transaction_history):
                    open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'notes.txt'), 'w').write('mine')
                    try:
                        open('\(outside.file("escaped.txt"))', 'w').write('escaped')
                        return ('buy', 1, 'wrote outside')
                    except OSError as error:
                        return ('hold', 0, 'outside: %s' % error)
            """, to: folder.file("writer.py"))
        let worker = Self.worker(try #require(ScriptFolder.scan(folder.path).first))
        defer { Task { await worker.stop() } }
        _ = try await worker.describe().get()
        guard case .decided(let decision) = await worker.decide(card: 1, input: Self.input(closes: [100])) else {
            Issue.record("no decision"); return
        }
        #expect(decision.action == .hold && decision.reason.contains("Permission denied"), "\(decision)")
        #expect(FileManager.default.fileExists(atPath: folder.file("notes.txt")))
        #expect(!FileManager.default.fileExists(atPath: outside.file("escaped.txt")))
    }

    /// Protocol answers are parsed strictly: booleans aren't shares, and an answer without an id is not the protocol.
    @Test func answersAreCheckedForSense() throws {
        func verdict(_ json: String) -> String {
            guard let answer = ScriptAnswer(line: Data(json.utf8)) else { return "not protocol" }
            switch ScriptVerdict.decision(from: answer) {
            case .success(let decision): return "\(decision.action)"
            case .failure(let problem): return problem.description
            }
        }
        #expect(verdict(#"{"id":1,"action":"buy","shares":3}"#) == "buy(3)")
        #expect(verdict(#"{"id":1,"action":"SELL","shares":2.0}"#) == "sell(2)")
        #expect(verdict(#"{"id":1,"action":"hold"}"#) == "hold")
        #expect(verdict(#"{"id":1,"action":"buy","shares":true}"#).contains("whole number"))
        #expect(verdict(#"{"id":1,"action":"buy","shares":"3"}"#).contains("whole number"))
        #expect(verdict(#"{"id":1,"action":"buy"}"#).contains("without a share count"))
        #expect(verdict(#"{"id":1,"error":"ZeroDivisionError"}"#).contains("ZeroDivisionError"))
        #expect(verdict(#"{"action":"buy","shares":1}"#) == "not protocol")
        #expect(verdict("hello") == "not protocol")
        #expect(ScriptProtocol.price(187.123456) == "187.123456" && ScriptProtocol.price(100) == "100" && ScriptProtocol.price(0.5) == "0.5")
    }

    // MARK: - The whole system

    static func availability(_ api: APIProcess) async throws -> [String: (kind: String, status: String, error: String?)] {
        let (_, body) = try await api.json("GET", "/api/available-algorithms")
        var result: [String: (kind: String, status: String, error: String?)] = [:]
        for item in body["algorithms"]?.array ?? [] {
            guard let name = item["name"]?.string, let kind = item["kind"]?.string, let status = item["status"]?.string else { continue }
            // A name can have a Swift row and a (clashing) script row: the script's is the one the tests look at.
            if result[name] == nil || kind == "script" { result[name] = (kind, status, item["error"]?.string) }
        }
        return result
    }

    /// A Python algorithm in the original design's form and a POSIX sh one trade through the simulator, the
    /// streamer, the executor and the api; a file added while everything runs is offered within 10 s and its
    /// card trades; clashes are reported by name and can't get a card; a removed script's card is skipped with
    /// the reason; every fill is exactly one transaction in system.db.
    @Test func scriptsTradeThroughTheWholeSystemAndFilesArePickedUpWhileRunning() async throws {
        let seed = Self.seed()
        let trading = try await TradingSystem(simArguments: ["--start", "2024-06-04T14:00:00Z", "--speed", "60", "--seed", "\(seed)"])
        let folder = TemporaryDirectory("algorithms")
        try Self.write(Self.buysToThree, to: folder.file("buys_to_three.py"))
        try Self.write(Self.shBuysOne, to: folder.file("sh_buys_one.sh"), executable: true)
        try Self.write("not an algorithm", to: folder.file("notes.txt"))
        try trading.startStreamer(lookbackMinutes: 10)
        try trading.startExecutor(["--algorithm-dir", folder.path])
        let api = try await APIProcess(
            directory: trading.directory, systemPath: trading.systemPath, stocksPath: trading.stocksPath, sim: trading.sim)
        func create(_ ticker: String, _ type: String, capital: Int) async throws -> (Int, JSONAny) {
            try await api.json("POST", "/api/algorithms", json: ["ticker": ticker, "algorithm_type": type, "initial_capital": capital, "pin": "2020"])
        }

        try await waitFor("the executor published its scripts", timeout: 60) {
            let available = try await Self.availability(api)
            return available["buys_to_three"]?.status == "ok" && available["sh_buys_one"]?.status == "ok"
        }
        let available = try await Self.availability(api)
        #expect(available["buys_to_three"]?.kind == "script" && available["sma_crossover"]?.kind == "swift")
        #expect(available["bollinger_reversion"] == nil && available["notes"] == nil, "only the configured folder, only algorithm files")
        let (pythonStatus, pythonCard) = try await create("AAPL", "buys_to_three", capital: 5000)
        let (shStatus, shCard) = try await create("MSFT", "sh_buys_one", capital: 2000)
        #expect(pythonStatus == 201 && shStatus == 201, "\(pythonCard) \(shCard)")
        let pythonID = Int64(pythonCard["id"]?.number ?? 0), shID = Int64(shCard["id"]?.number ?? 0)

        // Added while running: offered within 10 s of the write, and its card trades.
        try Self.write(Self.buysToThree.replacingOccurrences(of: "Buys one share", with: "Late: buys one share"), to: folder.file("late_comer.py"))
        try await waitFor("late_comer.py is offered", timeout: 10) { try await Self.availability(api)["late_comer"]?.status == "ok" }
        let (lateStatus, lateCard) = try await create("NVDA", "late_comer", capital: 5000)
        #expect(lateStatus == 201, "\(lateCard)")
        let lateID = Int64(lateCard["id"]?.number ?? 0)

        // Clashes: with a Swift algorithm, and two scripts of one name. Reported by name; no card for them.
        try Self.write(Self.oversells, to: folder.file("sma_crossover.py"))
        try Self.write(Self.oversells, to: folder.file("twin.py"))
        try Self.write(Self.shBuysOne, to: folder.file("twin.sh"), executable: true)
        try await waitFor("the clashes are reported", timeout: 10) {
            let available = try await Self.availability(api)
            return available["sma_crossover"]?.status == "error" && available["twin"]?.status == "error"
        }
        let reported = try await Self.availability(api)
        #expect(reported["sma_crossover"]?.error?.contains("Swift algorithm sma_crossover") == true, "\(String(describing: reported["sma_crossover"]))")
        #expect(reported["twin"]?.error?.contains("twin.py") == true && reported["twin"]?.error?.contains("twin.sh") == true)
        let doctor = Doctor.checkAlgorithms(systemPath: trading.systemPath, compiled: AlgorithmCatalog([]))
        #expect(doctor.verdict == .warn && doctor.detail.contains("twin (script, error") && doctor.detail.contains("buys_to_three (script, ok)")
            && doctor.detail.contains("sma_crossover (swift, ok)"), "\(doctor.detail)")
        let (twinStatus, twinAnswer) = try await create("AAPL", "twin", capital: 1000)
        #expect(twinStatus == 400 && twinAnswer["error"]?.string?.contains("can't run") == true, "\(twinAnswer)")
        let (swiftStatus, _) = try await create("AAPL", "sma_crossover", capital: 1000) // the Swift one still runs
        #expect(swiftStatus == 201)
        let cli = try await Executables.run(
            "autotrader", ["algorithms", "available", "--json", "--system-db", trading.systemPath], directory: trading.directory)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [[String: Any]], "\(cli.stderr)")
        #expect(rows.contains { $0["name"] as? String == "twin" && $0["status"] as? String == "error" && $0["kind"] as? String == "script" })
        #expect(rows.contains { $0["name"] as? String == "late_comer" && $0["status"] as? String == "ok" && $0["bars_needed"] as? Int == 5 })

        try await waitFor("the script cards trade", timeout: 180) {
            let python = try trading.system.position(algorithmId: pythonID).shares
            let late = try trading.system.position(algorithmId: lateID).shares
            let sh = try trading.system.trades(algorithmId: shID).filter { $0.side == .buy }.count
            return python == 3 && late == 3 && sh == 2
        }
        // Removed while running: its card is skipped with the reason, never traded blind.
        try FileManager.default.removeItem(atPath: folder.file("late_comer.py"))
        try await waitFor("the removed script's card is skipped", timeout: 30) {
            try trading.system.decisions(algorithmId: lateID).contains { $0.decision == .skip && $0.reason.contains("was removed") }
        }
        #expect(try await Self.availability(api)["late_comer"] == nil)

        // Every order closed while the executor still runs (it follows and, past their minute, cancels them);
        // once stopped, nothing would close one that was still open (a resting limit buy can be, for a minute).
        try await trading.waitForNoOpenIntents()
        _ = await trading.stopExecutor()
        for id in [pythonID, lateID] {
            let decisions = try trading.system.decisions(algorithmId: id)
            #expect(!decisions.contains { $0.decision == .error }, "\(decisions.filter { $0.decision == .error }.map(\.reason))")
            #expect(try trading.system.position(algorithmId: id).shares == 3)
        }
        let logs = trading.executorLogs.joined()
        #expect(logs.contains("script stderr: held"), "the script's print() goes to the log")
        #expect(logs.contains("card=\(pythonID)"))
        let (fills, problems) = try await trading.fillsVersusTransactions()
        #expect(fills >= 8 && problems.isEmpty, "\(fills) fills: \(problems)")
    }

    /// Hanging, crashing, garbage-printing, over-selling and nonsense scripts each get their documented
    /// outcome in the decision log and never trade, while a healthy script's card trades beside them.
    @Test func misbehavingScriptsNeverTradeWhileOthersDo() async throws {
        let seed = Self.seed()
        let trading = try await TradingSystem(simArguments: ["--start", "2024-06-04T14:00:00Z", "--speed", "60", "--seed", "\(seed)"])
        let folder = TemporaryDirectory("algorithms")
        try Self.write(Self.buysToThree, to: folder.file("buys_to_three.py"))
        try Self.write(Self.hangs, to: folder.file("hangs.py"))
        try Self.write(Self.crashes, to: folder.file("crashes.py"))
        try Self.write(Self.garbage, to: folder.file("garbage.sh"), executable: true)
        try Self.write(Self.oversells, to: folder.file("oversells.py"))
        try Self.write(Self.nonsense, to: folder.file("nonsense.py"))
        let system = trading.system
        func card(_ ticker: String, _ type: String) throws -> Int64 {
            try system.createAlgorithm(ticker: ticker, algorithmType: type, initialCapital: 5_000).id
        }
        let healthy = try card("AAPL", "buys_to_three"), hangs = try card("MSFT", "hangs"), crashes = try card("AAPL", "crashes")
        let garbage = try card("MSFT", "garbage"), oversells = try card("NVDA", "oversells"), nonsense = try card("NVDA", "nonsense")
        try trading.startStreamer(lookbackMinutes: 10)
        try trading.startExecutor(["--algorithm-dir", folder.path, "--decision-timeout", "1"])

        func decisions(_ id: Int64) throws -> [DecisionRecord] { try system.decisions(algorithmId: id) }
        try await waitFor("the healthy card holds three and every bad card has its outcome", timeout: 180) {
            try system.position(algorithmId: healthy).shares == 3
                && decisions(hangs).contains { $0.decision == .error && $0.reason.contains("no answer within") }
                && decisions(hangs).contains { $0.decision == .skip && $0.reason.contains("restarting") }
                && decisions(crashes).contains { $0.decision == .error && $0.reason.contains("exited") }
                && decisions(garbage).contains { $0.decision == .error && $0.reason.contains("not the protocol") }
                && decisions(oversells).contains { $0.decision == .refused }
                && Set(decisions(nonsense).map(\.reason)).count >= 3
        }
        // Fixed while running: the changed file gets a fresh worker, and its card trades from then on.
        let crashesBefore = try decisions(crashes).count
        try Self.write(Self.buysToThree, to: folder.file("crashes.py"))
        try await waitFor("the fixed script's card trades", timeout: 90) { try system.position(algorithmId: crashes).shares == 3 }
        #expect(try decisions(crashes).count > crashesBefore)

        _ = await trading.stopExecutor()
        try await trading.waitForNoOpenIntents()
        for bad in [hangs, garbage, oversells, nonsense] {
            #expect(try system.trades(algorithmId: bad).isEmpty && system.intents(algorithmId: bad).isEmpty, "card \(bad) traded")
        }
        #expect(try decisions(crashes).contains { $0.reason.contains("about to crash") }, "the crash's stderr is in the reason")
        let nonsenseReasons = try decisions(nonsense).map(\.reason)
        #expect(nonsenseReasons.allSatisfy { $0.contains("not traded") }, "\(nonsenseReasons)")
        #expect(nonsenseReasons.contains { $0.contains("whole number") } && nonsenseReasons.contains { $0.contains("negative") }
            && nonsenseReasons.contains { $0.contains("unknown action") })
        #expect(try decisions(oversells).allSatisfy { $0.decision == .refused || $0.decision == .skip })
        #expect(try !decisions(healthy).contains { $0.decision == .error })
        let (_, problems) = try await trading.fillsVersusTransactions()
        #expect(problems.isEmpty, "\(problems)")
    }

    /// The dashboard's add dialog offers a script beside the Swift algorithms (marked "script") and shows a
    /// broken one, disabled, with its error; a card is created for the script through the dialog.
    @Test func theDashboardOffersScriptsAndShowsABrokenOneAsUnavailable() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let world = try await APIWorld(apiArguments: ["--frontend", Repository.path("frontend")])
        // What an executor would publish (the api only reads it).
        try world.system.publishCatalog([
            CatalogEntry(name: "my_script", kind: .script, summary: "a script that buys dips", barsNeeded: 30, status: .ok,
                         path: "/algorithms/my_script.py", fileHash: "0123456789abcdef"),
            CatalogEntry(name: "broken_one", kind: .script, summary: "", barsNeeded: nil, status: .error,
                         error: "the file could not be loaded: SyntaxError: invalid syntax", path: "/algorithms/broken_one.py"),
            CatalogEntry(name: "sma_crossover", kind: .swift, summary: "SMA 20/50 crossover", barsNeeded: 51, status: .ok),
        ])
        let browser = try await WebDriver(width: 800, height: 480)
        defer { Task { await browser.quit() } }
        try await browser.navigate("\(world.api.baseURL)/?poll_open_ms=600000")
        #expect(try await browser.waitUntil("return Number(document.body.dataset.pollCount || 0) >= 1", timeout: 20))
        try await browser.click("#add-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        for digit in "2020" { try await browser.click("#pin-pad [data-digit=\"\(digit)\"]") }
        try await browser.click("#pin-ok")
        #expect(try await browser.waitFor("#add-dialog", visible: true) != nil)
        #expect(try await browser.waitUntil("return document.querySelectorAll('#add-algorithm option').length >= 5", timeout: 10))
        let options = try await browser.execute("""
            return Array.from(document.querySelectorAll('#add-algorithm option')).map(o => [o.value, o.textContent, o.disabled])
            """) as? [[Any]] ?? []
        let rows = options.map { ($0[0] as? String ?? "", $0[1] as? String ?? "", $0[2] as? Bool ?? false) }
        #expect(rows.contains { $0.0 == "my_script" && $0.1.contains("script") && !$0.2 }, "\(rows)")
        #expect(rows.contains { $0.0 == "" && $0.1.contains("broken_one") && $0.1.contains("unavailable") && $0.1.contains("SyntaxError") && $0.2 },
                "\(rows)")
        #expect(rows.contains { $0.0 == "sma_crossover" && !$0.2 })
        try await browser.type("#add-ticker", "AAPL")
        #expect(try await browser.waitUntil("return document.querySelector('#ticker-status').dataset.state === 'valid'", timeout: 10))
        try await browser.execute("const s = document.querySelector('#add-algorithm'); s.value = 'my_script'; s.dispatchEvent(new Event('change'))")
        #expect(try await browser.text("#add-algorithm-description") == "a script that buys dips")
        try await browser.type("#add-capital", "1500")
        try await browser.click("#add-submit")
        #expect(try await browser.waitUntil("return document.querySelectorAll('#cards .card').length === 1", timeout: 15))
        #expect(try world.system.algorithms(status: .running).map(\.algorithmType) == ["my_script"])
    }
}
