/// Where `autotrader-sim` listens and which key pair it accepts when nothing else is configured.
/// Simulated mode (no Alpaca keys) points the client here.
public enum SimulatorDefaults {
    public static let host = "127.0.0.1"
    public static let port = 5090
    /// Not secrets: the simulator holds no money. Real Alpaca keys never look like these.
    public static let keyID = "AUTOTRADER-SIM-KEY"
    public static let secretKey = "autotrader-sim-secret"
}
