import Foundation
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The executor's backtest queue: runs the backtests the api queued in system.db, one at a time, oldest
/// first. The computation runs on a thread of its own at the lowest priority the kernel has (SCHED_IDLE, else
/// nice 19), so the live minute — the executor's tasks at normal priority — always gets the CPU first and is
/// never delayed by a backtest; the queue itself is polled with one cheap read a second. A backtest the
/// executor was running when it died is queued again as the queue starts (`requeueInterruptedBacktests`).
public struct BacktestQueueService: Service {
    public let system: SystemDatabase
    public let runner: BacktestQueueRunner
    public var pollInterval: Duration
    public var limits: BacktestQueueLimits
    public let logger: Logger

    public init(
        system: SystemDatabase, runner: BacktestQueueRunner, pollInterval: Duration = .seconds(1),
        limits: BacktestQueueLimits = BacktestQueueLimits(), logger: Logger
    ) {
        self.system = system
        self.runner = runner
        self.pollInterval = pollInterval
        self.limits = limits
        self.logger = logger
    }

    public func run() async throws {
        do {
            let (requeued, failed) = try system.requeueInterruptedBacktests(maxAttempts: limits.maxAttempts)
            if requeued + failed > 0 {
                logger.notice("backtests interrupted by the last stop", metadata: ["queued_again": "\(requeued)", "failed": "\(failed)"])
            }
        } catch {
            logger.error("backtest queue: cannot requeue interrupted backtests", metadata: ["error": "\(error)"])
        }
        await cancelWhenGracefulShutdown { await self.loop() }
    }

    func loop() async {
        while !Task.isCancelled {
            let job: BacktestJob?
            do {
                job = try system.claimNextBacktest()
            } catch {
                logger.warning("backtest queue: cannot read the queue", metadata: ["error": "\(error)"])
                job = nil
            }
            if let job {
                await runOne(job)
                continue
            }
            try? await Task.sleep(for: pollInterval)
        }
    }

    /// Runs one claimed backtest and records its result or error. Cancelled (the executor stopping), it leaves the
    /// row running: the next start queues it again.
    func runOne(_ job: BacktestJob) async {
        let metadata: Logger.Metadata = [
            "backtest": "\(job.id)", "ticker": "\(job.ticker)", "algorithm": "\(job.algorithm)", "sessions": "\(job.sessions)",
        ]
        logger.info("backtest started", metadata: metadata)
        let outcome: Result<String, BacktestJobFailure>
        do {
            let prepared = try await runner.prepare(job)
            // A script's worker is stopped whatever comes (a thread still waiting for it when cancelled is let go).
            let computed = Task.isCancelled ? nil : await LowPriorityThread.run({ () -> Result<String, BacktestJobFailure> in
                Result { () throws(BacktestJobFailure) -> String in try BacktestQueueRunner.compute(prepared, logger: logger) }
            })
            await prepared.stop()
            guard let computed else { return } // cancelled before or while it ran
            outcome = computed
        } catch {
            outcome = .failure(error)
        }
        guard !Task.isCancelled else { return }
        do {
            switch outcome {
            case .success(let json):
                try system.finishBacktest(id: job.id, result: json)
                logger.info("backtest done", metadata: metadata)
            case .failure(let failure):
                try system.failBacktest(id: job.id, error: failure.description)
                logger.info("backtest failed", metadata: metadata.merging(["error": "\(failure.description)"]) { $1 })
            }
        } catch {
            logger.error("backtest queue: cannot record a result", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }
}

/// Work on a thread of its own at the lowest CPU priority, off Swift's cooperative pool (whose few threads the
/// live path needs): SCHED_IDLE on Linux (it runs only when nothing else wants the CPU), else nice 19.
public enum LowPriorityThread {
    /// Whether the last thread started could lower its priority (for tests and the log).
    public static let lowered = Atomic<Int>(0)

    /// Runs `body` on a new thread, at the lowest priority unless `lowered` is false; nil when the calling task is
    /// cancelled first (the thread then finishes on its own and its result is dropped). The thread may block (a
    /// script backtest waits there for its worker's answers), which Swift's cooperative pool must never do.
    public static func run<T: Sendable>(lowered: Bool = true, _ body: @escaping @Sendable () -> T) async -> T? {
        let box = OneShot<T?>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
                box.set(continuation)
                let thread = Thread {
                    if lowered { lowerPriority() }
                    box.resume(body())
                }
                thread.name = "backtest"
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onCancel: {
            box.resume(nil)
        }
    }

    static func lowerPriority() {
        if let how = lowerPriority(of: 0) { lowered.store(how, ordering: .relaxed) }
    }

    /// SCHED_IDLE, else nice 19, for the thread `id` (0: the calling one; a process id: its main thread, whose
    /// later threads and children inherit it). 2 for SCHED_IDLE, 1 for nice 19, nil when neither was allowed.
    @discardableResult
    static func lowerPriority(of id: pid_t) -> Int? {
        #if os(Linux)
        var parameters = sched_param()
        parameters.sched_priority = 0
        // SCHED_IDLE is 5 on Linux.
        if sched_setscheduler(id, 5, &parameters) == 0 { return 2 }
        // On Linux the nice value is the thread's own.
        if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(id), 19) == 0 { return 1 }
        #endif
        return nil
    }

    /// A continuation resumed once, by whichever comes first: the result or the cancellation.
    final class OneShot<Value: Sendable>: Sendable {
        private let state = Mutex<(continuation: CheckedContinuation<Value, Never>?, early: Value?, done: Bool)>((nil, nil, false))

        func set(_ continuation: CheckedContinuation<Value, Never>) {
            let early: Value? = state.withLock { state in
                if state.done, let value = state.early {
                    state.early = nil
                    return value
                }
                state.continuation = continuation
                return nil
            }
            if let early { continuation.resume(returning: early) }
        }

        func resume(_ value: Value) {
            let continuation: CheckedContinuation<Value, Never>? = state.withLock { state in
                guard !state.done else { return nil }
                state.done = true
                if let continuation = state.continuation {
                    state.continuation = nil
                    return continuation
                }
                state.early = value
                return nil
            }
            continuation?.resume(returning: value)
        }
    }
}
