import Foundation
import GRDB
import Testing
@testable import AutoTraderCore

/// The real executor runs the backtests queued in system.db (as `POST /api/backtests` queues them): the
/// result is byte for byte what `autotrader backtest --json` prints for the same inputs; a backtest the
/// executor is killed in the middle of is queued again and finished after the restart; and while a long
/// backtest runs, the live cards are still decided every minute.
@Suite(.serialized) struct BacktestQueueProcessTests {
    /// Polls system.db until the backtest is in one of `states` (a deadline, not a stopwatch).
    static func wait(_ system: SystemDatabase, id: Int64, for states: Set<BacktestJobState>, timeout: TimeInterval) async throws -> BacktestJob {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let job = try system.backtest(id: id), states.contains(job.state) { return job }
            try await Task.sleep(for: .milliseconds(50))
        }
        let job = try system.backtest(id: id)
        throw SimulatorProcessError("backtest \(id) is \(job?.state.rawValue ?? "gone"), not \(states.map(\.rawValue).sorted()), after \(Int(timeout)) s: \(job?.error ?? "")")
    }

    /// What the CLI prints for the job's inputs over the sessions the job's result names.
    static func cli(_ trading: TradingSystem, _ job: BacktestJob) async throws -> String {
        let result = try JSONSerialization.jsonObject(with: Data((job.result ?? "").utf8)) as? [String: Any] ?? [:]
        let from = result["from"] as? String ?? "", to = result["to"] as? String ?? ""
        let run = try await Executables.run(
            "autotrader",
            ["backtest", "--type", job.algorithm, "--ticker", job.ticker, "--from", from, "--to", to, "--capital", job.capital.plainString,
             "--json", "--no-fetch", "--system-db", trading.systemPath, "--stocks-db", trading.stocksPath],
            directory: trading.directory)
        #expect(run.status == 0, "\(run.stderr)")
        return run.stdout
    }

    @Test func theExecutorRunsAQueuedBacktestAsTheCLIWouldEvenWhenKilledInTheMiddle() async throws {
        // Tuesday 2024-06-04, before the open: no live minute; the backtests fetch their bars from the simulator.
        let trading = try await TradingSystem(simArguments: ["--start", "2024-06-04T12:00:00Z", "--seed", "5"])
        try trading.startExecutor()
        let short = try trading.system.enqueueBacktest(ticker: "NVDA", algorithm: "macd_signal", capital: Decimal(string: "2500.75")!, sessions: 20, client: "test").job
        let done = try await Self.wait(trading.system, id: short.id, for: [.done, .failed], timeout: 300)
        #expect(done.state == .done, "\(done.error ?? "")")
        #expect(done.attempts == 1)
        #expect(try await Self.cli(trading, done) == done.result, "the queue's result is not the CLI's")

        // A year of every algorithm: killed while it runs, queued again on the restart, then finished.
        let long = try trading.system.enqueueBacktest(ticker: "AAPL", algorithm: "all", capital: 10_000, sessions: 260, client: "test").job
        _ = try await Self.wait(trading.system, id: long.id, for: [.running, .done, .failed], timeout: 120)
        await trading.killExecutor()
        let interrupted = try #require(try trading.system.backtest(id: long.id))
        #expect(interrupted.state == .running, "the kill came too late to interrupt it: \(interrupted.state)")
        try trading.startExecutor()
        let finished = try await Self.wait(trading.system, id: long.id, for: [.done, .failed], timeout: 600)
        #expect(finished.state == .done, "\(finished.error ?? "")")
        #expect(finished.attempts == 2, "run once before the kill and once after")
        #expect(try await Self.cli(trading, finished) == finished.result, "the resumed backtest's result is not the CLI's")
        _ = await trading.stopExecutor()
    }

    @Test func liveCardsAreDecidedEveryMinuteWhileALongBacktestRuns() async throws {
        // One simulated minute a second: a backtest that held the executor up for a minute would cost decisions.
        let trading = try await TradingSystem(simArguments: ["--start", "2024-06-04T13:50:00Z", "--speed", "60", "--seed", "9"])
        let cards = try [("AAPL", "sma_crossover"), ("MSFT", "rsi_bounce")].map {
            try trading.system.createAlgorithm(ticker: $0.0, algorithmType: $0.1, initialCapital: 5_000)
        }
        try trading.startStreamer()
        try trading.startExecutor()
        // Trading under way: both cards decided.
        _ = try await trading.sim.waitFor(timeout: 180) { () async throws -> Bool? in
            try cards.allSatisfy { try !trading.system.decisions(algorithmId: $0.id).isEmpty } ? true : nil
        }
        let job = try trading.system.enqueueBacktest(ticker: "NVDA", algorithm: "all", capital: 10_000, sessions: 260, client: "test").job
        let done = try await Self.wait(trading.system, id: job.id, for: [.done, .failed], timeout: 600)
        #expect(done.state == .done, "\(done.error ?? "")")
        // A few more minutes, so the minutes decided during the backtest are followed by some after it.
        let after = try await trading.simNow() + 180
        try await trading.waitForSimTime(Timestamp(secondsSinceEpoch: Int64(after)), timeout: 120)
        _ = await trading.stopExecutor()

        let started = try #require(done.startedAt), finished = try #require(done.finishedAt)
        let bars = (try? JSONSerialization.jsonObject(with: Data((done.result ?? "").utf8)) as? [String: Any])?["leaderboard"]
            .flatMap { ($0 as? [[String: Any]])?.first?["bars"] as? Int } ?? 0
        print("BacktestQueueProcessTests: 260 sessions of NVDA (\(bars) bars, fetched first) × 3 algorithms ran \(finished.secondsSinceEpoch - started.secondsSinceEpoch) s in the executor beside 2 live cards")
        for card in cards {
            let decisions = try trading.system.decisions(algorithmId: card.id, limit: 100_000).sorted { $0.minute < $1.minute }
            // The minutes decided while the backtest ran (by the wall clock the rows were written at) …
            let during = decisions.filter { $0.createdAt >= started && $0.createdAt <= finished }
            #expect(during.count >= 3, "card \(card.id): the backtest ran for only \(during.count) of its minutes; not a test of anything")
            // … and from the first of them to the last minute decided, not one minute missed, none skipped.
            guard let first = during.first?.minute, let last = decisions.last?.minute else { continue }
            let minutes = decisions.filter { $0.minute >= first }.map(\.minute)
            var expected: [Timestamp] = []
            var minute = first
            while minute <= last { expected.append(minute); minute = minute.adding(minutes: 1) }
            print("BacktestQueueProcessTests: card \(card.id) decided on \(during.count) minutes during the backtest, \(minutes.count) of \(expected.count) minutes from its first on")
            #expect(minutes == expected, "card \(card.id): minutes missed while the backtest ran: \(Set(expected).subtracting(minutes).sorted().prefix(5).map(\.text))")
            let odd = decisions.filter { $0.minute >= first && ![.hold, .buy, .sell].contains($0.decision) && !($0.decision == .skip && $0.reason == "the previous order is still open") }
            #expect(odd.isEmpty, "card \(card.id): \(odd.prefix(5).map { "\($0.minute.text) \($0.decision.rawValue) \($0.reason)" })")
        }
    }
}
