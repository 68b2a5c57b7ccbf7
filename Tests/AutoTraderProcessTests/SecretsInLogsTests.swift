import Foundation
import Logging
import Synchronization
import Testing
@testable import AutoTraderCore

/// Captures every log line (message and metadata) a logger writes, at every level.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { _ in Handler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    struct Handler: LogHandler {
        let sink: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
        }
    }
}

@Suite struct SecretsInLogsTests {
    @Test func neitherTheClientNorTheSimulatorEverLogsTheSecret() async throws {
        let secret = "s3cr3t-\(UUID().uuidString)"
        let sim = try await SimulatorProcess(
            ["--start", "2024-06-04T14:00:00Z", "--speed", "60", "--log-level", "trace", "--error-rate", "0.3"],
            secretKey: secret)
        let log = CapturedLog()
        var configuration = AlpacaConfiguration.simulator(baseURL: sim.baseURL, keyID: sim.keyID, secretKey: secret)
        configuration.requestTimeout = .seconds(5)
        var policy = AlpacaClient.RetryPolicy()
        policy.baseDelay = .milliseconds(10)
        policy.maxAttempts = 8
        let client = AlpacaClient(configuration: configuration, retryPolicy: policy, logger: log.logger("alpaca"))
        _ = try await client.account()
        _ = try await client.submitOrder(OrderRequest(symbol: "AAPL", qty: 1, side: .buy, clientOrderId: "log-test-1"))
        _ = try? await AlpacaClient(
            configuration: AlpacaConfiguration.simulator(baseURL: sim.baseURL, keyID: sim.keyID, secretKey: secret + "x"),
            logger: log.logger("alpaca")).account()
        let stream = AlpacaBarStream(configuration: configuration, logger: log.logger("stream"), idleTimeout: nil)
        await stream.setSymbols(["AAPL"])
        let running = Task { await stream.run() }
        for await event in stream.events { if case .bars = event { break } }
        running.cancel()
        let bad = AlpacaBarStream(
            configuration: AlpacaConfiguration.simulator(baseURL: sim.baseURL, keyID: sim.keyID, secretKey: secret + "y"),
            logger: log.logger("stream"), idleTimeout: nil)
        let badRun = Task { await bad.run() }
        for await event in bad.events { if case .streamError = event { break } }
        badRun.cancel()

        #expect(!log.text.isEmpty)
        #expect(log.text.contains("retrying") || log.text.contains("stream authenticated"))
        #expect(!log.text.contains(secret), "a log line carries the secret")
        #expect(!configuration.description.contains(secret))
        let result = await sim.terminate()
        #expect(!result.stderr.isEmpty)
        #expect(!result.stderr.contains(secret) && !result.stdout.contains(secret), "the simulator logged the secret")
    }
}
