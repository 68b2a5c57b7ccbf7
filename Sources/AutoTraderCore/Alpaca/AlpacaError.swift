import Foundation

/// Why a call to Alpaca (or the simulator) failed, with Alpaca's own code and message when it gave one.
public enum AlpacaError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// Alpaca answered with an error status (`code` is its 8-digit code, e.g. 40410000).
    case api(status: Int, code: Int?, message: String)
    /// Still rate-limited (HTTP 429) after waiting as the headers said, the given number of times.
    case rateLimited(attempts: Int)
    /// No answer: connection refused or reset, or the request's deadline passed.
    case transport(String)
    /// An answer that is not what Alpaca sends (undecodable body).
    case invalidResponse(String)
    /// The settings can't make a working client.
    case configuration(String)

    public var status: Int? {
        if case .api(let status, _, _) = self { return status }
        return nil
    }

    public var isNotFound: Bool { status == 404 }
    public var isUnauthorized: Bool { status == 401 || status == 403 && message.localizedCaseInsensitiveContains("not authorized") }
    /// Alpaca refuses a second order with the same client_order_id.
    public var isDuplicateClientOrderID: Bool {
        guard let status, (400..<500).contains(status) else { return false }
        return message.localizedCaseInsensitiveContains("client_order_id must be unique")
    }

    public var message: String {
        switch self {
        case .api(_, _, let message): return message
        case .rateLimited(let attempts): return "rate limited after \(attempts) attempts"
        case .transport(let reason), .invalidResponse(let reason), .configuration(let reason): return reason
        }
    }

    public var description: String {
        switch self {
        case .api(let status, let code, let message):
            return "Alpaca answered \(status)\(code.map { " (code \($0))" } ?? ""): \(message)"
        case .rateLimited(let attempts):
            return "Alpaca kept answering 429 (rate limit) after \(attempts) waits"
        case .transport(let reason):
            return "no answer from Alpaca: \(reason)"
        case .invalidResponse(let reason):
            return "unexpected answer from Alpaca: \(reason)"
        case .configuration(let reason):
            return "configuration: \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
