import ArgumentParser
import AutoTraderCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A running `autotrader-sim` (the binary beside this one) for the simulator benchmarks.
struct SimulatorUnderTest {
    let process: Process
    let baseURL: URL

    static func start(_ arguments: [String]) async throws -> SimulatorUnderTest {
        let (process, address) = try await BenchProcess.startListening(
            "autotrader-sim", ["--port", "0", "--log-level", "warning"] + arguments, prefix: "autotrader-sim listening on ")
        guard let url = URL(string: address) else {
            process.terminate()
            throw ValidationError("autotrader-sim printed an address that is not a URL: \(address)")
        }
        return SimulatorUnderTest(process: process, baseURL: url)
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// Orders per second the simulator accepts from the real client, with several clients at once.
struct SimulatorOrdersBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "sim-orders", abstract: "Orders per second autotrader-sim accepts (real client, loopback).")

    @Option(help: "Concurrent clients.") var clients = 8
    @Option(help: "Seconds to measure.") var seconds = 5.0

    func run() async throws {
        BenchSupport.warnIfDebugBuild()
        let sim = try await SimulatorUnderTest.start([
            "--start", "2024-06-04T14:00:00Z", "--speed", "1", "--cash", "1000000000000", "--fill-price", "last-close",
            // Report a window wide enough that the client's polite pause at zero remaining never starts.
            "--rate-limit", "100000000",
        ])
        defer { sim.stop() }
        let client = AlpacaClient(configuration: .simulator(baseURL: sim.baseURL))
        _ = try await client.account() // warm the connection pool
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let started = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for worker in 0..<clients {
                group.addTask {
                    var samples: [Duration] = []
                    var index = 0
                    while ContinuousClock.now < deadline {
                        let before = ContinuousClock.now
                        _ = try await client.submitOrder(OrderRequest(
                            symbol: "AAPL", qty: 1, side: .buy, clientOrderId: "bench-\(worker)-\(index)"))
                        samples.append(ContinuousClock.now - before)
                        index += 1
                    }
                    return samples
                }
            }
            return try await group.reduce(into: [Duration]()) { $0 += $1 }
        }
        let elapsed = ContinuousClock.now - started
        let rate = Double(latencies.count) / BenchSupport.seconds(elapsed)
        let sorted = latencies.sorted()
        BenchSupport.say("""
            autotrader-sim order intake (\(BenchSupport.buildKind) build, \(clients) concurrent clients, \(BenchSupport.format(BenchSupport.seconds(elapsed))) s)
              orders accepted:  \(latencies.count)
              orders/s:         \(Int(rate))
              submit latency:   p50 \(BenchSupport.format(BenchSupport.microseconds(BenchSupport.percentile(sorted, 50)), decimals: 0)) µs  p99 \(BenchSupport.format(BenchSupport.microseconds(BenchSupport.percentile(sorted, 99)), decimals: 0)) µs
            """)
    }
}

/// Bars per second the simulator streams to the real client for many symbols at high acceleration.
struct SimulatorStreamBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration.benchmark(
        "sim-stream", abstract: "Bars per second autotrader-sim streams to the real client (loopback).")

    @Option(help: "Symbols subscribed (synthetic ones are added to reach it).") var symbols = 500
    @Option(help: "Clock speed: market minutes per real minute.") var speed = 1200.0
    @Option(help: "Seconds to measure.") var seconds = 10.0

    func run() async throws {
        BenchSupport.warnIfDebugBuild()
        let sim = try await SimulatorUnderTest.start([
            "--start", "2024-06-04T13:30:00Z", "--speed", String(speed), "--synthetic-symbols", String(symbols),
            "--bar-delay-ms", "0",
        ])
        defer { sim.stop() }
        let configuration = AlpacaConfiguration.simulator(baseURL: sim.baseURL)
        let assets = try await AlpacaClient(configuration: configuration).latestBars(symbols: ["AAPL"])
        precondition(!assets.isEmpty, "the simulator serves no bars")
        let universe = try await BenchSupport.tradableSymbols(sim.baseURL, count: symbols)
        let stream = AlpacaBarStream(configuration: configuration, idleTimeout: nil)
        await stream.setSymbols(Set(universe))
        let runner = Task { await stream.run() }
        var bars = 0
        var frames = 0
        var measuringSince: ContinuousClock.Instant?
        let total = Duration.milliseconds(Int64(seconds * 1000))
        for await event in stream.events {
            guard case .bars(let batch) = event else { continue }
            // Start counting at the first frame after the subscription took effect.
            guard let since = measuringSince else { measuringSince = .now; continue }
            bars += batch.count
            frames += 1
            if ContinuousClock.now - since >= total { break }
        }
        runner.cancel()
        let elapsed = ContinuousClock.now - (measuringSince ?? .now)
        BenchSupport.say("""
            autotrader-sim stream (\(BenchSupport.buildKind) build, \(universe.count) symbols subscribed, speed \(Int(speed))×, \(BenchSupport.format(BenchSupport.seconds(elapsed))) s)
              bars received:    \(bars) in \(frames) frames
              bars/s:           \(Int(Double(bars) / BenchSupport.seconds(elapsed)))
            """)
    }
}

