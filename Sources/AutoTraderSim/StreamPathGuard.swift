import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

extension HTTPServerBuilder {
    /// HTTP/1 with WebSocket upgrades through `streamResponder`, where an upgrade to an unknown /v2/ path gets 404.
    static func http1WebSocketUpgrade<Responder: HTTPResponder>(
        streamResponder: Responder, configuration: HTTP1WebSocketUpgradeChannel.Configuration, streamPaths: Set<String>
    ) -> HTTPServerBuilder where Responder.Context: WebSocketRequestContext {
        HTTPServerBuilder { responder in
            StreamPathGuardChannel(
                inner: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: streamResponder,
                                                    configuration: configuration),
                streamPaths: streamPaths)
        }
    }
}

/// Answers a WebSocket handshake for an unknown stream path with 404, as Alpaca refuses an unknown feed.
///
/// Hummingbird answers every declined upgrade with an empty 400 and offers no hook to change it, so this
/// wraps its HTTP/WebSocket child channel and looks at the first request of each connection before
/// Hummingbird's HTTP decoder sees it.
struct StreamPathGuardChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let streamPaths: Set<String>

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let paths = streamPaths
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.pipeline.syncOperations.addHandler(UnknownStreamPathHandler(streamPaths: paths), position: .first)
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Reads a connection's first request head; a WebSocket upgrade to a /v2/ path that is no stream gets a
/// 404 in Alpaca's error shape and the connection closes. Anything else passes through untouched, and the
/// handler removes itself.
final class UnknownStreamPathHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let streamPaths: Set<String>
    private var pending: ByteBuffer?
    private var done = false

    init(streamPaths: Set<String>) {
        self.streamPaths = streamPaths
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard !done else {
            context.fireChannelRead(data)
            return
        }
        if var pending {
            pending.writeBuffer(&incoming)
            self.pending = pending
        } else {
            pending = incoming
        }
        guard let buffer = pending else { return }
        let text = String(buffer: buffer)
        // Wait for the whole head (it normally comes in one read); give up inspecting past 16 kB.
        guard text.contains("\r\n\r\n") || buffer.readableBytes > 16_384 else { return }
        done = true
        if Self.isUpgrade(text), let path = Self.path(text), path.hasPrefix("/v2/"), !streamPaths.contains(path) {
            let body = #"{"code":40410000,"message":"not found"}"#
            let response = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json; charset=utf-8\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: response)), promise: nil)
            context.close(promise: nil)
            return
        }
        pending = nil
        context.fireChannelRead(wrapInboundOut(buffer))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    static func isUpgrade(_ head: String) -> Bool {
        head.lowercased().split(separator: "\r\n").contains { line in
            line.hasPrefix("upgrade:") && line.contains("websocket")
        }
    }

    /// The request line's path, without the query.
    static func path(_ head: String) -> String? {
        guard let line = head.split(separator: "\r\n", maxSplits: 1).first else { return nil }
        let parts = line.split(separator: " ")
        guard parts.count >= 2 else { return nil }
        return String(parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }
}
