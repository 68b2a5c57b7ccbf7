import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging

/// The stream endpoints: `/v2/iex` and `/v2/sip` upgrade to WebSocket; any other path is not upgraded
/// (and so answered 404 by the HTTP router, as Alpaca refuses an unknown feed at the handshake).
enum StreamRoutes {
    static let feeds = ["iex", "sip"]

    /// Whether the upgrade asked for msgpack (`Content-Type: application/msgpack`, as alpaca-py, alpaca-trade-api
    /// and the Go and JS SDKs send it).
    static func wantsMsgPack(_ headers: HTTPFields) -> Bool {
        headers[values: .contentType].contains { $0.lowercased().contains("msgpack") }
    }

    static func add(
        to router: Router<BasicWebSocketRequestContext>, hub: StreamHub, tradeUpdates: TradeUpdatesHub? = nil,
        authTimeout: Double
    ) {
        for feed in feeds {
            router.ws("/v2/\(feed)") { inbound, outbound, context in
                await marketData(hub: hub, feed: feed, authTimeout: authTimeout, headers: context.request.headers)
                    .run(inbound: inbound, outbound: outbound)
            }
        }
        // The trading stream, at the trading URL (wss://paper-api.alpaca.markets/stream).
        if let tradeUpdates {
            router.ws("/stream") { inbound, outbound, context in
                let (id, outgoing) = await tradeUpdates.open(msgpack: wantsMsgPack(context.request.headers))
                await StreamSession(hub: tradeUpdates, id: id, outgoing: outgoing)
                    .run(inbound: inbound, outbound: outbound)
            }
        }
    }

    /// A market-data connection: opened on the hub, authenticated at once when the upgrade carried the keys,
    /// its bar frames recorded in the send log, and closed by the hub if it has not authenticated in time.
    static func marketData(hub: StreamHub, feed: String, authTimeout: Double, headers: HTTPFields) async -> StreamSession<StreamHub> {
        let (id, outgoing) = await hub.open(feed: feed, msgpack: wantsMsgPack(headers))
        // Alpaca also accepts the REST key headers on the upgrade request instead of an auth message.
        if let key = headers[.apcaKeyID], let secret = headers[.apcaSecretKey] {
            await hub.authenticate(id: id, key: key, secret: secret)
        }
        var session = StreamSession(hub: hub, id: id, outgoing: outgoing)
        if let log = hub.sendLog {
            session.sentBars = { minute, count in log.record(connection: id, minute: minute, bars: count, at: Date().timeIntervalSince1970) }
        }
        session.deadline = (authTimeout, { await hub.authTimeoutExpired(id: id) })
        return session
    }
}
