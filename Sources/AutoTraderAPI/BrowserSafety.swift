import AutoTraderCore
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The host names and addresses the api answers for: loopback, the machine's own names and addresses,
/// and the owner's `AUTOTRADER_API_ALLOWED_HOSTS`. Anything else in `Host` is a DNS-rebinding page (a
/// foreign name pointed at this machine) or a misdirected request, and is refused.
public final class AllowedHosts: Sendable {
    private let configured: Set<String>
    /// The machine's names and interface addresses, re-read now and then (DHCP can change them).
    private let local = Mutex<(names: Set<String>, readAt: ContinuousClock.Instant?)>(([], nil))

    /// `extra`: names or addresses from the configuration (comma or space separated).
    public init(extra: String = "") {
        configured = Set(extra.split(whereSeparator: { $0 == "," || $0 == " " }).map { Self.normalized(String($0)) })
    }

    public func allows(authority: String) -> Bool {
        let host = Self.host(ofAuthority: authority)
        guard !host.isEmpty else { return false }
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" || host.hasPrefix("127.") && Self.isIPv4(host) {
            return true
        }
        return configured.contains(host) || localNames().contains(host)
    }

    /// The host part of a `Host` header, lower-cased, without the port or the IPv6 brackets.
    static func host(ofAuthority authority: String) -> String {
        var text = Substring(authority.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return "" }
            return normalized(String(text[text.index(after: text.startIndex)..<close]))
        }
        if let colon = text.lastIndex(of: ":") { text = text[..<colon] }
        return normalized(String(text))
    }

    static func normalized(_ host: String) -> String {
        var host = host.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        if host.hasPrefix("::ffff:"), isIPv4(String(host.dropFirst(7))) { host = String(host.dropFirst(7)) }
        return host
    }

    static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    private func localNames() -> Set<String> {
        local.withLock { state in
            let now = ContinuousClock.now
            if let readAt = state.readAt, now - readAt < .seconds(30) { return state.names }
            state = (Self.readLocalNames(), now)
            return state.names
        }
    }

    /// gethostname (and its `.local` mDNS name) and every interface address.
    static func readLocalNames() -> Set<String> {
        var names: Set<String> = []
        var buffer = [CChar](repeating: 0, count: 256)
        if gethostname(&buffer, buffer.count) == 0 {
            let name = normalized(String(cString: buffer))
            if !name.isEmpty {
                names.insert(name)
                let short = name.split(separator: ".").first.map(String.init) ?? name
                names.insert(short)
                names.insert(short + ".local")
            }
        }
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return names }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr else { continue }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var raw = pointer.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                }
            case AF_INET6:
                address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var raw = pointer.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                }
            default:
                continue
            }
            let name = normalized(String(cString: text))
            if !name.isEmpty { names.insert(name) }
        }
        return names
    }
}

/// What keeps other web pages from using the api through the owner's browser, and the dashboard
/// from being framed or sniffed:
/// - `Host` must be one the api answers for (`AllowedHosts`): 421 otherwise (DNS rebinding);
/// - a state-changing request (POST, PUT, DELETE, PATCH) with an `Origin` must come from the api's own
///   origin, and one with a body must send it as `application/json` — a type no page can send to
///   another site without a CORS preflight, which this api never grants (403 / 415 otherwise);
/// - every answer carries a content security policy, `frame-ancestors 'none'`, `nosniff` and no referrer.
struct BrowserSafetyMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let hosts: AllowedHosts
    /// "https" when the api serves TLS.
    let scheme: String

    static let stateChanging: Set<HTTPRequest.Method> = [.post, .put, .delete, .patch]

    /// `'self'` only: the dashboard is three files and fetch() to its own origin; no inline code.
    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
        "font-src 'self'", "manifest-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            try check(request)
            response = try await next(request, context)
        } catch let error as APIError {
            response = error.response
        }
        Self.addSecurityHeaders(to: &response.headers, tls: scheme == "https")
        return response
    }

    func check(_ request: Request) throws {
        guard let authority = request.head.authority, !authority.isEmpty else {
            throw APIError(.badRequest, "the request has no Host header")
        }
        guard hosts.allows(authority: authority) else {
            throw APIError(
                .misdirectedRequest,
                "this api doesn't answer for the host \(String(authority.prefix(100)).debugDescription); add it to AUTOTRADER_API_ALLOWED_HOSTS if it is this machine's")
        }
        let path = request.uri.path
        if path != "/api", !path.hasPrefix("/api/"), request.method != .get, request.method != .head {
            // The dashboard's files are read-only (TRACE and the like included).
            throw APIError(.methodNotAllowed, "\(request.method.rawValue) is not allowed on the dashboard's files; use GET", headers: [.allow: "GET, HEAD"])
        }
        guard Self.stateChanging.contains(request.method) else { return }
        if let origin = request.headers[.origin] {
            guard origin.lowercased() == "\(scheme)://\(authority.lowercased())" else {
                throw APIError(.forbidden, "cross-origin request refused: only the dashboard's own pages may change anything")
            }
        }
        if request.headers[.secFetchSite]?.lowercased() == "cross-site" {
            throw APIError(.forbidden, "cross-origin request refused: only the dashboard's own pages may change anything")
        }
        let hasBody = request.headers[.transferEncoding] != nil || (request.headers[.contentLength].flatMap(Int.init) ?? 0) > 0
        if hasBody, !JSONInput.isJSON(request.headers[.contentType]) {
            throw APIError(
                .unsupportedMediaType,
                "send the body as JSON (Content-Type: application/json), not \(String((request.headers[.contentType] ?? "no type").prefix(80)))")
        }
    }

    static func addSecurityHeaders(to headers: inout HTTPFields, tls: Bool) {
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xFrameOptions] = "DENY"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.referrerPolicyHeader] = "no-referrer"
        headers[.crossOriginOpenerPolicy] = "same-origin"
        headers[.crossOriginResourcePolicy] = "same-origin"
        if tls { headers[.strictTransportSecurity] = "max-age=31536000" }
    }
}

extension HTTPField.Name {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let crossOriginOpenerPolicy = HTTPField.Name("Cross-Origin-Opener-Policy")!
    static let referrerPolicyHeader = HTTPField.Name("Referrer-Policy")!
}
