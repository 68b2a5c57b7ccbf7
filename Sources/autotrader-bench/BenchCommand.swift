import ArgumentParser
import AutoTraderCore
import Foundation

@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autotrader-bench",
        abstract: "AutoTrader's benchmarks (build with -c release) and test load generators.",
        subcommands: [])
}
