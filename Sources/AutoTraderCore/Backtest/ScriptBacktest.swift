import Foundation
import Logging
import Synchronization

/// What a backtest is asked to replay: an algorithm compiled into this build, or a script of the algorithm folder
/// (by the path the folder's scan found it at, or the executor published in the catalog).
public enum BacktestAlgorithm: Sendable {
    case compiled(AlgorithmCatalog.Entry)
    case script(name: String, path: String)

    public var name: String {
        switch self {
        case .compiled(let entry): return entry.name
        case .script(let name, _): return name
        }
    }
}

/// A script algorithm ready for one backtest: a worker of its own (the executor's `ScriptWorker`, the same
/// protocol and limits), started and described, stopped when the backtest ends.
public struct ScriptBacktest: Sendable {
    /// How a backtest's workers run.
    public struct Options: Sendable {
        /// Each decision's time limit: a worker that misses it ends the backtest.
        public var timeLimit: Duration = .seconds(10)
        public var describeLimit = ScriptWorker.defaultDescribeLimit
        /// RLIMIT_AS of the worker (nil: none).
        public var memoryLimitBytes = ScriptWorker.defaultMemoryLimitBytes
        /// The executor's queue runs its workers at the backtest's low priority; the CLI at its own.
        public var lowPriority = false

        public init(lowPriority: Bool = false) { self.lowPriority = lowPriority }

        /// The executor's queue: its live workers' describe and memory limits (`--script-memory-mb` binds a
        /// backtest's worker too), at the backtest's time limit and the queue's low priority.
        public init(queueOf live: ScriptAlgorithms.Options) {
            self.init(lowPriority: true)
            describeLimit = live.describeLimit
            memoryLimitBytes = live.memoryLimitBytes
        }
    }

    public let name: String
    public let barsNeeded: Int
    let worker: ScriptWorker

    /// Starts and describes a worker for the script at `path`; a script that can't run is an error naming it.
    public static func start(name: String, path: String, options: Options, logger: Logger) async throws(BacktestJobFailure) -> ScriptBacktest {
        guard let file = ScriptFolder.file(at: path), file.name == name else {
            throw BacktestJobFailure.cantRun(name, "\(path) is gone or is no longer a script algorithm")
        }
        let worker = ScriptWorker(
            file: file, timeLimit: options.timeLimit, memoryLimitBytes: options.memoryLimitBytes, lowPriority: options.lowPriority,
            logger: logger)
        switch await worker.start(describeLimit: options.describeLimit) {
        case .success(let description):
            return ScriptBacktest(name: name, barsNeeded: description.barsNeeded, worker: worker)
        case .failure(let problem):
            throw BacktestJobFailure.cantRun(name, problem.description)
        }
    }

    public func stop() async { await worker.stop() }
}

/// A backtest's algorithm, ready to replay: a compiled one, or a script with its worker running.
public enum BacktestRunnable: Sendable {
    case compiled(AlgorithmCatalog.Entry)
    case script(ScriptBacktest)

    public var name: String {
        switch self {
        case .compiled(let entry): return entry.name
        case .script(let script): return script.name
        }
    }

    /// The bars it looks back on: the warm-up a backtest reads before its range.
    public var barsNeeded: Int {
        switch self {
        case .compiled(let entry): return entry.barsNeeded
        case .script(let script): return script.barsNeeded
        }
    }

    /// Starts a worker for each script. One that can't run is an error (the workers already started are stopped
    /// first), unless `skipBroken` (a leaderboard): then it is left out and named in `broken` with its error.
    public static func start(
        _ algorithms: [BacktestAlgorithm], options: ScriptBacktest.Options, skipBroken: Bool, logger: Logger
    ) async throws(BacktestJobFailure) -> (ready: [BacktestRunnable], broken: [BacktestJobFailure]) {
        var ready: [BacktestRunnable] = [], broken: [BacktestJobFailure] = []
        for algorithm in algorithms {
            switch algorithm {
            case .compiled(let entry):
                ready.append(.compiled(entry))
            case .script(let name, let path):
                do {
                    ready.append(.script(try await ScriptBacktest.start(name: name, path: path, options: options, logger: logger)))
                } catch {
                    guard skipBroken else {
                        await stop(ready)
                        throw error
                    }
                    broken.append(error)
                }
            }
        }
        return (ready, broken)
    }

    /// Stops the scripts' workers (a backtest's end, whatever it came to).
    public static func stop(_ runnables: [BacktestRunnable]) async {
        for case .script(let script) in runnables { await script.stop() }
    }
}

