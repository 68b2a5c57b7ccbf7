import AutoTraderCore
import Foundation
import Logging

/// The market-data stream's side of Alpaca's protocol: connections, auth, subscriptions, and each
/// minute's fan-out of bars (one frame per connection per minute) and of corrected bars.
public actor StreamHub {
    /// What a connection's writer sends next.
    public enum Outgoing: Sendable {
        case text(String)
        /// A minute's bar frame (recorded in the send log, when there is one, as it goes to the socket).
        case bars(String, minute: Timestamp, count: Int)
        /// Close the WebSocket (after any text queued before it).
        case close
    }

    struct Connection {
        let feed: String
        var authenticated = false
        var key: String?
        /// Channel → symbols, in the order they were first subscribed.
        var channels: [String: [String]] = [:]
        /// `/sim/silence`: the connection stays open but is sent nothing (Alpaca's "quiet connection" failure).
        var silent = false
        let continuation: AsyncStream<Outgoing>.Continuation

        func send(_ messages: [SimWire.StreamMessage]) {
            guard !silent else { return }
            continuation.yield(.text(SimWire.StreamMessage.frame(messages)))
        }
    }

    /// The channels a subscribe message may name; the subscription frame lists the first nine always.
    static let channels = ["trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "corrections",
                           "cancelErrors", "imbalances"]

    private let configuration: SimulatorConfiguration
    private let generator: MarketDataGenerator
    private let stats: SimStats
    private let logger: Logger
    private var connections: [Int: Connection] = [:]
    private var nextID = 1
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
    public func open(feed: String) -> (id: Int, outgoing: AsyncStream<Outgoing>) {
        let id = nextID
        nextID += 1
        let (stream, continuation) = AsyncStream<Outgoing>.makeStream()
        let connection = Connection(feed: feed, continuation: continuation)
        connections[id] = connection
        stats.connectionOpened()
        logger.info("stream connected", metadata: ["connection": "\(id)", "feed": "\(feed)"])
        connection.send([.success("connected")])
        return (id, stream)
    }

    /// The WebSocket is gone (either side closed it).
    public func closed(id: Int) {
        stats.connectionClosed()
        guard let connection = connections.removeValue(forKey: id) else { return }
        connection.continuation.finish()
        logger.info("stream disconnected", metadata: ["connection": "\(id)"])
    }

    /// Closes every connection now (`/sim/disconnect`, `--disconnect-every`); returns how many.
    public func dropAll() -> Int {
        let dropped = connections
        connections.removeAll()
        for connection in dropped.values { hangUp(connection) }
        if !dropped.isEmpty {
            stats.add(.streamDisconnectsForced, dropped.count)
            logger.info("dropped stream connections", metadata: ["count": "\(dropped.count)"])
        }
        return dropped.count
    }

    /// `/sim/silence`: every open connection stays open but is sent nothing more — no bars, corrections,
    /// subscription echoes or errors — and its messages are ignored, until it closes or, with `seconds`,
    /// that many real seconds have passed (what it missed meanwhile is not sent later). Connections
    /// opened afterwards are not affected. Returns how many connections went silent.
    public func silence(seconds: Double?) -> Int {
        let ids = connections.filter { !$0.value.silent }.map(\.key)
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
        connections[id] = nil
        hangUp(connection)
        logger.info("stream auth timeout", metadata: ["connection": "\(id)"])
    }

    private func hangUp(_ connection: Connection) {
        connection.continuation.yield(.close)
        connection.continuation.finish()
    }

    // MARK: - Client messages

    /// One text message from a client: auth, subscribe or unsubscribe.
    public func receive(id: Int, text: String) {
        guard let connection = connections[id], !connection.silent else { return }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let action = object["action"] as? String
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
        let sessions = connections.values.filter { $0.authenticated && $0.key == key && $0.feed == connection.feed }.count
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
        if !connection.silent { connection.continuation.yield(.text(Self.subscriptionFrame(channels))) }
    }

    /// The full current subscription, as Alpaca confirms every (un)subscribe: every channel but
    /// `imbalances` always (empty ones as `[]`), `imbalances` only when it has symbols.
    static func subscriptionFrame(_ channels: [String: [String]]) -> String {
        var listed: [String: [String]] = [:]
        for channel in Self.channels where channel != "imbalances" || !(channels[channel]?.isEmpty ?? true) {
            listed[channel] = channels[channel] ?? []
        }
        return SimWire.StreamMessage.frame([.subscription(listed)])
    }

    // MARK: - Data

    /// Sends the bars of `minute` (which has just ended) to every connection subscribed to their symbols.
    public func publishBars(minute: Timestamp) {
        let asOf = Double(minute.secondsSinceEpoch + 60)
        var known: [String: SimWire.Bar?] = [:]
        var sent = 0, frames = 0, withheld = 0
        for connection in connections.values where connection.authenticated {
            guard let wanted = connection.channels["bars"], !wanted.isEmpty else { continue }
            let symbols = wanted.contains("*") ? allSymbols : wanted
            var messages: [SimWire.StreamMessage] = []
            for symbol in symbols {
                let bar: SimWire.Bar?
                if let cached = known[symbol] { bar = cached } else {
                    bar = generator.bar(symbol: symbol, minute: minute, asOf: asOf).map(SimWire.Bar.init)
                    known[symbol] = bar
                }
                if let bar { messages.append(.bar(symbol: symbol, bar)) }
            }
            guard !messages.isEmpty else { continue }
            guard !connection.silent else { withheld += messages.count; continue }
            let frame = SimWire.StreamMessage.frame(messages)
            connection.continuation.yield(sendLog == nil ? .text(frame) : .bars(frame, minute: minute, count: messages.count))
            sent += messages.count
            frames += 1
        }
        stats.add(.barsStreamed, sent)
        stats.add(.barFrames, frames)
        if withheld > 0 { stats.add(.barsWithheld, withheld) }
        if sent > 0 {
            logger.debug("bars streamed", metadata: ["minute": "\(minute)", "bars": "\(sent)", "frames": "\(frames)"])
        }
    }

    /// Sends the corrections of `minute`'s bars (`u` messages) to `updatedBars` subscribers.
    public func publishCorrections(minute: Timestamp) {
        let asOf = Double(minute.secondsSinceEpoch + 60)
        var sent = 0
        for connection in connections.values where connection.authenticated {
            guard let wanted = connection.channels["updatedBars"], !wanted.isEmpty else { continue }
            let symbols = wanted.contains("*") ? allSymbols : wanted
            var messages: [SimWire.StreamMessage] = []
            for symbol in symbols where generator.isCorrected(symbol: symbol, minute: minute) {
                guard let bar = generator.bar(symbol: symbol, minute: minute, asOf: asOf) else { continue }
                messages.append(.updatedBar(symbol: symbol, SimWire.Bar(generator.corrected(bar, symbol: symbol))))
            }
            guard !messages.isEmpty else { continue }
            guard !connection.silent else { stats.add(.barsWithheld, messages.count); continue }
            connection.send(messages)
            sent += messages.count
        }
        stats.add(.updatedBarsStreamed, sent)
    }
}
