import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How many connections the api keeps, and for how long, so that nobody can take the dashboard away
/// by opening connections and saying nothing (each holds a file descriptor).
public struct ConnectionLimits: Sendable {
    /// Simultaneous connections from one address; more are closed as soon as they are accepted.
    public var perAddress = 32
    /// Simultaneous connections in all (the units give the api `LimitNOFILE=8192`).
    public var total = 1024
    /// A connection that has not sent a whole request head (or the next one) within this is closed.
    public var idleTimeout: Duration = .seconds(15)
    /// A request whose body has not arrived whole within this is cut off (the connection is closed).
    public var bodyTimeout: Duration = .seconds(10)
    /// Bodies are small JSON objects: a request that declares more is answered 413 at once.
    public var maxBodyBytes = 4096
    public init() {}
}

/// Open connections per remote address, shared by every connection's `ConnectionGuardHandler`.
final class ConnectionCounter: Sendable {
    private let counts = Mutex<(byAddress: [String: Int], total: Int)>(([:], 0))

    /// Counts a new connection; false when it is one too many (it must be closed, and `release` not called).
    func admit(_ address: String, limits: ConnectionLimits) -> Bool {
        counts.withLock { counts in
            let current = counts.byAddress[address] ?? 0
            guard current < limits.perAddress, counts.total < limits.total else { return false }
            counts.byAddress[address] = current + 1
            counts.total += 1
            return true
        }
    }

    func release(_ address: String) {
        counts.withLock { counts in
            let current = (counts.byAddress[address] ?? 1) - 1
            counts.byAddress[address] = current > 0 ? current : nil
            counts.total = max(0, counts.total - 1)
        }
    }

    var total: Int { counts.withLock { $0.total } }
}

/// One per connection, after the HTTP codec: enforces the per-address and total caps, answers a body
/// declared too big with 413 before it is read, drops (reads and discards) body bytes past the limit so a
/// client pushing a huge body is never left blocked, and closes a request whose body is too slow.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let counter: ConnectionCounter
    private let limits: ConnectionLimits
    private let tls: Bool
    private var address: String?
    private var admitted = false
    private var bodyBytes = 0
    /// Refusing this request ourselves: its parts are dropped, and the connection closes after our answer.
    private var refusing = false
    private var bodyDeadline: Scheduled<Void>?

    init(counter: ConnectionCounter, limits: ConnectionLimits, tls: Bool) {
        self.counter = counter
        self.limits = limits
        self.tls = tls
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard address == nil else { return }
        let key = Self.key(context.channel.remoteAddress)
        address = key
        if counter.admit(key, limits: limits) {
            admitted = true
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        releaseOnce()
        bodyDeadline?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        releaseOnce()
        bodyDeadline?.cancel()
    }

    private func releaseOnce() {
        if admitted, let address { counter.release(address) }
        admitted = false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if let declared = head.headerFields[.contentLength].flatMap(Int.init), declared > limits.maxBodyBytes {
                refusing = true
                respond(context, .contentTooLarge, "the request body is \(declared) bytes; at most \(limits.maxBodyBytes) are accepted")
                return
            }
            bodyBytes = 0
            let timeout = limits.bodyTimeout
            bodyDeadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) {
                context.close(promise: nil)
            }
            context.fireChannelRead(data)
        case .body(let buffer):
            guard !refusing else { return }
            bodyBytes += buffer.readableBytes
            // Past the limit the handler has its answer (413) already; the rest is read and dropped.
            if bodyBytes <= limits.maxBodyBytes + buffer.readableBytes { context.fireChannelRead(data) }
        case .end:
            bodyDeadline?.cancel()
            bodyDeadline = nil
            if refusing { return }
            context.fireChannelRead(data)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Our own refusal is on its way and the connection closes after it; anything else is Hummingbird's
        // to answer (a malformed request is a 400 and a closed connection).
        if refusing { return }
        context.fireErrorCaught(error)
    }

    /// Answers ourselves (the request never reaches the router) and closes the connection.
    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponse.Status, _ message: String) {
        var body = ByteBuffer()
        body.writeString(#"{"error":"# + JSONValue.string(message).encoded() + "}")
        var fields: HTTPFields = [
            .contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes), .connection: "close",
            .cacheControl: "no-store",
        ]
        BrowserSafetyMiddleware.addSecurityHeaders(to: &fields, tls: tls)
        let head = HTTPResponse(status: status, headerFields: fields)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    /// The peer's IP address without the port (an IPv4 client on a dual-stack socket counts as IPv4).
    static func key(_ address: SocketAddress?) -> String {
        switch address {
        case .v4(let address)?: return address.host
        case .v6(let address)?: return address.host.hasPrefix("::ffff:") ? String(address.host.dropFirst(7)) : address.host
        case .unixDomainSocket?: return "unix"
        case nil: return "unknown"
        }
    }
}

/// Raises this process's open-file limit to the hard limit: the connection caps above need the headroom
/// (systemd's default soft limit is 1024).
public enum FileDescriptorLimit {
    @discardableResult
    public static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(limit.rlim_cur)
    }
}
