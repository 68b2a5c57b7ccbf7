import Logging
import WSClient

/// What both of Alpaca's stream clients (`AlpacaBarStream`, `AlpacaTradeUpdatesStream`) keep for every
/// connection they open: the account (keys and URLs), their logger, the reconnection pacing and the keep-alive
/// ping, and the one WebSocket configuration built from them, so the two clients can't drift apart on it.
struct StreamClientSettings: Sendable {
    let configuration: AlpacaConfiguration
    let logger: Logger
    let backoff: ReconnectBackoff
    let pingInterval: Duration

    /// Frames up to 4 MiB, a ping every `pingInterval` (so a silent dead peer is noticed), and at most 5 s for a
    /// polite close before the socket is dropped.
    var webSocket: WebSocketClientConfiguration {
        var webSocket = WebSocketClientConfiguration(maxFrameSize: 1 << 22, autoPing: .enabled(timePeriod: pingInterval))
        webSocket.closeTimeout = .seconds(5)
        return webSocket
    }
}
