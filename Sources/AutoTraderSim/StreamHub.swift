import AutoTraderCore
import Foundation
import Logging

/// The market-data stream's side of Alpaca's protocol: connections, auth, subscriptions, and each
/// minute's fan-out of bars (one frame per connection per minute) and of corrected bars.
public actor StreamHub {
    /// What a connection's writer sends next.
    public enum Outgoing: Sendable {
        case text(String)
        /// A msgpack frame (connections that asked for `Content-Type: application/msgpack`).
        case binary([UInt8])
        /// A minute's bar frame (recorded in the send log, when there is one, as it goes to the socket).
        case bars(String, minute: Timestamp, count: Int)
        /// The same in msgpack.
        case binaryBars([UInt8], minute: Timestamp, count: Int)
        /// Close the WebSocket (after any text queued before it).
        case close
    }

    struct Connection {
        let feed: String
        /// The client asked for msgpack on the upgrade: every frame goes as binary msgpack.
        let msgpack: Bool
        var authenticated = false
        var key: String?
        /// Channel → symbols, in the order they were first subscribed.
        var channels: [String: [String]] = [:]
        /// `/sim/silence`: the connection stays open but is sent nothing (Alpaca's "quiet connection" failure).
        var silent = false
        let continuation: AsyncStream<Outgoing>.Continuation

        func send(_ messages: [SimWire.StreamMessage]) {
            guard !silent else { return }
            continuation.yield(frame(messages))
        }

        /// One frame of messages in the connection's codec.
        func frame(_ messages: [SimWire.StreamMessage]) -> Outgoing {
            msgpack ? .binary(SimWire.StreamMessage.msgpackFrame(messages)) : .text(SimWire.StreamMessage.frame(messages))
        }

        /// A minute's bar frame in the connection's codec (logged when `logged`).
        func barFrame(_ messages: [SimWire.StreamMessage], minute: Timestamp, logged: Bool) -> Outgoing {
            guard logged else { return frame(messages) }
            return msgpack
                ? .binaryBars(SimWire.StreamMessage.msgpackFrame(messages), minute: minute, count: messages.count)
                : .bars(SimWire.StreamMessage.frame(messages), minute: minute, count: messages.count)
        }
    }

    /// The channels a subscribe message may name; the subscription frame lists the first nine always.
    static let channels = ["trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "corrections",
                           "cancelErrors", "imbalances"]

    private let configuration: SimulatorConfiguration
    private let generator: MarketDataGenerator
    private let stats: SimStats
    private let logger: Logger
    private var connections = ConnectionTable<Connection>(queue: \.continuation)
    private let allSymbols: [String]
    /// With `--record-sends`: when each bar frame went to its socket (written by the connection's writer).
    public nonisolated let sendLog: SendLog?

    public init(configuration: SimulatorConfiguration, generator: MarketDataGenerator, stats: SimStats, logger: Logger) {
        self.configuration = configuration
        self.sendLog = configuration.recordSends ? SendLog() : nil
        self.generator = generator
        self.stats = stats
        self.logger = logger
        self.allSymbols = generator.universe.symbolsWithBars
    }

    // MARK: - Connection life

    /// Registers a new WebSocket and queues the welcome frame.
    /// With `msgpack`, every frame to this connection is msgpack (binary), as Alpaca answers a client that sent
    /// `Content-Type: application/msgpack` on the upgrade.
    public func open(feed: String, msgpack: Bool = false) -> (id: Int, outgoing: AsyncStream<Outgoing>) {
        let (id, connection, stream) = connections.open { Connection(feed: feed, msgpack: msgpack, continuation: $0) }
        stats.connectionOpened()
        logger.info("stream connected", metadata: ["connection": "\(id)", "feed": "\(feed)", "codec": "\(msgpack ? "msgpack" : "json")"])
        connection.send([.success("connected")])
        return (id, stream)
    }

    /// The WebSocket is gone (either side closed it).
    public func closed(id: Int) {
        stats.connectionClosed()
        guard connections.closed(id: id) else { return }
        logger.info("stream disconnected", metadata: ["connection": "\(id)"])
    }

    /// Closes every connection now (`/sim/disconnect`, `--disconnect-every`); returns how many.
    public func dropAll() -> Int {
        let dropped = connections.hangUpAll()
        if dropped > 0 {
            stats.add(.streamDisconnectsForced, dropped)
            logger.info("dropped stream connections", metadata: ["count": "\(dropped)"])
        }
        return dropped
    }

    /// `/sim/silence`: every open connection stays open but is sent nothing more — no bars, corrections,
    /// subscription echoes or errors — and its messages are ignored, until it closes or, with `seconds`,
    /// that many real seconds have passed (what it missed meanwhile is not sent later). Connections
    /// opened afterwards are not affected. Returns how many connections went silent.
    public func silence(seconds: Double?) -> Int {
        let ids = connections.ids { !$0.silent }
        for id in ids { connections[id]?.silent = true }
        if !ids.isEmpty {
            stats.add(.streamConnectionsSilenced, ids.count)
            logger.info("stream connections silenced", metadata: ["count": "\(ids.count)", "seconds": "\(seconds.map { "\($0)" } ?? "until closed")"])
        }
        if let seconds, !ids.isEmpty {
            Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                await self?.unsilence(ids)
            }
        }
        return ids.count
    }

    private func unsilence(_ ids: [Int]) {
        for id in ids { connections[id]?.silent = false }
    }

    /// The auth window has passed: an unauthenticated connection gets 404 and is closed.
    public func authTimeoutExpired(id: Int) {
        guard let connection = connections[id], !connection.authenticated else { return }
        connection.send([.error(code: 404, message: "auth timeout")])
        connections.hangUp(id: id)
        logger.info("stream auth timeout", metadata: ["connection": "\(id)"])
    }

    // MARK: - Client messages

    /// One text message from a client: auth, subscribe or unsubscribe.
    public func receive(id: Int, text: String) {
        receive(id: id, object: try? JSONSerialization.jsonObject(with: Data(text.utf8)))
    }

    /// One binary message: msgpack (what the SDKs send in msgpack mode), or JSON text sent as binary.
    public func receive(id: Int, bytes: [UInt8]) {
        receive(id: id, object: Self.clientObject(bytes))
    }

    /// A binary client message as a JSON-like object: JSON when it starts like JSON (`{`, a msgpack positive
    /// integer that no client message is), msgpack otherwise; nil when it is neither.
    static func clientObject(_ bytes: [UInt8]) -> Any? {
        let first = bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) })
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            return try? JSONSerialization.jsonObject(with: Data(bytes))
        }
        return (try? MsgPack.decode(bytes))?.jsonObject
    }

    private func receive(id: Int, object parsed: Any?) {
        guard let connection = connections[id], !connection.silent else { return }
        guard let object = parsed as? [String: Any], let action = object["action"] as? String
        else {
            connection.send([.error(code: 400, message: "invalid syntax")])
            return
        }
        switch action {
        case "auth":
            guard let key = object["key"] as? String, let secret = object["secret"] as? String else {
                connection.send([.error(code: 400, message: "invalid syntax")])
                return
            }
            authenticate(id: id, key: key, secret: secret)
        case "subscribe", "unsubscribe":
            guard connection.authenticated else {
                connection.send([.error(code: 401, message: "not authenticated")])
                return
            }
            var request: [String: [String]] = [:]
            for channel in Self.channels {
                guard let value = object[channel] else { continue }
                guard let symbols = value as? [String] else {
                    connection.send([.error(code: 400, message: "invalid syntax")])
                    return
                }
                request[channel] = symbols
            }
            update(id: id, request: request, subscribe: action == "subscribe")
        default:
            connection.send([.error(code: 400, message: "invalid syntax")])
        }
    }

    /// Checks credentials, the feed against the plan, and the per-key connection limit, in Alpaca's order.
    public func authenticate(id: Int, key: String, secret: String) {
        guard var connection = connections[id] else { return }
        if connection.authenticated {
            connection.send([.error(code: 403, message: "already authenticated")])
            return
        }
        guard key == configuration.keyID, secret == configuration.secretKey else {
            stats.add(.streamRefused)
            logger.warning("stream auth failed (wrong key or secret)", metadata: ["connection": "\(id)"])
            connection.send([.error(code: 402, message: "auth failed")])
            return
        }
        guard configuration.feeds.contains(connection.feed) else {
            stats.add(.streamRefused)
            connection.send([.error(code: 409, message: "insufficient subscription")])
            return
        }
        let sessions = connections.all.filter { $0.authenticated && $0.key == key && $0.feed == connection.feed }.count
        guard sessions < configuration.maxConnections else {
            stats.add(.streamRefused)
            logger.info("stream connection limit exceeded", metadata: ["connection": "\(id)", "feed": "\(connection.feed)"])
            connection.send([.error(code: 406, message: "connection limit exceeded")])
            return
        }
        connection.authenticated = true
        connection.key = key
        connections[id] = connection
        stats.add(.streamAuthenticated)
        connection.send([.success("authenticated")])
    }

    private func update(id: Int, request: [String: [String]], subscribe: Bool) {
        guard var connection = connections[id] else { return }
        var channels = connection.channels
        for (channel, symbols) in request {
            var current = channels[channel] ?? []
            if subscribe {
                for symbol in symbols where !current.contains(symbol) { current.append(symbol) }
            } else {
                let removed = Set(symbols)
                current.removeAll { removed.contains($0) }
            }
            channels[channel] = current
        }
        // Trade corrections and cancel/errors follow the trades subscription.
        channels["corrections"] = channels["trades"] ?? []
        channels["cancelErrors"] = channels["trades"] ?? []
        if let limit = configuration.symbolLimit {
            let distinct = Set(channels.values.joined()).subtracting(["*"])
            if distinct.count > limit {
                connection.send([.error(code: 405, message: "symbol limit exceeded")])
                return
            }
        }
        connection.channels = channels
        connections[id] = connection
        connection.send([Self.subscriptionMessage(channels)])
    }

    /// The full current subscription, as Alpaca confirms every (un)subscribe: every channel but
    /// `imbalances` always (empty ones as `[]`), `imbalances` only when it has symbols.
    static func subscriptionMessage(_ channels: [String: [String]]) -> SimWire.StreamMessage {
        var listed: [String: [String]] = [:]
        for channel in Self.channels where channel != "imbalances" || !(channels[channel]?.isEmpty ?? true) {
            listed[channel] = channels[channel] ?? []
        }
        return .subscription(listed)
    }

    // MARK: - Data

    /// Each authenticated connection subscribed to `channel`, with the messages `make` gives for its symbols (each
    /// symbol's made once per call however many connections want it; nil leaves the symbol out).
    private func subscribers(
        of channel: String, _ make: (String) -> SimWire.StreamMessage?
    ) -> [(connection: Connection, messages: [SimWire.StreamMessage])] {
        var known: [String: SimWire.StreamMessage?] = [:]
        var result: [(connection: Connection, messages: [SimWire.StreamMessage])] = []
        for connection in connections.all where connection.authenticated {
            guard let wanted = connection.channels[channel], !wanted.isEmpty else { continue }
            var messages: [SimWire.StreamMessage] = []
            for symbol in wanted.contains("*") ? allSymbols : wanted {
                let message: SimWire.StreamMessage?
                if let cached = known[symbol] { message = cached } else {
                    message = make(symbol)
                    known[symbol] = message
                }
                if let message { messages.append(message) }
            }
            if !messages.isEmpty { result.append((connection, messages)) }
        }
        return result
    }

    /// Sends the bars of `minute` (which has just ended) to every connection subscribed to their symbols.
    public func publishBars(minute: Timestamp) {
        let asOf = Double(minute.secondsSinceEpoch + 60)
        var sent = 0, frames = 0, withheld = 0
        let generator = self.generator
        for (connection, messages) in subscribers(of: "bars", { symbol in
            generator.bar(symbol: symbol, minute: minute, asOf: asOf).map { .bar(symbol: symbol, $0) }
        }) {
            guard !connection.silent else { withheld += messages.count; continue }
            connection.continuation.yield(connection.barFrame(messages, minute: minute, logged: sendLog != nil))
            sent += messages.count
            frames += 1
        }
        stats.add(.barsStreamed, sent)
        stats.add(.barFrames, frames)
        if withheld > 0 { stats.add(.barsWithheld, withheld) }
        if sent > 0 {
            logger.debug("bars streamed", metadata: ["minute": "\(minute)", "bars": "\(sent)", "frames": "\(frames)"])
        }
        publishDailyBars(minute: minute)
    }

    /// After a regular-hours minute's bars: today's daily bar so far (`d`, stamped at New York midnight, built from
    /// the session's regular minutes that have ended) to `dailyBars` subscribers, in a frame of its own. The one
    /// sent after the session's last minute is the day's bar, equal to what GET /v2/stocks/bars?timeframe=1Day
    /// answers then.
    func publishDailyBars(minute: Timestamp) {
        guard let session = generator.hours.regularSession(containing: minute) else { return }
        let asOf = Double(minute.secondsSinceEpoch + 60)
        let stamp = generator.hours.newYorkMidnight(of: session)
        let generator = self.generator
        let sent = send(subscribers(of: "dailyBars") { symbol in
            generator.dailyBars(symbol: symbol, from: stamp, through: stamp, asOf: asOf, limit: 1).first
                .map { .dailyBar(symbol: symbol, $0) }
        })
        if sent > 0 { logger.debug("daily bars streamed", metadata: ["minute": "\(minute)", "bars": "\(sent)"]) }
    }

    /// Sends the corrections of `minute`'s bars (`u` messages) to `updatedBars` subscribers.
    public func publishCorrections(minute: Timestamp) {
        let asOf = Double(minute.secondsSinceEpoch + 60)
        let generator = self.generator
        let sent = send(subscribers(of: "updatedBars") { symbol in
            guard generator.isCorrected(symbol: symbol, minute: minute),
                  let bar = generator.bar(symbol: symbol, minute: minute, asOf: asOf) else { return nil }
            return .updatedBar(symbol: symbol, generator.corrected(bar, symbol: symbol))
        })
        stats.add(.updatedBarsStreamed, sent)
    }

    /// Sends each connection its messages in one frame (withheld from a silenced one); returns how many were sent.
    private func send(_ deliveries: [(connection: Connection, messages: [SimWire.StreamMessage])]) -> Int {
        var sent = 0
        for (connection, messages) in deliveries {
            guard !connection.silent else { stats.add(.barsWithheld, messages.count); continue }
            connection.send(messages)
            sent += messages.count
        }
        return sent
    }
}
