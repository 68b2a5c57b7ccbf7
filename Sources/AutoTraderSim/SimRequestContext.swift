import Hummingbird
import NIOCore

/// The request context of the REST router: Hummingbird's core storage plus the peer's address (for the loopback-only /sim routes).
public struct SimRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Whether the request came from this machine.
    public var isLoopback: Bool {
        switch remoteAddress {
        case .v4(let address)?: return address.host.hasPrefix("127.")
        case .v6(let address)?: return address.host == "::1" || address.host.hasPrefix("::ffff:127.")
        case .unixDomainSocket?: return true
        case nil: return false
        }
    }
}
