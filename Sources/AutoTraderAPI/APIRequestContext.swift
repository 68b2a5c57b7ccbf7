import HTTPTypes
import Hummingbird
import NIOCore

/// The api's request context: Hummingbird's core storage plus the peer's address, which the
/// PIN throttle counts wrong PINs by.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Bodies are read by `JSONInput` with its own small limit; this only bounds what Hummingbird would collect.
    public var maxUploadSize: Int { APIServer.maxBodyBytes }

    /// The client's IP address (without the port): one client for the PIN throttle.
    public var clientKey: String {
        switch remoteAddress {
        case .v4(let address)?: return address.host
        case .v6(let address)?:
            // An IPv4 client on a dual-stack socket is the same client as over IPv4.
            return address.host.hasPrefix("::ffff:") ? String(address.host.dropFirst(7)) : address.host
        case .unixDomainSocket?: return "unix"
        case nil: return "unknown"
        }
    }
}
