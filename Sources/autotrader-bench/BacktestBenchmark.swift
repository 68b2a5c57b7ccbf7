import ArgumentParser
import AutoTraderCore
import Foundation
import TradingAlgorithms

/// Bars per second of `Backtester` (the executor's decision code, guards and fill rule) for each shipped
/// algorithm over a million synthetic minute bars, and of vectorbt on the same bars with the same rule when
/// a Python with vectorbt is at hand.
struct BacktestBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "backtest",
        abstract: "Backtest bars/s of each algorithm over 1M synthetic minute bars, against vectorbt when installed.")

    @Option(help: "Bars in the series (regular-hours minutes from 2018-01-02 on).") var bars = 1_000_000
    @Option(help: "The random walk's seed.") var seed: UInt64 = 20_240_604
    @Option(help: "Runs of each algorithm; the best is reported.") var repeats = 3
    @Option(help: "Run only this algorithm (and no year, no vectorbt): for profiling.") var only: String?
    @Option(help: "A Python with vectorbt (default: .build/vectorbt-venv/bin/python, then python3).") var python: String?

    func run() throws {
        BenchSupport.warnIfDebugBuild()
        let calendar = try MarketCalendar()
        let series = Self.randomWalk(bars: bars, seed: seed, calendar: calendar)
        BenchSupport.say("backtest over \(BenchSupport.grouped(bars)) minute bars (seeded random walk in regular hours, seed \(seed), \(series.first!.timestamp) to \(series.last!.timestamp)), \(BenchSupport.buildKind) build, one core, load \(BenchSupport.loadAverage())")
        let input = BacktestBars(bars: series, firstIndex: 0)
        let backtester = Backtester(calendar: calendar)
        let settings = BacktestSettings(capital: 10_000)
        var rates: [String: Double] = [:]
        for entry in AlgorithmRegistry.catalog.entries where only.map({ $0 == entry.name }) ?? true {
            var best = Double.infinity
            var result: BacktestResult?
            for _ in 0..<max(1, repeats) {
                result = nil // the last run's result is freed before the clock starts, not inside this run's time
                let began = ContinuousClock.now
                result = backtester.run(entry, ticker: "BENCH", bars: input, settings: settings)
                best = min(best, BenchSupport.seconds(ContinuousClock.now - began))
            }
            rates[entry.name] = Double(bars) / best
            BenchSupport.say("  \(entry.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(BenchSupport.grouped(Int(Double(bars) / best))) bars/s (\(BenchSupport.format(best * 1000, decimals: 1)) ms; \(result!.fills.count) fills, final equity \(Money.centsText(result!.finalEquity)))")
        }
        if only != nil { return }
        // A year of minute bars, all three algorithms: what an interactive "compare all" costs.
        let year = BacktestBars(bars: Array(series.prefix(98_280)), firstIndex: 0)
        var fastest = Double.infinity
        for _ in 0..<max(1, repeats) {
            let began = ContinuousClock.now
            for entry in AlgorithmRegistry.catalog.entries { _ = backtester.run(entry, ticker: "BENCH", bars: year, settings: settings) }
            fastest = min(fastest, BenchSupport.milliseconds(ContinuousClock.now - began))
        }
        BenchSupport.say("  a year (\(BenchSupport.grouped(year.count)) bars), every algorithm one after another: \(BenchSupport.format(fastest, decimals: 1)) ms")

        try compareWithVectorbt(series, swiftRate: rates["sma_crossover"])
    }

    /// Cent prices, a per-minute move of at most ±0.2 %, every regular-hours minute from 2018-01-02.
    static func randomWalk(bars count: Int, seed: UInt64, calendar: MarketCalendar) -> [MinuteBar] {
        var generator = SplitMix64(seed: seed)
        var result: [MinuteBar] = []
        result.reserveCapacity(count)
        var price = 100.0
        var day = CivilDate(year: 2018, month: 1, day: 2)!
        while result.count < count {
            if let session = calendar.session(on: day) {
                for minute in 0..<session.minuteCount where result.count < count {
                    let open = price
                    let move = (Double(generator.next() % 4001) - 2000) / 1_000_000
                    price = max(1, ((price * (1 + move)) * 100).rounded() / 100)
                    result.append(MinuteBar(
                        ticker: "BENCH", timestamp: session.open.adding(minutes: minute), open: open,
                        high: max(open, price), low: min(open, price), close: price, volume: 100))
                }
            }
            day = day.adding(days: 1)
        }
        return result
    }

    /// vectorbt's `Portfolio.from_signals` on the same bars: SMA 20/50 crosses, all-in whole shares with the
    /// 0.5 % cushion, sell everything on the cross-under, filled at the open of the bar after the next (as ours).
    func compareWithVectorbt(_ series: [MinuteBar], swiftRate: Double?) throws {
        let candidates = [python, ".build/vectorbt-venv/bin/python", "/work/main/.build/vectorbt-venv/bin/python", "python3"].compactMap { $0 }
        guard let python = candidates.first(where: { Self.hasVectorbt($0) }) else {
            BenchSupport.say("  vectorbt: not installed (tried \(candidates.joined(separator: ", "))); install it with python3 -m venv .build/vectorbt-venv && .build/vectorbt-venv/bin/pip install vectorbt")
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("autotrader-vbt-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let opens = folder.appendingPathComponent("opens.f64"), closes = folder.appendingPathComponent("closes.f64")
        try series.map(\.open).withUnsafeBytes { Data($0) }.write(to: opens)
        try series.map(\.close).withUnsafeBytes { Data($0) }.write(to: closes)
        let script = folder.appendingPathComponent("bench.py")
        try Self.vectorbtScript.write(to: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python.hasPrefix("/") || python.hasPrefix(".") ? python : "/usr/bin/env")
        process.arguments = (python.hasPrefix("/") || python.hasPrefix(".") ? [] : [python]) + [script.path, opens.path, closes.path, String(max(1, repeats))]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("vectorbt ") }
        guard process.terminationStatus == 0, !lines.isEmpty else {
            BenchSupport.say("  vectorbt: the run failed (status \(process.terminationStatus)): \(output.suffix(500))")
            return
        }
        var fastest = 0.0
        for line in lines {
            BenchSupport.say("  \(line)")
            let fields = line.split(separator: " ")
            if let index = fields.firstIndex(of: "bars/s"), index > 0, let rate = Double(fields[index - 1].replacingOccurrences(of: ",", with: "")) {
                fastest = max(fastest, rate)
            }
        }
        if let swiftRate, fastest > 0 {
            BenchSupport.say("  sma_crossover: AutoTrader / fastest vectorbt = \(BenchSupport.format(swiftRate / fastest, decimals: 2))×")
        }
    }

    static func hasVectorbt(_ python: String) -> Bool {
        let process = Process()
        let path = python.hasPrefix("/") || python.hasPrefix(".")
        guard !path || FileManager.default.isExecutableFile(atPath: python) else { return false }
        process.executableURL = URL(fileURLWithPath: path ? python : "/usr/bin/env")
        process.arguments = (path ? [] : [python]) + ["-c", "import vectorbt"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static let vectorbtScript = #"""
        import sys, time
        import numpy as np
        import pandas as pd
        import vectorbt as vbt

        opens = np.fromfile(sys.argv[1], dtype=np.float64)
        closes = np.fromfile(sys.argv[2], dtype=np.float64)
        repeats = int(sys.argv[3])
        index = pd.RangeIndex(len(closes))
        close = pd.Series(closes, index=index)
        open_ = pd.Series(opens, index=index)

        def run():
            fast = vbt.MA.run(close, 20)
            slow = vbt.MA.run(close, 50)
            entries = fast.ma_crossed_above(slow)
            exits = fast.ma_crossed_below(slow)
            # Decided on bar M, filled at the open of bar M+2 (AutoTrader's live rule); all-in whole shares
            # with the 0.5 % cushion is approximated by 99.5 % of the cash.
            return vbt.Portfolio.from_signals(
                close, entries.shift(2, fill_value=False), exits.shift(2, fill_value=False), price=open_,
                size=0.995, size_type="percent", size_granularity=1, init_cash=10000, freq="1min")

        for engine in ("rust", "numba"):
            try:
                vbt.settings["engine"] = engine
                run()  # compilation and caches warmed: not the engine's speed
            except Exception as error:
                print("vectorbt engine %s unavailable: %s" % (engine, error))
                continue
            best = float("inf")
            for _ in range(repeats):
                began = time.perf_counter()
                portfolio = run()
                trades = portfolio.trades.count()
                best = min(best, time.perf_counter() - began)
            print("vectorbt %s %s: %s bars/s (%.1f ms; %d trades, final value %.2f)" % (
                vbt.__version__, engine, format(int(len(closes) / best), ","), best * 1000, trades, portfolio.final_value()))
        """#
}
