import ArgumentParser
@_spi(Benchmarks) import AutoTraderCore
import Foundation
import GRDB

/// Latency of "the last 51 bars of TICKER before T" on a big stocks.db.
struct LookupBenchmark: ParsableCommand, Sampled {
    static let configuration = CommandConfiguration.benchmark(
        "lookup",
        abstract: "Latency (p50/p99/max) of StocksDatabase.bars(ticker:before:count:) on a big stocks.db.",
        discussion: """
            Builds a stocks.db of --bars bars for --tickers tickers (deterministic bars on real market \
            minutes, inserted in time order like a live stream), or reuses one left by an earlier run \
            with --reuse --keep --dir DIR. Then, after a warm-up, times each call of \
            bars(ticker:before:count:) for a random ticker and a random market minute T, and checks \
            every answer (count, order, the minute before T).
            """)

    @Option(help: "Number of bars in the database.")
    var bars = 10_000_000

    @Option(help: "Number of tickers.")
    var tickers = 100

    @OptionGroup var sampling: SamplingOptions<LookupBenchmark>
    static let samplingDefaults = SamplingDefaults(unit: "lookups", samples: 20_000, warmup: 2_000)

    @Option(help: "Bars per lookup.")
    var count = 51

    @OptionGroup var scratchOptions: ScratchOptions

    @Flag(help: "Reuse DIR/lookup-stocks.db when it holds exactly these bars.")
    var reuse = false

    @Option(help: "Bars per insert(_:) call while building.")
    var batchSize = 10_000

    func run() throws {
        BenchSupport.warnIfDebugBuild()
        guard bars > 0, tickers > 0, count > 0, batchSize > 0 else {
            throw BenchFailure("--bars, --tickers, --count and --batch-size must be positive")
        }
        let scratch = try scratchOptions.make(label: "lookup")
        defer { scratch.cleanUp() }
        let clock = ContinuousClock()
        BenchSupport.say("""
            autotrader-bench lookup (\(BenchSupport.buildKind) build)
              \(BenchSupport.grouped(bars)) bars, \(tickers) tickers, \(sampling.summary), \(count) bars per lookup, folder \(scratch.directory)
            """)

        let generator = try BenchBarGenerator(barCount: bars, tickerCount: tickers, calendar: try MarketCalendar())
        guard generator.minutes.count > count else {
            throw BenchFailure("\(generator.minutes.count) minutes per ticker: too few for \(count) bars before T")
        }
        let path = scratch.database("lookup-stocks.db")
        let stocks = try openOrBuild(path: path, generator: generator)
        defer { try? stocks.benchmarkPool.close() }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        BenchSupport.say("  database \(path): \(BenchSupport.format(Double(size) / 1e6)) MB, market minutes \(generator.minutes.first!) … \(generator.minutes.last!)")

        // Random (ticker, T): T is a market minute with at least `count` minutes of bars before it.
        var random = SplitMix64(seed: 0x100C_0051)
        func sample() -> (ticker: Int, minute: Int) {
            while true {
                let minute = count + Int(random.next() % UInt64(generator.minutes.count - count))
                let ticker = Int(random.next() % UInt64(tickers))
                if generator.includes(ticker: ticker, minute: minute - 1) { return (ticker, minute) }
            }
        }
        let warmups = (0..<sampling.warmup).map { _ in sample() }
        let timed = (0..<sampling.samples).map { _ in sample() }

        let start = clock.now
        for (t, m) in warmups {
            _ = try stocks.bars(ticker: generator.tickers[t], before: generator.minutes[m], count: count)
        }
        BenchSupport.say("  warm-up: \(BenchSupport.grouped(sampling.warmup)) lookups in \(BenchSupport.format(BenchSupport.seconds(clock.now - start), decimals: 2)) s")

        var durations: [Duration] = []
        durations.reserveCapacity(sampling.samples)
        let loadBefore = BenchSupport.loadAverage()
        var checking = Duration.zero
        let cpuStart = BenchSupport.processCPUSeconds()
        for (t, m) in timed {
            let ticker = generator.tickers[t]
            let before = generator.minutes[m]
            let begin = clock.now
            let result = try stocks.bars(ticker: ticker, before: before, count: count)
            let end = clock.now
            durations.append(end - begin)
            defer { checking += clock.now - end }
            // Checked outside the timed span.
            guard result.count == count, result.allSatisfy({ $0.ticker == ticker && $0.timestamp < before }),
                  result.last?.timestamp == generator.minutes[m - 1],
                  result.first?.timestamp == generator.minutes[m - count],
                  zip(result, result.dropFirst()).allSatisfy({ $0.timestamp < $1.timestamp })
            else {
                throw BenchFailure("wrong answer for \(ticker) before \(before): \(result.count) bars, \(result.first?.timestamp.text ?? "-") … \(result.last?.timestamp.text ?? "-")")
            }
        }

        let cpuSeconds = BenchSupport.processCPUSeconds() - cpuStart
        let loadAfter = BenchSupport.loadAverage()

        // The fixed cost of a pool read with nothing in it, with and without GRDB's transaction, for comparison.
        let (emptySorted, emptyUnsafeSorted) = try BenchSupport.timeAlternately(
            sampling.samples, { try stocks.benchmarkPool.read { _ in } }, { try stocks.benchmarkPool.unsafeRead { _ in } })

        let sorted = durations.sorted()
        let p99 = BenchSupport.microseconds(BenchSupport.percentile(sorted, 99))
        func us(_ d: Duration) -> String { BenchSupport.format(BenchSupport.microseconds(d)) + " µs" }
        BenchSupport.say("""

            Lookup: bars(ticker:before:count: \(count)) on \(BenchSupport.grouped(bars)) bars of \(tickers) tickers, \
            \(BenchSupport.grouped(sampling.samples)) random (ticker, market minute T), every answer checked
              p50   \(us(BenchSupport.percentile(sorted, 50)))
              p90   \(us(BenchSupport.percentile(sorted, 90)))
              p99   \(us(BenchSupport.percentile(sorted, 99)))
              p99.9 \(us(BenchSupport.percentile(sorted, 99.9)))
              max   \(us(sorted.last!))
              mean  \(us(BenchSupport.mean(durations)))
              target p99 ≤ 100 µs: \(p99 <= 100 ? "PASS" : "FAIL")
              CPU time per lookup (user+sys, answer checks included): \(BenchSupport.format(cpuSeconds / Double(sampling.samples) * 1e6)) µs; \
            checks took \(BenchSupport.format(BenchSupport.microseconds(checking) / Double(sampling.samples))) µs wall per lookup
              load average before/after: \(loadBefore) / \(loadAfter) (2 cores; above ~1 other programs compete for them)
              for comparison, empty pool calls: read (BEGIN…COMMIT) p50 \(us(BenchSupport.percentile(emptySorted, 50))), \
            p99 \(us(BenchSupport.percentile(emptySorted, 99))); unsafeRead (no transaction, what bars uses) \
            p50 \(us(BenchSupport.percentile(emptyUnsafeSorted, 50))), p99 \(us(BenchSupport.percentile(emptyUnsafeSorted, 99)))
            """)
    }

