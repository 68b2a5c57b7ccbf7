import Foundation
import Testing
@testable import AutoTraderCore

/// Algorithms for the decision runner's tests: one that answers at once, one that throws, and one that
/// hangs until the test opens its gate (the gate is the experiment's switch, not a timer).
struct DecidesAtOnce: TradingAlgorithm {
    static let summary = "buys one share"
    static let barsNeeded = 1
    func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision { .buy(1, "at once") }
}

struct AlwaysThrows: TradingAlgorithm {
    struct Broken: Error, CustomStringConvertible { var description: String { "my model is broken" } }
    static let summary = "throws"
    static let barsNeeded = 1
    func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision { throw Broken() }
}

struct HangsUntilReleased: TradingAlgorithm {
    static let gate = DispatchSemaphore(value: 0)
    static let summary = "hangs until the test releases it"
    static let barsNeeded = 1
    func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        Self.gate.wait()
        return .buy(1, "released")
    }
}

/// `DecisionRunner`: decisions run on reused threads, a hung one is abandoned at the time limit and its
/// card is skipped until it ends, while other cards' decisions go on.
@Suite(.serialized) struct DecisionRunnerTests {
    static let input = AlgorithmInput(
        ticker: "AAPL", initialCapital: 1_000,
        bars: [MinuteBar(ticker: "AAPL", timestamp: Timestamp("2024-06-04T14:30:00Z")!, open: 1, high: 1, low: 1, close: 1, volume: 1)],
        transactions: [], now: Timestamp("2024-06-04T14:30:00Z")!)

    @Test func decisionsReuseTheirThreads() async throws {
        let runner = DecisionRunner(timeLimit: .seconds(30), idleThreads: 4)
        for card in 1...100 {
            guard case .decided(let decision) = await runner.run(card: Int64(card), algorithm: DecidesAtOnce.self, input: Self.input) else {
                Issue.record("card \(card) was not decided")
                return
            }
            #expect(decision.action == .buy(1))
        }
        // One after another: the thread is idle again before its caller goes on, so one thread serves them all.
        #expect(runner.threadsStarted == 1)
        // Side by side: no more threads than decisions at once.
        let side = await withTaskGroup(of: Bool.self) { group in
            for card in 1...8 {
                group.addTask {
                    if case .decided = await runner.run(card: Int64(card), algorithm: DecidesAtOnce.self, input: Self.input) { return true }
                    return false
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(side == 8)
        #expect(runner.threadsStarted <= 9)
    }

    @Test func aThrowingAlgorithmIsReportedWithItsError() async {
        let runner = DecisionRunner(timeLimit: .seconds(30))
        guard case .threw(let message) = await runner.run(card: 1, algorithm: AlwaysThrows.self, input: Self.input) else {
            Issue.record("expected the error")
            return
        }
        #expect(message.contains("my model is broken"))
        #expect(runner.busyCards.isEmpty)
    }

    @Test func aHungDecisionIsAbandonedAndItsCardSkippedWhileTheOthersGoOn() async throws {
        let runner = DecisionRunner(timeLimit: .milliseconds(200), idleThreads: 2)
        // Warm the pool: the hung decision must not take a thread another card needs.
        _ = await runner.run(card: 2, algorithm: DecidesAtOnce.self, input: Self.input)
        let hung = await runner.run(card: 1, algorithm: HangsUntilReleased.self, input: Self.input)
        guard case .timedOut = hung else {
            Issue.record("expected the time limit, got \(hung)")
            return
        }
        #expect(runner.busyCards == [1])
        #expect(runner.hungCards == [1])
        guard case .stillBusy = await runner.run(card: 1, algorithm: HangsUntilReleased.self, input: Self.input) else {
            Issue.record("the hung card was decided again while its decision ran")
            return
        }
        // Other cards are decided while the hung decision holds its thread.
        for card in Int64(2)...Int64(20) {
            guard case .decided = await runner.run(card: card, algorithm: DecidesAtOnce.self, input: Self.input) else {
                Issue.record("card \(card) was not decided while card 1 hung")
                return
            }
        }
        HangsUntilReleased.gate.signal()
        try await waitFor("the hung decision ends", timeout: 30) { runner.busyCards.isEmpty }
        guard case .decided = await runner.run(card: 1, algorithm: DecidesAtOnce.self, input: Self.input) else {
            Issue.record("card 1 was not decided after its hung decision ended")
            return
        }
    }
}