extension Backtester {
    /// Runs `algorithm` over `bars`' range. A compiled one runs as `run(_:ticker:bars:settings:)`; a script's worker
    /// is asked at each minute the compiled one would decide (the executor's `decide` request: its bars, the card's
    /// transactions so far, the minute), and its answer goes through the same order rules, guards, sizing and fills.
    /// This thread waits for each answer, so it must be a thread of its own (`LowPriorityThread.run`), never Swift's
    /// cooperative pool. A script that gives no decision for a minute (it exited, missed the time limit, printed what
    /// is not the protocol, answered nonsense or reported an error) ends its replay: an error naming it and the minute
    /// (what becomes of the backtest, the caller says).
    func runWaiting(_ algorithm: BacktestRunnable, ticker: String, bars: BacktestBars, settings: BacktestSettings) throws(BacktestJobFailure) -> BacktestResult {
        switch algorithm {
        case .compiled(let entry):
            return run(entry, ticker: ticker, bars: bars, settings: settings)
        case .script(let script):
            let asker = ScriptAsker(script)
            let result = replay(ScriptDecider(asker), barsNeeded: script.barsNeeded, name: script.name, ticker: ticker, bars: bars, settings: settings)
            if let failure = asker.failure.withLock({ $0 }) { throw failure }
            return result
        }
    }

    /// `runWaiting` for each algorithm in turn. For a leaderboard (`leaveOutFailed`) a script that stops its backtest
    /// is left out and named in `leftOut` with its error, and the others are ranked; else its error is thrown.
    func runWaiting(
        _ algorithms: [BacktestRunnable], ticker: String, bars: BacktestBars, settings: BacktestSettings, leaveOutFailed: Bool
    ) throws(BacktestJobFailure) -> (results: [BacktestResult], leftOut: [BacktestJobFailure]) {
        var results: [BacktestResult] = [], leftOut: [BacktestJobFailure] = []
        for algorithm in algorithms {
            do {
                results.append(try runWaiting(algorithm, ticker: ticker, bars: bars, settings: settings))
            } catch {
                guard leaveOutFailed else {
                    throw BacktestJobFailure("\(error); the backtest is stopped, nothing of it is kept")
                }
                leftOut.append(error) // said as "left out: …" (CLI), in `left_out` and under the ranking (dashboard)
            }
        }
        return (results, leftOut)
    }

    /// `runWaiting` on a thread of its own, off Swift's cooperative pool. Cancelled, it throws; the thread finishes
    /// on its own once the workers are stopped.
    public func run(
        _ algorithms: [BacktestRunnable], ticker: String, bars: BacktestBars, settings: BacktestSettings, leaveOutFailed: Bool = false
    ) async throws(BacktestJobFailure) -> (results: [BacktestResult], leftOut: [BacktestJobFailure]) {
        let outcome = await LowPriorityThread.run(lowered: false) {
            Result { () throws(BacktestJobFailure) in
                try runWaiting(algorithms, ticker: ticker, bars: bars, settings: settings, leaveOutFailed: leaveOutFailed)
            }
        }
        guard let outcome else { throw BacktestJobFailure("the backtest was cancelled") }
        return try outcome.get()
    }
}

/// A script's worker, seen by the replay as one more algorithm: each `decide` is the worker's answer, waited for.
/// Only `ScriptDecider(_:)` makes a working one; the protocol's `init()` gives one that decides nothing.
struct ScriptDecider: TradingAlgorithm {
    static let summary = "a script algorithm, through its worker"
    static let barsNeeded = 0
    let asker: ScriptAsker?

    init() { asker = nil }
    init(_ asker: ScriptAsker) { self.asker = asker }

    func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        guard let asker else { throw ScriptAsker.Stopped() }
        return try asker.decide(input)
    }
}

/// Asks a script's worker for one minute's decision and waits for it. The first minute it gives no decision for
/// is kept as the backtest's failure; every later minute then fails at once (no request), so the replay runs out
/// quickly and its caller reports the failure instead of a result.
final class ScriptAsker: Sendable {
    /// Thrown to the replay for a minute without a decision (it counts it as an error; the result is dropped).
    struct Stopped: Error {}

    let script: ScriptBacktest
    let failure = Mutex<BacktestJobFailure?>(nil)

    init(_ script: ScriptBacktest) { self.script = script }

    func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        if failure.withLock({ $0 != nil }) { throw Stopped() }
        let answer = Handoff<ScriptWorker.Outcome>()
        let worker = script.worker
        // The backtest's card: id 0, its transactions the backtest's own fills.
        Task.detached { answer.put(await worker.decide(card: 0, input: input)) }
        let problem: String
        switch answer.take() {
        case .decided(let decision): return decision
        case .nonsense(let what): problem = "answered nonsense: \(what)"
        case .failed(let why): problem = "gave no decision: \(why)"
        }
        failure.withLock {
            $0 = BacktestJobFailure("script algorithm \(script.name) \(problem) (the minute \(input.now.text))")
        }
        throw Stopped()
    }
}

/// One value passed from a task to a thread that waits for it.
final class Handoff<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func put(_ new: Value) {
        value.withLock { $0 = new }
        ready.signal()
    }

    func take() -> Value {
        ready.wait()
        return value.withLock { $0! }
    }
}