    /// Opens the database left by an earlier run when asked and sound, else builds a fresh one.
    private func openOrBuild(path: String, generator: BenchBarGenerator) throws -> StocksDatabase {
        let clock = ContinuousClock()
        if reuse, FileManager.default.fileExists(atPath: path) {
            let stocks = try StocksDatabase.open(path: path)
            let found = try stocks.barCount()
            let tickerCount = try stocks.benchmarkPool.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (SELECT DISTINCT ticker FROM minute_bars)") ?? 0
            }
            if found == bars && tickerCount == tickers {
                BenchSupport.say("  reusing \(path) (\(BenchSupport.grouped(found)) bars, \(tickerCount) tickers)")
                return stocks
            }
            BenchSupport.say("  \(path) holds \(BenchSupport.grouped(found)) bars of \(tickerCount) tickers, not \(BenchSupport.grouped(bars)) of \(tickers): rebuilding")
            try stocks.benchmarkPool.close()
        } else if reuse {
            BenchSupport.say("  nothing to reuse at \(path): building")
        }
        BenchSupport.removeDatabase(at: path)
        let stocks = try StocksDatabase.open(path: path, create: true)
        BenchSupport.say("  building: \(BenchSupport.grouped(bars)) bars in time order, batches of \(BenchSupport.grouped(batchSize)) …")
        let start = clock.now
        var batch: [MinuteBar] = []
        batch.reserveCapacity(batchSize)
        var inserted = 0
        var nextReport = 1_000_000
        try generator.forEach(order: .time) { raw in
            batch.append(generator.minuteBar(raw))
            if batch.count == batchSize {
                try stocks.insert(batch)
                inserted += batch.count
                batch.removeAll(keepingCapacity: true)
                if inserted >= nextReport {
                    let elapsed = BenchSupport.seconds(clock.now - start)
                    BenchSupport.say("    \(BenchSupport.grouped(inserted)) bars, \(BenchSupport.format(elapsed)) s (\(BenchSupport.grouped(Int(Double(inserted) / elapsed))) bars/s with generation)")
                    nextReport += 1_000_000
                }
            }
        }
        if !batch.isEmpty {
            try stocks.insert(batch)
            inserted += batch.count
        }
        try stocks.benchmarkPool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        BenchSupport.say("  built \(BenchSupport.grouped(inserted)) bars in \(BenchSupport.format(BenchSupport.seconds(clock.now - start))) s")
        return stocks
    }
}
