import Foundation

/// Where notifications go (`AUTOTRADER_NOTIFY_URL`) and in which form (`AUTOTRADER_NOTIFY_FORMAT`).
///
/// Credentials in the URL's userinfo become an `Authorization` header and are never shown: `user:password@`
/// is HTTP Basic, `:token@` (empty user) is a Bearer token (ntfy's `tk_…` access tokens). The query is sent as
/// it is (ntfy's `?auth=…`) but never shown either, nor the topic in full (on ntfy the topic is the password).
public struct NotifyTarget: Sendable, Equatable {
    /// ntfy: the message as plain text with ntfy's Title, Priority and Tags headers. json: one JSON object.
    public enum Format: String, Sendable, CaseIterable {
        case ntfy, json
    }

    /// The URL to POST to, without its userinfo.
    public let url: URL
    public let format: Format
    /// The `Authorization` header value the userinfo gave (never printed).
    let authorization: String?
    /// The URL as it may be shown: no userinfo, no query, the last path segment cut to its first 3 characters.
    public let redacted: String

    public static let urlKey = "AUTOTRADER_NOTIFY_URL"
    public static let formatKey = "AUTOTRADER_NOTIFY_FORMAT"

    /// The configured target, nil when `AUTOTRADER_NOTIFY_URL` is unset or empty (no notifications).
    public static func configured(_ settings: Settings) throws -> NotifyTarget? {
        guard let text = settings.values[urlKey]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        return try NotifyTarget(text, format: settings.values[formatKey])
    }

    /// Parses and checks the URL: http or https, a host, no fragment. `format` nil or empty picks ntfy for a
    /// host named like ntfy (ntfy.sh, ntfy.example.org …), else json.
    public init(_ text: String, format: String? = nil) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw NotifyConfigurationError("\(Self.urlKey) is not a URL (expected http(s)://host/path)")
        }
        guard scheme == "http" || scheme == "https" else {
            throw NotifyConfigurationError("\(Self.urlKey) must be http:// or https://, not \(scheme)://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw NotifyConfigurationError("\(Self.urlKey) has no host")
        }
        guard components.fragment == nil else { throw NotifyConfigurationError("\(Self.urlKey) must not have a #fragment") }
        var bare = components
        bare.user = nil
        bare.password = nil
        guard let url = bare.url else { throw NotifyConfigurationError("\(Self.urlKey) is not a usable URL") }
        let user = components.user.flatMap { $0.removingPercentEncoding } ?? ""
        let password = components.password.flatMap { $0.removingPercentEncoding } ?? ""
        if components.user == nil && components.password == nil {
            authorization = nil
        } else if user.isEmpty && !password.isEmpty {
            authorization = "Bearer \(password)"
        } else {
            authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        }
        let chosen: Format
        if let format = format?.trimmingCharacters(in: .whitespaces).lowercased(), !format.isEmpty {
            guard let value = Format(rawValue: format) else {
                throw NotifyConfigurationError("\(Self.formatKey) must be ntfy or json, not \(format.debugDescription)")
            }
            chosen = value
        } else {
            chosen = host.lowercased().contains("ntfy") ? .ntfy : .json
        }
        self.url = url
        self.format = chosen
        self.redacted = Self.redact(components)
    }

    static func redact(_ components: URLComponents) -> String {
        var text = "\(components.scheme ?? "")://"
        if components.user != nil || components.password != nil { text += "***@" }
        text += components.host ?? ""
        if let port = components.port { text += ":\(port)" }
        var segments = components.path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if let last = segments.last, !last.isEmpty {
            segments[segments.count - 1] = last.count > 3 ? String(last.prefix(3)) + "…" : "…"
        }
        text += segments.joined(separator: "/")
        if components.query != nil { text += "?…" }
        return text
    }
}

/// A notification setting that can't be used; says which and why, never the URL's secrets.
public struct NotifyConfigurationError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}

/// One HTTP request that delivers a notification: always a POST.
public struct NotificationRequest: Sendable {
    public let url: URL
    public let headers: [(name: String, value: String)]
    public let body: Data

    /// The header every message carries, in both formats: receivers deduplicate by it.
    public static let eventIDHeader = "X-AutoTrader-Event-ID"

    /// The request for `notification` in the target's format.
    public init(_ notification: OwnerNotification, target: NotifyTarget) {
        url = target.url
        var headers: [(String, String)] = [
            (Self.eventIDHeader, notification.eventID), ("X-AutoTrader-Kind", notification.kind.rawValue),
            ("User-Agent", "AutoTrader"),
        ]
        if let authorization = target.authorization { headers.append(("Authorization", authorization)) }
        switch target.format {
        case .ntfy:
            // ntfy reads the title, priority (1–5) and tags from headers; header values must stay ASCII.
            headers += [
                ("Content-Type", "text/plain; charset=utf-8"), ("Title", Self.ascii(notification.title)),
                ("Priority", "\(notification.priority)"),
            ]
            if !notification.tags.isEmpty { headers.append(("Tags", Self.ascii(notification.tags.joined(separator: ",")))) }
            body = Data(notification.body.utf8)
        case .json:
            headers.append(("Content-Type", "application/json"))
            let object: [String: Any] = [
                "event_id": notification.eventID, "kind": notification.kind.rawValue, "title": notification.title,
                "message": notification.body, "priority": notification.priority, "tags": notification.tags,
                "created_at": notification.createdAt.text, "data": notification.data,
            ]
            body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        }
        self.headers = headers
    }

    static func ascii(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value != 0x7F ? Character($0) : "?" })
    }
}
