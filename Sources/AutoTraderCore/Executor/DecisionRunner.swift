import Foundation

/// Runs algorithm decisions on their own threads with a time limit.
///
/// An algorithm is arbitrary code: it may loop forever. Run on Swift's cooperative pool (two
/// threads on a 2-core Pi) one hung decision would starve everything else, and a synchronous
/// call can't be cancelled. So each decision gets a thread; the caller stops waiting at the
/// time limit, and a card whose previous decision is still running is skipped until it ends.
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

    public init(timeLimit: Duration = .seconds(2)) {
        self.timeLimit = timeLimit
    }

    public func run(card: Int64, algorithm: any TradingAlgorithm.Type, input: AlgorithmInput) async -> Outcome {
        guard claim(card) else { return .stillBusy }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let once = ResumeOnce(continuation)
            let thread = Thread { [self] in
                let outcome: Outcome
                do {
                    outcome = .decided(try algorithm.init().decide(input))
                } catch {
                    outcome = .threw(String(describing: error))
                }
                release(card)
                once.resume(outcome)
            }
            thread.name = "decision-\(card)"
            thread.stackSize = 4 << 20
            thread.start()
            let limit = timeLimit.components
            let nanoseconds = Int(limit.seconds) * 1_000_000_000 + Int(limit.attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                once.resume(.timedOut)
            }
        }
    }

    /// Cards whose decision thread is still running.
    public var busyCards: Set<Int64> { lock.withLock { busy } }

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
