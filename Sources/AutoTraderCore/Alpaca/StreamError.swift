import Foundation

/// An error message from Alpaca's stream, with what a client should do about it.
///
/// The reactions follow what Alpaca documents and its SDKs do: bad credentials or a
/// feed outside the plan won't fix themselves (retry only rarely, loudly); "connection
/// limit exceeded" means another session still holds the account's one connection
/// (back off for seconds while it is released); the rest are cured by reconnecting.
public struct StreamError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reaction: Equatable, Sendable {
        /// Log it and carry on with this connection.
        case keepGoing
        /// Drop the connection and reconnect with the usual backoff.
        case reconnect
        /// Reconnect only after a long pause: the server is refusing us for now.
        case backOff
        /// Retrying won't help until someone changes the configuration; retry only at the slowest pace.
        case stop
    }

    public let code: Int
    public let message: String

    public var reaction: Reaction {
        switch code {
        case 402, 408, 409, 411: return .stop           // auth failed, v2 not enabled, insufficient subscription/scope
        case 406: return .backOff                       // connection limit exceeded
        case 403, 405, 410: return .keepGoing           // already authenticated, symbol limit (old set kept), invalid action
        default: return .reconnect                      // 400, 401, 404 auth timeout, 407 slow client, 500 …
        }
    }

    /// A line for the log that says what happened and what AutoTrader does next.
    public var description: String {
        let advice: String
        switch code {
        case 402: advice = "check ALPACA_API_KEY / ALPACA_SECRET (and that paper keys are not used for live)"
        case 406: advice = "another connection already uses this account's one data stream; waiting for it to close"
        case 409: advice = "the data plan does not include this feed; set ALPACA_FEED=iex for the free plan"
        case 405: advice = "the plan's symbol limit was reached; the earlier subscription stays"
        case 408: advice = "market data v2 is not enabled for this account"
        case 411: advice = "the token lacks the market-data scope"
        default: advice = reaction == .reconnect ? "reconnecting" : "continuing"
        }
        return "stream error \(code) \(message.debugDescription): \(advice)"
    }
}

extension StreamError {
    /// The stream's `{"T":"error"}` frame as an error (nil for any other frame).
    public init?(_ message: StreamMessage) {
        guard case .error(let code, let text) = message else { return nil }
        self.init(code: code, message: text)
    }
}
