import Foundation
import Logging
import NIOCore
import WSClient

/// Alpaca's real-time stock stream v2 for minute bars (and their corrections),
/// kept subscribed to a desired set of symbols across disconnects.
///
/// `run()` connects, authenticates, subscribes `bars` and `updatedBars` for the
/// symbols of `setSymbols(_:)`, and hands every bar to `events`. Whenever the
/// connection ends it reconnects with exponential backoff and jitter, re-authenticates
/// and re-sends the whole subscription from local state. Stream errors are handled by
/// their kind (`StreamError.Reaction`): bad keys or a feed outside the plan are retried
/// only at the slowest pace, "connection limit exceeded" backs off for seconds, others
/// just reconnect. A connection that stays open but goes quiet while data is expected
/// (a known Alpaca failure) is dropped and replaced.
public actor AlpacaBarStream {
    /// What happened on the stream, in order.
    public enum Event: Sendable {
        case connected
        case authenticated
        case subscribed(StreamSubscription)
        /// One frame's bars: `isCorrection` marks `u` messages that replace an earlier bar.
        case bars([StreamBar])
        case streamError(StreamError)
        case disconnected(reason: String)
    }

    /// A bar from the stream, with its symbol.
    public struct StreamBar: Sendable, Equatable {
        public let symbol: String
        public let bar: AlpacaBar
        public let isCorrection: Bool
    }

    /// Reconnection pacing (`ReconnectBackoff.marketData` by default).
    public typealias Backoff = ReconnectBackoff

    public nonisolated let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let settings: StreamClientSettings
    private let idleTimeout: Duration?
    private let expectsData: @Sendable () async -> Bool
    /// The broker's now (epoch seconds), for the watchdog's second rule; nil when unknown.
    private let brokerNow: (@Sendable () async -> Double?)?
    /// Broker seconds without a frame, while bars are expected, after which a connection is replaced.
    public static let brokerIdle: Double = 75

    private var desired: Set<String> = []
    /// What the server confirmed for the current connection.
    private var confirmed: Set<String> = []
    private var wakeCurrentConnection: AsyncStream<Void>.Continuation?
    private var closeRequested = false

    /// - Parameters:
    ///   - idleTimeout: drop a connection that sends nothing for this long while `expectsData()` is true.
    ///   - expectsData: whether bars should be flowing now (the market is open and symbols are subscribed).
    ///   - brokerNow: the broker's clock. With it, a connection that sent nothing for `brokerIdle` broker
    ///     seconds (a whole minute ended without its bars) is replaced too: at an accelerated simulator's
    ///     pace the real-time rule alone would let tens of market minutes go by.
    public init(
        configuration: AlpacaConfiguration, logger: Logger = Logger(label: "alpaca.stream"), backoff: Backoff = .marketData,
        pingInterval: Duration = .seconds(10), idleTimeout: Duration? = .seconds(150),
        expectsData: @escaping @Sendable () async -> Bool = { true },
        brokerNow: (@Sendable () async -> Double?)? = nil
    ) {
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        settings = StreamClientSettings(configuration: configuration, logger: logger, backoff: backoff, pingInterval: pingInterval)
        self.idleTimeout = idleTimeout
        self.expectsData = expectsData
        self.brokerNow = brokerNow
    }

    /// The symbols to stream; applied to the open connection at once, and to every later one.
    public func setSymbols(_ symbols: Set<String>) {
        desired = symbols
        wakeCurrentConnection?.yield()
    }

    public var symbols: Set<String> { desired }

    /// Connects and keeps reconnecting until the task is cancelled; then closes and finishes `events`.
    public func run() async {
        var failures = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let outcome = await connectOnce()
            continuation.yield(.disconnected(reason: outcome.reason))
            if Task.isCancelled { break }
            if ContinuousClock.now - started >= settings.backoff.healthyAfter && outcome.reaction == .reconnect { failures = 0 }
            failures += 1
            let delay = self.delay(after: outcome.reaction, failures: failures)
            let level: Logger.Level = outcome.reaction == .stop ? .error : .warning
            settings.logger.log(level: level, "stream disconnected; reconnecting", metadata: [
                "reason": "\(outcome.reason)", "retry_in_ms": "\(delay.milliseconds)", "attempt": "\(failures)",
            ])
            do { try await Task.sleep(for: delay) } catch { break }
        }
        continuation.finish()
    }

    func delay(after reaction: StreamError.Reaction, failures: Int) -> Duration {
        switch reaction {
        case .stop:
            return settings.backoff.refused
        case .backOff, .reconnect, .keepGoing:
            let jittered = settings.backoff.delay(afterFailures: failures)
            return reaction == .backOff ? max(jittered, settings.backoff.connectionLimit) : jittered
        }
    }

    struct Outcome {
        var reason: String
        var reaction: StreamError.Reaction
    }

    /// One connection, from handshake to close.
    private func connectOnce() async -> Outcome {
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wakeCurrentConnection = wake
        confirmed = []
        sent = []
        defer {
            wake.finish()
            wakeCurrentConnection = nil
        }
        let state = ConnectionState()
        let url = settings.configuration.streamURL.absoluteString
        let key = settings.configuration.keyID, secret = settings.configuration.secretKey
        do {
            try await WebSocketClient.connect(url: url, configuration: settings.webSocket, logger: settings.logger) { inbound, outbound, _ in
                try await self.session(inbound: inbound, outbound: outbound, key: key, secret: secret, wakeups: wakeups, state: state)
            }
            return await state.outcome ?? Outcome(reason: "the server closed the connection", reaction: .reconnect)
        } catch {
            if let outcome = await state.outcome { return outcome }
            let text = "\(error)"
            // An HTTP 4xx on the handshake (wrong feed path, refused) won't fix itself: retry slowly.
            if text.contains("webSocketUpgradeFailed") || text.contains("UpgradeFailed") {
                return Outcome(reason: "the server refused the WebSocket upgrade (\(text)); check ALPACA_STREAM_URL / ALPACA_FEED", reaction: .stop)
            }
            return Outcome(reason: "connection failed: \(text)", reaction: .reconnect)
        }
    }

    /// Shared between the connection's reader, subscriber and watchdog tasks.
    actor ConnectionState {
        var outcome: Outcome?
        var lastFrame = ContinuousClock.now
        var authenticated = false

        func end(_ outcome: Outcome) { if self.outcome == nil { self.outcome = outcome } }
        func touch() { lastFrame = .now }
        func setAuthenticated() { authenticated = true }
    }

    private nonisolated func session(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, key: String, secret: String,
        wakeups: AsyncStream<Void>, state: ConnectionState
    ) async throws {
        var messages = inbound.messages(maxSize: 1 << 22).makeAsyncIterator()

        func nextFrame() async throws -> [StreamMessage]? {
            guard let message = try await messages.next() else { return nil }
            await state.touch()
            let data: Data
            switch message {
            case .text(let text): data = Data(text.utf8)
            case .binary(let buffer): data = Data(buffer.readableBytesView)
            }
            do {
                return try StreamMessage.decodeFrame(data)
            } catch {
                settings.logger.warning("undecodable stream frame ignored", metadata: ["bytes": "\(data.count)"])
                return []
            }
        }

        // 1. Welcome, then authenticate within the server's window.
        guard let welcome = try await nextFrame() else { return }
        guard welcome.contains(.success("connected")) else {
            if let error = welcome.compactMap(StreamError.init).first { await fail(error, state: state) }
            return
        }
        continuation.yield(.connected)
        let auth = try JSONEncoder.alpaca.encode(StreamClientMessage.auth(key: key, secret: secret))
        try await outbound.write(.text(String(decoding: auth, as: UTF8.self)))
        while true {
            guard let frame = try await nextFrame() else { return }
            if frame.contains(.success("authenticated")) { break }
            if let error = frame.compactMap(StreamError.init).first {
                await fail(error, state: state)
                if error.reaction != .keepGoing {
                    try await outbound.close(.normalClosure, reason: nil)
                    return
                }
            }
        }
        await state.setAuthenticated()
        continuation.yield(.authenticated)
        settings.logger.info("stream authenticated", metadata: ["url": "\(settings.configuration.streamURL.absoluteString)"])

        // 2. Keep the subscription in sync and watch for silence in child tasks, and read here,
        //    until the server closes, an error ends the connection, or the watchdog closes it.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await self.syncSubscription(outbound: outbound)
                for await _ in wakeups { try await self.syncSubscription(outbound: outbound) }
            }
            if let idleTimeout {
                group.addTask {
                    // Two rules: `idleTimeout` of real time, and `brokerIdle` of the broker's time. The broker's
                    // time of the last frame is noted when the watchdog sees it (a quarter second's precision),
                    // and while no bars are expected it follows the clock, so a night (or a skipped one) never counts.
                    var seenFrame = await state.lastFrame
                    var brokerAtLastFrame = await self.brokerNow?()
                    while true {
                        try await Task.sleep(for: .milliseconds(250))
                        let lastFrame = await state.lastFrame
                        let brokerTime = await self.brokerNow?()
                        let expecting = await self.expectsData()
                        if lastFrame != seenFrame || !expecting || brokerAtLastFrame == nil {
                            seenFrame = lastFrame
                            brokerAtLastFrame = brokerTime
                        }
                        guard expecting, await !self.symbols.isEmpty else { continue }
                        let quiet = ContinuousClock.now - lastFrame
                        let brokerQuiet = brokerTime.flatMap { now in brokerAtLastFrame.map { now - $0 } } ?? 0
                        let reason: String
                        if quiet > idleTimeout {
                            reason = "no data for \(quiet.milliseconds / 1000) s while the market is open: replacing the connection"
                        } else if brokerQuiet > Self.brokerIdle {
                            reason = "no data for \(Int(brokerQuiet)) s of the broker's clock while the market is open: replacing the connection"
                        } else {
                            continue
                        }
                        await state.end(Outcome(reason: reason, reaction: .reconnect))
                        try? await outbound.close(.goingAway, reason: "idle")
                        return
                    }
                }
            }
            defer { group.cancelAll() }
            while let frame = try await nextFrame() {
                try await self.handle(frame, outbound: outbound, state: state)
                if await state.outcome != nil { break }
            }
        }
    }

    private func handle(_ frame: [StreamMessage], outbound: WebSocketOutboundWriter, state: ConnectionState) async throws {
        var bars: [StreamBar] = []
        for message in frame {
            switch message {
            case .bar(let symbol, let bar):
                bars.append(StreamBar(symbol: symbol, bar: bar, isCorrection: false))
            case .updatedBar(let symbol, let bar):
                bars.append(StreamBar(symbol: symbol, bar: bar, isCorrection: true))
            case .subscription(let subscription):
                confirmed = Set(subscription.bars)
                continuation.yield(.subscribed(subscription))
                settings.logger.info("stream subscription", metadata: ["bars": "\(subscription.bars.count)", "updated_bars": "\(subscription.updatedBars.count)"])
            case .error(let code, let text):
                let error = StreamError(code: code, message: text)
                await fail(error, state: state)
                if error.reaction != .keepGoing { try? await outbound.close(.normalClosure, reason: nil) }
            case .success, .dailyBar, .other:
                break
            }
        }
        if !bars.isEmpty { continuation.yield(.bars(bars)) }
    }

    private func fail(_ error: StreamError, state: ConnectionState) async {
        continuation.yield(.streamError(error))
        switch error.reaction {
        case .keepGoing:
            settings.logger.warning("\(error.description)")
        case .stop:
            settings.logger.error("\(error.description)")
            await state.end(Outcome(reason: error.description, reaction: .stop))
        case .backOff, .reconnect:
            settings.logger.warning("\(error.description)")
            await state.end(Outcome(reason: error.description, reaction: error.reaction))
        }
    }

    /// Sends what differs between the desired symbols and the last ones sent on this connection.
    private var sent: Set<String> = []

    private func syncSubscription(outbound: WebSocketOutboundWriter) async throws {
        let add = desired.subtracting(sent).sorted()
        let remove = sent.subtracting(desired).sorted()
        let encoder = JSONEncoder.alpaca
        // Alpaca's SDKs send large subscriptions in chunks; 100 symbols per message keeps frames small.
        for chunk in stride(from: 0, to: add.count, by: 100).map({ Array(add[$0..<min($0 + 100, add.count)]) }) {
            let message = try encoder.encode(StreamClientMessage.subscribe(bars: chunk, updatedBars: chunk))
            try await outbound.write(.text(String(decoding: message, as: UTF8.self)))
        }
        for chunk in stride(from: 0, to: remove.count, by: 100).map({ Array(remove[$0..<min($0 + 100, remove.count)]) }) {
            let message = try encoder.encode(StreamClientMessage.unsubscribe(bars: chunk, updatedBars: chunk))
            try await outbound.write(.text(String(decoding: message, as: UTF8.self)))
        }
        sent = desired
        if !add.isEmpty || !remove.isEmpty {
            settings.logger.info("stream subscription change", metadata: ["subscribe": "\(add.count)", "unsubscribe": "\(remove.count)"])
        }
    }
}
