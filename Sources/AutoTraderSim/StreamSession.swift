import AutoTraderCore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// What a WebSocket session needs from the hub that owns its connection: where the client's messages go and
/// whom to tell when it has gone. Both simulated streams (market data and trade updates) are such hubs.
protocol StreamSessionHub: Actor {
    func receive(id: Int, text: String)
    func receive(id: Int, bytes: [UInt8])
    func closed(id: Int)
}

extension StreamHub: StreamSessionHub {}
extension TradeUpdatesHub: StreamSessionHub {}

/// One WebSocket connection of a simulated stream, until either side ends it: a writer draining the hub's queue
/// for it (so frames keep their order), a reader handing the client's messages to the hub, and, when given, a
/// deadline (the market-data stream's auth timeout) that does not end the session by itself.
struct StreamSession<Hub: StreamSessionHub>: Sendable {
    let hub: Hub
    let id: Int
    let outgoing: AsyncStream<StreamHub.Outgoing>
    /// Told of each minute's bar frame as it goes to the socket (the market-data stream's send log).
    var sentBars: (@Sendable (_ minute: Timestamp, _ count: Int) -> Void)? = nil
    var deadline: (seconds: Double, expired: @Sendable () async -> Void)? = nil

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let hub = self.hub, id = self.id, outgoing = self.outgoing, sentBars = self.sentBars
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await message in outgoing {
                    let frame: WebSocketOutboundWriter.OutboundFrame
                    switch message {
                    case .text(let text): frame = .text(text)
                    case .binary(let bytes): frame = .binary(ByteBuffer(bytes: bytes))
                    case .bars(let text, let minute, let count):
                        sentBars?(minute, count)
                        frame = .text(text)
                    case .binaryBars(let bytes, let minute, let count):
                        sentBars?(minute, count)
                        frame = .binary(ByteBuffer(bytes: bytes))
                    case .close:
                        // Returning ends the handler, which closes the WebSocket normally.
                        return true
                    }
                    do { try await outbound.write(frame) } catch { return true }
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
            if let deadline {
                group.addTask {
                    do {
                        try await Task.sleep(for: .seconds(deadline.seconds))
                        await deadline.expired()
                    } catch {}
                    return false
                }
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
