import AutoTraderCore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle

/// The trading stream (`/stream` at the trading URL): authentication, `listen`, and the exchange's order
/// events pushed as `trade_updates` to every authenticated connection listening to them. Frames are binary
/// (JSON inside, as Alpaca's paper stream sends them; msgpack when the upgrade asked for it).
public actor TradeUpdatesHub {
    struct Connection {
        let msgpack: Bool
        var authenticated = false
        var listening = false
        let continuation: AsyncStream<StreamHub.Outgoing>.Continuation

        func send(_ message: SimWire.TradeStreamMessage) {
            continuation.yield(.binary(message.frame(msgpack: msgpack)))
        }
    }

    /// The streams a `listen` may name.
    static let streams = ["trade_updates"]

    private let configuration: SimulatorConfiguration
    private let stats: SimStats?
    private let logger: Logger
    private var connections = ConnectionTable<Connection>(queue: \.continuation)
    /// Events sent (all connections together), for tests and logs.
    public private(set) var eventsSent = 0

    public init(configuration: SimulatorConfiguration, stats: SimStats? = nil, logger: Logger) {
        self.configuration = configuration
        self.stats = stats
        self.logger = logger
    }

    public func open(msgpack: Bool) -> (id: Int, outgoing: AsyncStream<StreamHub.Outgoing>) {
        let (id, _, stream) = connections.open { Connection(msgpack: msgpack, continuation: $0) }
        logger.info("trade stream connected", metadata: ["connection": "\(id)", "codec": "\(msgpack ? "msgpack" : "json")"])
        return (id, stream)
    }

    public func closed(id: Int) {
        guard connections.closed(id: id) else { return }
        logger.info("trade stream disconnected", metadata: ["connection": "\(id)"])
    }

    /// Closes every connection (`/sim/disconnect`-style tests); returns how many.
    public func dropAll() -> Int {
        connections.hangUpAll()
    }

    public func receive(id: Int, text: String) {
        receive(id: id, object: try? JSONSerialization.jsonObject(with: Data(text.utf8)))
    }

    public func receive(id: Int, bytes: [UInt8]) {
        receive(id: id, object: StreamHub.clientObject(bytes))
    }

    /// `authenticate` (`data.key_id`/`data.secret_key`, what the docs and alpaca-py send) or `auth`
    /// (`key`/`secret`, the market-data form, also accepted), then `listen`. Anything else is ignored (Alpaca's
    /// answer to it is not documented).
    private func receive(id: Int, object parsed: Any?) {
        guard var connection = connections[id] else { return }
        guard let object = parsed as? [String: Any], let action = object["action"] as? String else {
            logger.info("trade stream: unreadable client message ignored", metadata: ["connection": "\(id)"])
            return
        }
        let data = object["data"] as? [String: Any] ?? [:]
        switch action {
        case "authenticate", "auth":
            let key = (data["key_id"] ?? object["key"]) as? String
            let secret = (data["secret_key"] ?? object["secret"]) as? String
            let authorized = key == configuration.keyID && secret == configuration.secretKey
            if authorized { connection.authenticated = true }
            connections[id] = connection
            if !authorized {
                logger.warning("trade stream auth failed (wrong key or secret)", metadata: ["connection": "\(id)"])
            }
            connection.send(.authorization(authorized: authorized, action: "authenticate"))
        case "listen":
            guard connection.authenticated else {
                connection.send(.authorization(authorized: false, action: "listen"))
                return
            }
            // The set to listen to, replacing the previous one; unknown streams are left out of the answer.
            let asked = data["streams"] as? [String] ?? []
            let streams = Self.streams.filter(asked.contains)
            connection.listening = streams.contains("trade_updates")
            connections[id] = connection
            if connection.listening { stats?.add(.tradeStreamListens) }
            connection.send(.listening(streams))
        default:
            logger.info("trade stream: unknown action ignored", metadata: ["connection": "\(id)", "action": "\(action)"])
        }
    }

    /// One order event to every connection listening to `trade_updates`.
    public func publish(_ event: OrderEvent) {
        var frames: [Bool: [UInt8]] = [:]
        for connection in connections.all where connection.authenticated && connection.listening {
            let frame = frames[connection.msgpack] ?? SimWire.TradeStreamMessage.tradeUpdate(event).frame(msgpack: connection.msgpack)
            frames[connection.msgpack] = frame
            connection.continuation.yield(.binary(frame))
            eventsSent += 1
            stats?.add(.tradeUpdatesSent)
        }
    }
}

/// Hands the exchange's order events to the trade-updates hub as they happen.
struct TradeUpdatesService: Service, CustomStringConvertible {
    var description: String { "TradeUpdatesService" }

    let exchange: Exchange
    let hub: TradeUpdatesHub

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await event in exchange.orderEvents.stream { await hub.publish(event) }
        }
    }
}
