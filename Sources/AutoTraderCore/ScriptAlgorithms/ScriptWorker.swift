import Foundation
import Logging

/// What a script says about itself when asked (`describe`).
public struct ScriptDescription: Sendable, Equatable {
    public let summary: String
    public let barsNeeded: Int
}

/// Why a worker gave no answer to a request.
public enum ScriptWorkerFailure: Error, Sendable, CustomStringConvertible {
    /// This request's answer missed the time limit: the worker was killed.
    case timedOut(Duration)
    /// The worker was killed or died while this request waited behind another one.
    case aborted(String)
    /// It exited, or closed its stdout.
    case exited(String)
    /// It printed a line that is not the protocol.
    case notProtocol(String)
    /// It is down after a failure and restarts later (backoff).
    case restarting(inSeconds: Int, after: String)
    case cannotStart(String)
    case stopped

    public var description: String {
        switch self {
        case .timedOut(let limit): return "no answer within \(limit); the worker was killed and restarts with backoff"
        case .aborted(let why): return "the worker was restarted before it answered (\(why))"
        case .exited(let why): return "the worker exited: \(why)"
        case .notProtocol(let line): return "the worker printed something that is not the protocol: \(ScriptVerdict.clip(line, to: 160).debugDescription)"
        case .restarting(let seconds, let why): return "the worker is restarting in \(seconds) s after: \(why)"
        case .cannotStart(let why): return "the worker can't be started: \(why)"
        case .stopped: return "the worker was stopped (the file changed or was removed)"
        }
    }
}

