import Foundation

/// Runs algorithm decisions on threads of their own with a time limit.
///
/// An algorithm is arbitrary code: it may loop forever. Run on Swift's cooperative pool (two
/// threads on a 2-core Pi) one hung decision would starve everything else, and a synchronous
/// call can't be cancelled. So each decision runs on a thread of `DecisionThreads` (never queued
/// behind another decision); the caller stops waiting at the time limit, and a card whose previous
/// decision is still running is skipped until it ends. The threads are reused: starting one per
/// decision (a 4 MiB stack mapped, a clone, a Foundation `Thread`) was most of a 100-card minute's
/// decision time.
public final class DecisionRunner: @unchecked Sendable {
    /// How a decision ended.
    public enum Outcome: Sendable {
        case decided(AlgorithmDecision)
        case threw(String)
        case timedOut
        /// The card's previous decision is still running (it hung before).
        case stillBusy
    }

    private let lock = NSLock()
    private var busy: Set<Int64> = []
    /// When each busy card's decision began (a decision merely running is not a hung one).
    private var busySince: [Int64: ContinuousClock.Instant] = [:]
    public let timeLimit: Duration
    private let threads: DecisionThreads
    private let limitNanoseconds: Int

    /// - Parameter idleThreads: threads kept waiting for the next decision (about the decisions run at once).
    public init(timeLimit: Duration = .seconds(2), idleThreads: Int = 8) {
        self.timeLimit = timeLimit
        self.threads = DecisionThreads(keepIdle: idleThreads)
        let limit = timeLimit.components
        self.limitNanoseconds = Int(limit.seconds) * 1_000_000_000 + Int(limit.attoseconds / 1_000_000_000)
    }

    public func run(card: Int64, algorithm: any TradingAlgorithm.Type, input: AlgorithmInput) async -> Outcome {
        guard claim(card) else { return .stillBusy }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let once = ResumeOnce(continuation)
            threads.run { [self] in
                let outcome: Outcome
                do {
                    outcome = .decided(try algorithm.init().decide(input))
                } catch {
                    outcome = .threw(String(describing: error))
                }
                release(card)
                return { once.resume(outcome) }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(limitNanoseconds)) {
                once.resume(.timedOut)
            }
        }
    }

    /// Cards whose decision thread is still running.
    public var busyCards: Set<Int64> { lock.withLock { busy } }

    /// Threads started so far (a hung decision keeps its thread; the others are reused).
    public var threadsStarted: Int { threads.started }

    /// Cards whose decision has run past the time limit and still holds its thread: hung. (A decision
    /// that happens to be running when the heartbeat looks is not.)
    public var hungCards: Set<Int64> {
        let now = ContinuousClock.now
        return lock.withLock { Set(busySince.filter { now - $0.value >= timeLimit }.keys) }
    }

    private func claim(_ card: Int64) -> Bool {
        lock.withLock {
            guard busy.insert(card).inserted else { return false }
            busySince[card] = .now
            return true
        }
    }

    private func release(_ card: Int64) {
        lock.withLock {
            busy.remove(card)
            busySince[card] = nil
        }
    }
}

/// Threads for decisions: a job goes to an idle thread, or to a new one when none is idle, so it never
/// waits behind another job (a hung decision holds only its own thread). A thread that finishes waits
/// for the next job, unless `keepIdle` already wait; then it ends.
final class DecisionThreads: @unchecked Sendable {
    /// A job runs on the thread and returns what to do once the thread is free again (resume its caller):
    /// so a caller that decides again at once finds the thread idle instead of starting another.
    typealias Job = @Sendable () -> @Sendable () -> Void

    /// One thread's hand-over slot: the job it runs next, and the signal that one is there.
    private final class Slot: @unchecked Sendable {
        let ready = DispatchSemaphore(value: 0)
        var job: Job?
    }

    private let lock = NSLock()
    private var idle: [Slot] = []
    private var startedCount = 0
    private let keepIdle: Int
    /// Algorithms recurse (indicators over windows): the stack the per-decision threads had.
    static let stackSize = 4 << 20

    init(keepIdle: Int) { self.keepIdle = max(0, keepIdle) }

    var started: Int { lock.withLock { startedCount } }

    func run(_ job: @escaping Job) {
        let waiting: Slot? = lock.withLock {
            if let slot = idle.popLast() {
                slot.job = job
                return slot
            }
            startedCount += 1
            return nil
        }
        if let waiting {
            waiting.ready.signal()
            return
        }
        let slot = Slot()
        slot.job = job
        let thread = Thread { [self] in serve(slot) }
        thread.name = "decision"
        thread.stackSize = Self.stackSize
        thread.start()
    }

    /// A thread's life: its job, then each one handed to it, until enough other threads are idle.
    private func serve(_ slot: Slot) {
        while true {
            let job: Job? = lock.withLock {
                defer { slot.job = nil }
                return slot.job
            }
            let then = job?()
            let stays: Bool = lock.withLock {
                guard idle.count < keepIdle else { return false }
                idle.append(slot)
                return true
            }
            then?()
            guard stays else { return }
            slot.ready.wait()
        }
    }
}

/// Resumes a continuation once, whoever comes first (the decision or its time limit).
private final class ResumeOnce<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Value, Never>?

    init(_ continuation: CheckedContinuation<Value, Never>) { self.continuation = continuation }

    func resume(_ value: Value) {
        let pending: CheckedContinuation<Value, Never>? = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        pending?.resume(returning: value)
    }
}
