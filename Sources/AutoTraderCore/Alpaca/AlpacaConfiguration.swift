import Foundation

/// Whose money AutoTrader trades: Alpaca live, Alpaca paper, or the local simulator.
public enum TradingMode: String, Sendable, Codable {
    case live, paper, simulated
}

/// Where and how to reach Alpaca (or `autotrader-sim`), resolved from the settings of DESIGN.md §8.
///
/// No keys configured means simulated mode against the local simulator. The secret
/// is held here and sent in headers, and never printed: `description` redacts it.
public struct AlpacaConfiguration: Sendable, CustomStringConvertible {
    public var mode: TradingMode
    public var keyID: String
    public var secretKey: String
    /// `iex` (free plan) or `sip`.
    public var feed: String
    public var tradingURL: URL
    public var dataURL: URL
    /// The full stream URL, feed included (`wss://stream.data.alpaca.markets/v2/iex`).
    public var streamURL: URL
    /// A single HTTP request's deadline.
    public var requestTimeout: Duration

    public init(
        mode: TradingMode, keyID: String, secretKey: String, feed: String = "iex", tradingURL: URL, dataURL: URL,
        streamURL: URL, requestTimeout: Duration = .seconds(10)
    ) {
        self.mode = mode
        self.keyID = keyID
        self.secretKey = secretKey
        self.feed = feed
        self.tradingURL = tradingURL
        self.dataURL = dataURL
        self.streamURL = streamURL
        self.requestTimeout = requestTimeout
    }

    /// The simulator at `baseURL` (http://host:port), with its key pair.
    public static func simulator(
        baseURL: URL = URL(string: "http://\(SimulatorDefaults.host):\(SimulatorDefaults.port)")!,
        keyID: String = SimulatorDefaults.keyID, secretKey: String = SimulatorDefaults.secretKey, feed: String = "iex"
    ) -> AlpacaConfiguration {
        AlpacaConfiguration(
            mode: .simulated, keyID: keyID, secretKey: secretKey, feed: feed, tradingURL: baseURL, dataURL: baseURL,
            streamURL: streamURL(base: baseURL, feed: feed))
    }

    /// Reads the Alpaca keys, mode, feed and URL overrides; any malformed value is an error naming the key.
    public static func resolve(_ settings: Settings) throws -> AlpacaConfiguration {
        let values = settings.values.filter { !$0.value.isEmpty }
        let key = values["ALPACA_API_KEY"] ?? values["APCA_API_KEY_ID"]
        let secret = values["ALPACA_SECRET"] ?? values["APCA_API_SECRET_KEY"]
        let feed = (values["ALPACA_FEED"] ?? "iex").lowercased()
        guard ["iex", "sip"].contains(feed) else {
            throw AlpacaError.configuration("ALPACA_FEED must be iex or sip, not \(feed.debugDescription)")
        }
        var paper = true
        if let text = values["ALPACA_PAPER"] {
            switch text.lowercased() {
            case "true", "1", "yes", "on": paper = true
            case "false", "0", "no", "off": paper = false
            default: throw AlpacaError.configuration("ALPACA_PAPER must be true or false, not \(text.debugDescription)")
            }
        }
        var configuration: AlpacaConfiguration
        switch (key, secret) {
        case (nil, nil):
            let base = try url(values["AUTOTRADER_SIM_URL"], name: "AUTOTRADER_SIM_URL")
                ?? URL(string: "http://\(SimulatorDefaults.host):\(SimulatorDefaults.port)")!
            configuration = .simulator(
                baseURL: base, keyID: values["AUTOTRADER_SIM_KEY_ID"] ?? SimulatorDefaults.keyID,
                secretKey: values["AUTOTRADER_SIM_SECRET_KEY"] ?? SimulatorDefaults.secretKey, feed: feed)
        case (let key?, let secret?):
            configuration = AlpacaConfiguration(
                mode: paper ? .paper : .live, keyID: key, secretKey: secret, feed: feed,
                tradingURL: URL(string: paper ? "https://paper-api.alpaca.markets" : "https://api.alpaca.markets")!,
                dataURL: URL(string: "https://data.alpaca.markets")!,
                streamURL: URL(string: "wss://stream.data.alpaca.markets/v2/\(feed)")!)
        case (nil, _?):
            throw AlpacaError.configuration("ALPACA_SECRET is set but ALPACA_API_KEY is not: set both, or neither for simulated mode")
        case (_?, nil):
            throw AlpacaError.configuration("ALPACA_API_KEY is set but ALPACA_SECRET is not: set both, or neither for simulated mode")
        }
        if let trading = try url(values["ALPACA_TRADING_URL"], name: "ALPACA_TRADING_URL") { configuration.tradingURL = trading }
        if let data = try url(values["ALPACA_DATA_URL"], name: "ALPACA_DATA_URL") { configuration.dataURL = data }
        if let stream = try url(values["ALPACA_STREAM_URL"], name: "ALPACA_STREAM_URL", schemes: ["ws", "wss", "http", "https"]) {
            configuration.streamURL = streamURL(base: stream, feed: feed)
        }
        return configuration
    }

    /// A stream base gets `/v2/{feed}` unless it already names a path.
    static func streamURL(base: URL, feed: String) -> URL {
        var components = URLComponents(url: base, resolvingAgainstBaseURL: false)!
        if components.scheme == "http" { components.scheme = "ws" }
        if components.scheme == "https" { components.scheme = "wss" }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if path.isEmpty { components.path = "/v2/\(feed)" } else if path == "v2" { components.path = "/v2/\(feed)" }
        return components.url!
    }

    private static func url(_ text: String?, name: String, schemes: Set<String> = ["http", "https"]) throws -> URL? {
        guard let text else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), schemes.contains(scheme), url.host != nil else {
            throw AlpacaError.configuration("\(name) must be a URL like \(schemes.contains("wss") ? "wss" : "https")://host[:port], not \(text.debugDescription)")
        }
        return url
    }

    public var description: String {
        "mode=\(mode.rawValue) feed=\(feed) trading=\(tradingURL.absoluteString) data=\(dataURL.absoluteString) stream=\(streamURL.absoluteString) key=\(keyID.prefix(4))… secret=<redacted>"
    }
}
