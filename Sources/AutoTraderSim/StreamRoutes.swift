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
                let session = StreamSession(hub: hub, feed: feed, authTimeout: authTimeout)
                await session.run(inbound: inbound, outbound: outbound, headers: context.request.headers)
            }
        }
        // The trading stream, at the trading URL (wss://paper-api.alpaca.markets/stream).
        if let tradeUpdates {
            router.ws("/stream") { inbound, outbound, context in
                await TradeUpdatesSession(hub: tradeUpdates)
                    .run(inbound: inbound, outbound: outbound, headers: context.request.headers)
            }
        }
    }
}

/// One WebSocket connection: a writer draining the hub's queue for it (so frames keep their order), a reader
/// handing client messages to the hub, and the auth deadline.
struct StreamSession: Sendable {
    let hub: StreamHub
    let feed: String
    let authTimeout: Double

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, headers: HTTPFields) async {
        let (id, outgoing) = await hub.open(feed: feed, msgpack: StreamRoutes.wantsMsgPack(headers))
        // Alpaca also accepts the REST key headers on the upgrade request instead of an auth message.
        if let key = headers[.apcaKeyID], let secret = headers[.apcaSecretKey] {
            await hub.authenticate(id: id, key: key, secret: secret)
        }
        let hub = self.hub, authTimeout = self.authTimeout
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await message in outgoing {
                    switch message {
                    case .text(let text):
                        do { try await outbound.write(.text(text)) } catch { return true }
                    case .binary(let bytes):
                        do { try await outbound.write(.binary(ByteBuffer(bytes: bytes))) } catch { return true }
                    case .bars(let text, let minute, let count):
                        hub.sendLog?.record(connection: id, minute: minute, bars: count, at: Date().timeIntervalSince1970)
                        do { try await outbound.write(.text(text)) } catch { return true }
                    case .binaryBars(let bytes, let minute, let count):
                        hub.sendLog?.record(connection: id, minute: minute, bars: count, at: Date().timeIntervalSince1970)
                        do { try await outbound.write(.binary(ByteBuffer(bytes: bytes))) } catch { return true }
                    case .close:
                        // Returning ends the handler, which closes the WebSocket normally.
                        return true
                    }
                }
                return true
            }
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        switch message {
                        case .text(let text): await hub.receive(id: id, text: text)
                        case .binary(let buffer): await hub.receive(id: id, bytes: Array(buffer.readableBytesView))
                        }
                    }
                } catch {}
                return true
            }
            group.addTask {
                do {
                    try await Task.sleep(for: .seconds(authTimeout))
                    await hub.authTimeoutExpired(id: id)
                } catch {}
                return false
            }
            while let ended = await group.next() {
                if ended {
                    group.cancelAll()
                    break
                }
            }
        }
        await hub.closed(id: id)
    }
}