/// One long-lived worker process for one script file, speaking `ScriptProtocol`. Requests are pipelined:
/// every decision of a minute goes out at once and the answers are matched by id, each within the time
/// limit of the answer before it. A worker that misses it, exits or prints what is not the protocol is
/// killed; the requests it held fail with that reason; it restarts on the next request after a backoff
/// (1 s doubling to 60 s, reset by an answer). Its stderr goes to the log with the card it was deciding.
public actor ScriptWorker {
    public nonisolated let name: String
    public nonisolated let path: String
    let arguments: [String]
    let environment: [String: String]
    let timeLimit: Duration
    let memoryLimitBytes: UInt64?
    /// A backtest's worker runs at the backtest's low priority.
    let lowPriority: Bool
    let logger: Logger

    private struct Pending {
        let card: Int64?
        let ticker: String
        let limit: Duration
        let continuation: CheckedContinuation<Result<ScriptAnswer, ScriptWorkerFailure>, Never>
    }

    private var process: ScriptProcess?
    /// Bumped per process: events and watchdogs of a killed one are ignored.
    private var generation = 0
    private var nextID: Int64 = 1
    private var pending: [Int64: Pending] = [:]
    /// Ids in the order they were sent: the first is the one the worker is working on.
    private var queue: [Int64] = []
    /// Answers received: a watchdog that sees it unchanged knows the head request is late.
    private var progress = 0
    private var failures = 0
    private var restartAt: ContinuousClock.Instant?
    private var lastFailure = ""
    private var stderrTail: [String] = []
    private var stderrWindow = (start: ContinuousClock.now, lines: 0)
    private var stopped = false
    /// Its stdout closed while requests waited: they fail when it has exited, once all of its stderr is read.
    private var outputClosed = false
    public private(set) var decisionsAnswered = 0

    /// Importing a Python file (numpy, pandas) may take seconds on a Pi.
    public static let defaultDescribeLimit: Duration = .seconds(20)
    /// RLIMIT_AS of a worker unless configured (`--script-memory-mb`).
    public static let defaultMemoryLimitBytes: UInt64? = 1 << 30

    public init(
        name: String, path: String, arguments: [String], environment: [String: String], timeLimit: Duration,
        memoryLimitBytes: UInt64? = nil, lowPriority: Bool = false, logger: Logger
    ) {
        self.name = name
        self.path = path
        self.arguments = arguments
        self.environment = environment
        self.timeLimit = timeLimit
        self.memoryLimitBytes = memoryLimitBytes
        self.lowPriority = lowPriority
        self.logger = logger
    }

    /// A worker for a script of the algorithm folder, with the plain environment every worker gets (never its
    /// parent's: the executor's holds the broker's keys). The executor and the backtests start theirs alike.
    public init(file: ScriptFile, timeLimit: Duration, memoryLimitBytes: UInt64?, lowPriority: Bool = false, logger: Logger) {
        self.init(
            name: file.name, path: file.path, arguments: file.arguments, environment: ScriptAlgorithms.workerEnvironment(name: file.name),
            timeLimit: timeLimit, memoryLimitBytes: memoryLimitBytes, lowPriority: lowPriority, logger: logger)
    }

    /// Starts the worker by asking the script what it is; a worker that can't say is stopped again.
    public func start(describeLimit: Duration) async -> Result<ScriptDescription, ScriptAnswerProblem> {
        let described = await describe(limit: describeLimit)
        if case .failure = described { stop() }
        return described
    }

    /// Asks the script what it is. Importing a Python file (numpy, pandas) may take seconds on a Pi.
    public func describe(limit: Duration = .seconds(20)) async -> Result<ScriptDescription, ScriptAnswerProblem> {
        switch await send(ScriptProtocol.describeRequest(id:), card: nil, ticker: "", limit: limit) {
        case .failure(let failure):
            return .failure(.init("describe failed: \(failure)\(tail)"))
        case .success(let answer):
            if let error = answer.error { return .failure(.init(ScriptVerdict.clip(error))) }
            guard answer.version == ScriptProtocol.version else {
                return .failure(.init("the script speaks protocol version \(answer.version.map(String.init) ?? "none"), the executor \(ScriptProtocol.version)"))
            }
            guard let bars = answer.barsNeeded, bars.rounded() == bars, bars >= 0, bars <= 100_000 else {
                return .failure(.init("describe: bars_needed must be a whole number from 0 to 100000"))
            }
            let summary = ScriptVerdict.clip(answer.summary ?? "", to: 300)
            return .success(ScriptDescription(summary: summary.isEmpty ? "a script algorithm" : summary, barsNeeded: Int(bars)))
        }
    }

    /// How one card's request ended.
    public enum Outcome: Sendable {
        case decided(AlgorithmDecision)
        /// It answered, but not a decision (an error it reported, shares 1.5, an unknown action…).
        case nonsense(String)
        case failed(ScriptWorkerFailure)
    }

    /// One card's decision, checked for sense (the guards check it for money later, as any algorithm's).
    public func decide(card: Int64, input: AlgorithmInput) async -> Outcome {
        switch await send({ ScriptProtocol.decideRequest(id: $0, card: card, input: input) }, card: card, ticker: input.ticker, limit: timeLimit) {
        case .failure(let failure):
            return .failed(failure)
        case .success(let answer):
            switch ScriptVerdict.decision(from: answer) {
            case .success(let decision): return .decided(decision)
            case .failure(let problem): return .nonsense(problem.description)
            }
        }
    }

    /// Kills the worker for good; waiting requests fail.
    public func stop() {
        stopped = true
        fail(all: .stopped)
        process?.kill()
        process = nil
        generation += 1
    }

    /// The worker's process id, while one runs (tests kill it).
    public var pid: Int32? { process?.pid }

    // MARK: - Requests

    private func send(
        _ request: (Int64) -> String, card: Int64?, ticker: String, limit: Duration
    ) async -> Result<ScriptAnswer, ScriptWorkerFailure> {
        if stopped { return .failure(.stopped) }
        if let failure = startIfNeeded() { return .failure(failure) }
        guard let process else { return .failure(.cannotStart("no process")) }
        let id = nextID
        nextID += 1
        let line = request(id)
        return await withCheckedContinuation { continuation in
            pending[id] = Pending(card: card, ticker: ticker, limit: limit, continuation: continuation)
            queue.append(id)
            if queue.count == 1 { arm() }
            process.write(line)
        }
    }

    /// Starts the process unless one runs; nil when it runs, else why not (backoff, or a failed start).
    private func startIfNeeded() -> ScriptWorkerFailure? {
        if process != nil { return nil }
        if let restartAt, restartAt > .now {
            let seconds = Int(((restartAt - .now) / .seconds(1)).rounded(.up))
            return .restarting(inSeconds: seconds, after: lastFailure)
        }
        let started: ScriptProcess
        do {
            started = try ScriptProcess(
                arguments: arguments, directory: (path as NSString).deletingLastPathComponent, environment: environment,
                memoryLimitBytes: memoryLimitBytes, lowPriority: lowPriority)
        } catch {
            noteFailure("\(error)")
            return .cannotStart("\(error)")
        }
        generation += 1
        let current = generation
        process = started
        outputClosed = false
        stderrTail = []
        logger.info("script worker started", metadata: ["algorithm": "\(name)", "file": "\(path)", "pid": "\(started.pid)"])
        Task { [weak self] in
            for await event in started.events {
                guard let self else { return }
                await self.handle(event, generation: current)
            }
        }
        return nil
    }

    private func handle(_ event: ScriptProcess.Event, generation current: Int) {
        switch event {
        case .exited(let status):
            logger.info("script worker ended", metadata: ["algorithm": "\(name)", "status": "\(status)"])
            // Comes after the last of its stderr, so the reason carries what it said before it died.
            if current == generation, process != nil, outputClosed {
                kill(failing: .exited("it closed its output (\(status))" + tail), others: "it exited")
            }
            return
        case .stderr(let line):
            logStderr(line, current: current)
            return
        default:
            break
        }
        guard current == generation, process != nil else { return }
        switch event {
        case .stdout(let line):
            guard let answer = ScriptAnswer(line: line) else {
                let text = String(decoding: line.prefix(400), as: UTF8.self)
                kill(failing: .notProtocol(text), others: "it printed something that is not the protocol")
                return
            }
            guard let waiting = pending.removeValue(forKey: answer.id) else {
                logger.warning("script answered an id nobody asked", metadata: ["algorithm": "\(name)", "id": "\(answer.id)"])
                return
            }
            queue.removeAll { $0 == answer.id }
            progress += 1
            failures = 0
            if waiting.card != nil { decisionsAnswered += 1 }
            waiting.continuation.resume(returning: .success(answer))
            if !queue.isEmpty { arm() }
        case .closed:
            guard !queue.isEmpty else {
                // Between requests (a stop signal meant for the whole service, say): no request failed, so no
                // backoff; the next request starts it again.
                logger.info("script worker exited between requests", metadata: ["algorithm": "\(name)", "file": "\(path)"])
                process?.kill()
                process = nil
                generation += 1
                return
            }
            // Its stderr may still be in the pipe: the requests fail at `.exited`, which follows the last of it.
            // Killed now in case it closed stdout and lives on.
            outputClosed = true
            process?.kill()
        default:
            break
        }
    }

    /// Fails the head request with `head`, every other waiting one as aborted, kills the process and
    /// sets the backoff.
    private func kill(failing head: ScriptWorkerFailure, others: String) {
        logger.warning("script worker failed; killed", metadata: [
            "algorithm": "\(name)", "file": "\(path)", "reason": "\(head)",
            "card": "\(queue.first.flatMap { pending[$0]?.card }.map(String.init) ?? "-")",
        ])
        if let first = queue.first, let waiting = pending.removeValue(forKey: first) {
            waiting.continuation.resume(returning: .failure(head))
        }
        fail(all: .aborted(others))
        process?.kill()
        process = nil
        outputClosed = false
        generation += 1
        noteFailure("\(head)")
    }

    private func fail(all failure: ScriptWorkerFailure) {
        for id in queue { pending.removeValue(forKey: id)?.continuation.resume(returning: .failure(failure)) }
        queue = []
    }

    private func noteFailure(_ why: String) {
        failures += 1
        lastFailure = ScriptVerdict.clip(why, to: 200)
        let seconds = min(60, 1 << min(failures - 1, 6))
        restartAt = .now + .seconds(seconds)
    }

    /// Watches the head request: if no answer comes within its limit, the worker is killed.
    private func arm() {
        guard let head = queue.first, let limit = pending[head]?.limit else { return }
        let mark = progress, current = generation
        Task { [weak self] in
            try? await Task.sleep(for: limit)
            await self?.check(mark: mark, generation: current)
        }
    }

    private func check(mark: Int, generation current: Int) {
        guard current == generation, progress == mark, let head = queue.first, let waiting = pending[head] else { return }
        kill(failing: .timedOut(waiting.limit), others: "card \(waiting.card.map(String.init) ?? "describe")'s answer took longer than \(waiting.limit)")
    }

    // MARK: - stderr

    private var tail: String { stderrTail.isEmpty ? "" : "; stderr: " + stderrTail.joined(separator: " | ") }

    /// Each stderr line goes to the log with the card being decided; at most 200 lines a minute (a
    /// chatty script can't flood the journal).
    private func logStderr(_ line: String, current: Int) {
        let clipped = ScriptVerdict.clip(line, to: 500)
        if current == generation {
            stderrTail.append(ScriptVerdict.clip(line, to: 160))
            if stderrTail.count > 3 { stderrTail.removeFirst() }
        }
        if ContinuousClock.now - stderrWindow.start > .seconds(60) { stderrWindow = (.now, 0) }
        stderrWindow.lines += 1
        guard stderrWindow.lines <= 200 else {
            if stderrWindow.lines == 201 {
                logger.warning("script stderr: more than 200 lines this minute; the rest of the minute is dropped", metadata: ["algorithm": "\(name)"])
            }
            return
        }
        var metadata: Logger.Metadata = ["algorithm": "\(name)", "file": "\(path)"]
        if current == generation, let head = queue.first, let waiting = pending[head], let card = waiting.card {
            metadata["card"] = "\(card)"
            metadata["ticker"] = "\(waiting.ticker)"
        }
        logger.notice("script stderr: \(clipped)", metadata: metadata)
    }
}
