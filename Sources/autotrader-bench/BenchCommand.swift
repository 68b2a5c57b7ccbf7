import ArgumentParser
import AutoTraderCore
import Foundation

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autotrader-bench",
        abstract: "AutoTrader's benchmarks (build with -c release) and test load generators.",
        subcommands: [InsertBenchmark.self, LookupBenchmark.self, CardBenchmark.self, SimulatorOrdersBenchmark.self, SimulatorStreamBenchmark.self,
            StreamerIngestBenchmark.self, StreamerBackfillBenchmark.self, StreamerLatencyBenchmark.self,
            ExecutorLatencyBenchmark.self, DecisionsBenchmark.self, ScriptDecisionsBenchmark.self, BacktestBenchmark.self, APILoadBenchmark.self, SoakBenchmark.self, ServiceMemoryBenchmark.self, ConcurrentWriter.self])
}
