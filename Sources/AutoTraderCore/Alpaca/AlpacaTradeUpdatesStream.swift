import Foundation
import Logging
import NIOCore
import WSClient

/// Alpaca's trading stream (`/stream` at the trading URL), listening to `trade_updates`: every order
/// event (new, fill, partial_fill, canceled, expired, rejected, replaced, …) as it happens.
///
/// `run()` connects, authenticates, listens, and hands each event to `events`; whenever the connection
/// ends it reconnects with exponential back-off and jitter. Events sent while no connection listened are
/// lost for good (Alpaca does not replay them), so `.listening` is the moment a client must reconcile
/// by asking about its open orders once. A frame that cannot be read is logged and reported, never guessed at.
public actor AlpacaTradeUpdatesStream {
    /// What happened on the stream, in order.
    public enum Event: Sendable {
        /// Authenticated and listening: from here on every order event arrives (earlier ones may be lost).
        case listening
        case update(AlpacaTradeUpdate)
        /// A frame that could not be read: an order event may be lost with it.
        case unreadableFrame(TradeStreamFrameError)
        case disconnected(reason: String)
    }

    /// Reconnection pacing (`ReconnectBackoff.tradeUpdates` by default).
    public typealias Backoff = ReconnectBackoff

    public nonisolated let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let settings: StreamClientSettings

    public init(
        configuration: AlpacaConfiguration, logger: Logger = Logger(label: "alpaca.trade-updates"),
        backoff: Backoff = .tradeUpdates, pingInterval: Duration = .seconds(10)
    ) {
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        settings = StreamClientSettings(configuration: configuration, logger: logger, backoff: backoff, pingInterval: pingInterval)
    }

    /// Connects and keeps reconnecting until the task is cancelled; then finishes `events`.
    public func run() async {
        var failures = 0
        while !Task.isCancelled {
            let state = ConnectionState()
            let outcome = await connectOnce(state: state)
            continuation.yield(.disconnected(reason: outcome.reason))
            if Task.isCancelled { break }
            if let listened = await state.listenedAt, ContinuousClock.now - listened >= settings.backoff.healthyAfter { failures = 0 }
            failures += 1
            let delay = outcome.refused ? settings.backoff.refused : settings.backoff.delay(afterFailures: failures)
            settings.logger.log(level: outcome.refused ? .error : .warning, "trade-updates stream disconnected; reconnecting", metadata: [
                "reason": "\(outcome.reason)", "retry_in_ms": "\(delay.milliseconds)", "attempt": "\(failures)",
            ])
            do { try await Task.sleep(for: delay) } catch { break }
        }
        continuation.finish()
    }

    struct Outcome: Sendable {
        var reason: String
        /// The server said no (keys, or the upgrade): retried only at the slow pace.
        var refused = false
    }

    /// Shared between a connection's reader and its handshake deadline.
    actor ConnectionState {
        var outcome: Outcome?
        var listenedAt: ContinuousClock.Instant?

        func end(_ outcome: Outcome) { if self.outcome == nil { self.outcome = outcome } }
        func listened() { listenedAt = .now }
    }

    private func connectOnce(state: ConnectionState) async -> Outcome {
        let url = settings.configuration.tradeUpdatesURL.absoluteString
        let key = settings.configuration.keyID, secret = settings.configuration.secretKey
        do {
            try await WebSocketClient.connect(url: url, configuration: settings.webSocket, logger: settings.logger) { inbound, outbound, _ in
                try await self.session(inbound: inbound, outbound: outbound, key: key, secret: secret, state: state)
            }
            return await state.outcome ?? Outcome(reason: "the server closed the connection")
        } catch {
            if let outcome = await state.outcome { return outcome }
            let text = "\(error)"
            if text.contains("UpgradeFailed") {
                return Outcome(reason: "the server refused the WebSocket upgrade at \(url) (\(text))", refused: true)
            }
            return Outcome(reason: "connection failed: \(text)")
        }
    }

    private nonisolated func session(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, key: String, secret: String, state: ConnectionState
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let handshake = settings.backoff.handshake
            group.addTask {
                // No answer to authenticate/listen in time: a half-open server; drop it and try again.
                try await Task.sleep(for: handshake)
                guard await state.listenedAt == nil else { return }
                await state.end(Outcome(reason: "no answer to authenticate/listen within \(handshake.milliseconds / 1000) s"))
                try? await outbound.close(.goingAway, reason: "handshake timeout")
            }
            defer { group.cancelAll() }
            try await outbound.write(.text(TradeStreamRequest.authenticate(keyID: key, secretKey: secret)))
            for try await frame in inbound.messages(maxSize: 1 << 22) {
                let data: Data
                switch frame {
                case .text(let text): data = Data(text.utf8)
                case .binary(let buffer): data = Data(buffer.readableBytesView)
                }
                let message: TradeStreamMessage
                do {
                    message = try TradeStreamMessage.decode(data)
                } catch {
                    let frameError = error as? TradeStreamFrameError
                        ?? TradeStreamFrameError(reason: "\(error)", bytes: data.count)
                    settings.logger.warning("trade-updates frame ignored: it could not be read (open orders will be asked about)", metadata: [
                        "bytes": "\(frameError.bytes)", "error": "\(frameError.reason)",
                    ])
                    continuation.yield(.unreadableFrame(frameError))
                    continue
                }
                switch message {
                case .authorization(let authorized, let action):
                    guard authorized else {
                        await state.end(Outcome(
                            reason: "the trading stream refused \(action.isEmpty ? "the request" : action): check ALPACA_API_KEY / ALPACA_SECRET",
                            refused: true))
                        try? await outbound.close(.normalClosure, reason: nil)
                        return
                    }
                    if action == "authenticate" || action.isEmpty {
                        try await outbound.write(.text(TradeStreamRequest.listen(["trade_updates"])))
                    }
                case .listening(let streams):
                    guard streams.contains("trade_updates") else {
                        await state.end(Outcome(reason: "the trading stream is not listening to trade_updates (\(streams))"))
                        try? await outbound.close(.normalClosure, reason: nil)
                        return
                    }
                    if await state.listenedAt == nil {
                        await state.listened()
                        settings.logger.info("trade-updates stream listening", metadata: ["url": "\(settings.configuration.tradeUpdatesURL.absoluteString)"])
                        continuation.yield(.listening)
                    }
                case .tradeUpdate(let update):
                    continuation.yield(.update(update))
                case .other(let stream):
                    settings.logger.debug("trade-updates stream: message of another stream ignored", metadata: ["stream": "\(stream)"])
                }
            }
        }
    }
}
