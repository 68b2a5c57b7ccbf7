import AutoTraderCore
import Foundation

/// One symbol the simulated exchange lists, with what its synthetic bars are scaled to.
public struct SimAsset: Sendable, Equatable {
    public let symbol: String
    public let name: String
    public let exchange: String
    /// The level the daily walk reverts to.
    public let basePrice: Double
    /// Shares a day (consolidated-like), spread over the session's minutes.
    public let dailyVolume: Double
    /// Standard deviation of a day's log return.
    public let dailyVolatility: Double
    /// Thin tickers have minutes without a bar, as on IEX.
    public let isThin: Bool
    /// Share of a thin ticker's regular-hours minutes that have no bar.
    public let missingMinuteShare: Double
    public let isActive: Bool
    public let isTradable: Bool
    public let id: String

    /// Whether fractional and notional orders are taken: every tradable asset that is not one of the thin
    /// small caps (the simulator's rule; Alpaca decides per asset, and lists most liquid US equities as
    /// fractionable). GET /v2/assets says it as `fractionable`.
    public var isFractionable: Bool { isTradable && !isThin }
}

/// The symbols the simulator lists: ~100 real US names, a few thin small caps, inactive ones, and optional synthetic ones.
public struct Universe: Sendable {
    public let assets: [SimAsset]
    private let bySymbol: [String: SimAsset]
    private let byID: [String: SimAsset]

    public init(assets: [SimAsset]) {
        self.assets = assets
        self.bySymbol = Dictionary(assets.map { ($0.symbol, $0) }, uniquingKeysWith: { first, _ in first })
        self.byID = Dictionary(assets.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// By symbol (case-insensitive, as Alpaca's asset lookup) or asset id.
    public func asset(_ symbolOrID: String) -> SimAsset? {
        bySymbol[symbolOrID.uppercased()] ?? byID[symbolOrID.lowercased()]
    }

    /// Exactly this symbol (market data is case-sensitive).
    public func asset(symbol: String) -> SimAsset? { bySymbol[symbol] }

    /// Every symbol that has bars, sorted (what a `"*"` subscription receives).
    public var symbolsWithBars: [String] { assets.filter(\.isActive).map(\.symbol).sorted() }

    /// The default listing plus `syntheticCount` synthetic symbols.
    public static func standard(syntheticCount: Int = 0) -> Universe {
        var assets: [SimAsset] = []
        for row in listed {
            let thin = thinSymbols.contains(row.symbol)
            let volatility: Double
            if thin { volatility = 0.045 } else if row.exchange == "ARCA" || etfs.contains(row.symbol) { volatility = 0.011 }
            else if volatile.contains(row.symbol) { volatility = 0.032 } else { volatility = 0.017 }
            let inactive = inactiveSymbols.contains(row.symbol)
            let missing = thin ? 0.3 + 0.2 * Double(StableHash.of(row.symbol) % 100) / 100 : 0
            assets.append(SimAsset(
                symbol: row.symbol, name: row.name, exchange: row.exchange, basePrice: row.price,
                dailyVolume: row.millions * 1_000_000, dailyVolatility: volatility, isThin: thin,
                missingMinuteShare: missing, isActive: !inactive, isTradable: !inactive,
                id: StableHash.uuid(StableHash.mix(StableHash.of("asset"), StableHash.of(row.symbol)))))
        }
        for index in 0..<syntheticCount {
            let symbol = syntheticSymbol(index)
            var random = SplitMix64(seed: StableHash.of(symbol))
            let price = (5 + 295 * random.unit() * random.unit()).rounded(toPlaces: 2)
            // Every fourth synthetic symbol is thin, so a load test sees gaps too.
            let thin = index % 4 == 3
            assets.append(SimAsset(
                symbol: symbol, name: "\(symbol) Synthetic Holdings Inc. Common Stock", exchange: index % 2 == 0 ? "NASDAQ" : "NYSE",
                basePrice: price, dailyVolume: thin ? 40_000 : 200_000 + 5_000_000 * random.unit(),
                dailyVolatility: thin ? 0.04 : 0.015 + 0.015 * random.unit(), isThin: thin,
                missingMinuteShare: thin ? 0.3 + 0.2 * random.unit() : 0, isActive: true, isTradable: true,
                id: StableHash.uuid(StableHash.mix(StableHash.of("asset"), StableHash.of(symbol)))))
        }
        return Universe(assets: assets)
    }

    /// ZZAAA, ZZAAB, … ZZZZZ: letters only, so every ticker validator accepts them, and "ZZ" keeps them apart from real names.
    public static func syntheticSymbol(_ index: Int) -> String {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return "ZZ" + String(letters[index / 676 % 26]) + String(letters[index / 26 % 26]) + String(letters[index % 26])
    }

    static let thinSymbols: Set<String> = ["AEHR", "GEVO", "SENS", "OCGN", "UAMY", "CLOV", "LODE"]
    static let inactiveSymbols: Set<String> = ["TWTR", "FRC"]
    static let etfs: Set<String> = ["QQQ"]
    static let volatile: Set<String> = ["TSLA", "NVDA", "AMD", "COIN", "PLTR", "MRVL", "SHOP", "SNOW", "CRWD", "UBER", "MU"]

    /// Symbol, name, listing exchange, a mid-2024-like price, and average daily volume in millions of shares.
    static let listed: [(symbol: String, name: String, exchange: String, price: Double, millions: Double)] = [
        ("AAPL", "Apple Inc. Common Stock", "NASDAQ", 190.0, 55),
        ("MSFT", "Microsoft Corporation Common Stock", "NASDAQ", 420.0, 20),
        ("NVDA", "NVIDIA Corporation Common Stock", "NASDAQ", 120.0, 300),
        ("AMZN", "Amazon.com, Inc. Common Stock", "NASDAQ", 180.0, 40),
        ("GOOGL", "Alphabet Inc. Class A Common Stock", "NASDAQ", 175.0, 25),
        ("GOOG", "Alphabet Inc. Class C Capital Stock", "NASDAQ", 176.0, 18),
        ("META", "Meta Platforms, Inc. Class A Common Stock", "NASDAQ", 480.0, 14),
        ("TSLA", "Tesla, Inc. Common Stock", "NASDAQ", 180.0, 90),
        ("BRK.B", "Berkshire Hathaway Inc. Class B Common Stock", "NYSE", 410.0, 3.5),
        ("JPM", "JPMorgan Chase & Co. Common Stock", "NYSE", 195.0, 9),
        ("V", "Visa Inc. Class A Common Stock", "NYSE", 275.0, 6),
        ("MA", "Mastercard Incorporated Class A Common Stock", "NYSE", 450.0, 2.6),
        ("UNH", "UnitedHealth Group Incorporated Common Stock", "NYSE", 490.0, 3.5),
        ("JNJ", "Johnson & Johnson Common Stock", "NYSE", 147.0, 7),
        ("XOM", "Exxon Mobil Corporation Common Stock", "NYSE", 112.0, 16),
        ("PG", "Procter & Gamble Company (The) Common Stock", "NYSE", 166.0, 6.5),
        ("HD", "Home Depot, Inc. (The) Common Stock", "NYSE", 335.0, 3.5),
        ("CVX", "Chevron Corporation Common Stock", "NYSE", 155.0, 7.5),
        ("MRK", "Merck & Company, Inc. Common Stock", "NYSE", 128.0, 8),
        ("ABBV", "AbbVie Inc. Common Stock", "NYSE", 165.0, 5.5),
        ("KO", "Coca-Cola Company (The) Common Stock", "NYSE", 63.0, 13),
        ("PEP", "PepsiCo, Inc. Common Stock", "NASDAQ", 170.0, 5.5),
        ("BAC", "Bank of America Corporation Common Stock", "NYSE", 39.0, 38),
        ("PFE", "Pfizer, Inc. Common Stock", "NYSE", 28.0, 38),
        ("WMT", "Walmart Inc. Common Stock", "NYSE", 65.0, 17),
        ("COST", "Costco Wholesale Corporation Common Stock", "NASDAQ", 820.0, 2),
        ("DIS", "Walt Disney Company (The) Common Stock", "NYSE", 100.0, 9),
        ("MCD", "McDonald's Corporation Common Stock", "NYSE", 255.0, 3.5),
        ("CSCO", "Cisco Systems, Inc. Common Stock", "NASDAQ", 47.0, 18),
        ("ADBE", "Adobe Inc. Common Stock", "NASDAQ", 480.0, 3.5),
        ("CRM", "Salesforce, Inc. Common Stock", "NYSE", 235.0, 6.5),
        ("ORCL", "Oracle Corporation Common Stock", "NYSE", 125.0, 8),
        ("NFLX", "Netflix, Inc. Common Stock", "NASDAQ", 640.0, 3.5),
        ("AMD", "Advanced Micro Devices, Inc. Common Stock", "NASDAQ", 160.0, 55),
        ("INTC", "Intel Corporation Common Stock", "NASDAQ", 30.0, 45),
        ("QCOM", "QUALCOMM Incorporated Common Stock", "NASDAQ", 200.0, 8),
        ("TXN", "Texas Instruments Incorporated Common Stock", "NASDAQ", 195.0, 5.5),
        ("AMGN", "Amgen Inc. Common Stock", "NASDAQ", 300.0, 2.6),
        ("INTU", "Intuit Inc. Common Stock", "NASDAQ", 600.0, 1.6),
        ("AMAT", "Applied Materials, Inc. Common Stock", "NASDAQ", 220.0, 6.5),
        ("SBUX", "Starbucks Corporation Common Stock", "NASDAQ", 80.0, 9),
        ("ISRG", "Intuitive Surgical, Inc. Common Stock", "NASDAQ", 420.0, 1.5),
        ("MU", "Micron Technology, Inc. Common Stock", "NASDAQ", 130.0, 20),
        ("BKNG", "Booking Holdings Inc. Common Stock", "NASDAQ", 3800.0, 0.3),
        ("ADP", "Automatic Data Processing, Inc. Common Stock", "NASDAQ", 240.0, 1.8),
        ("GILD", "Gilead Sciences, Inc. Common Stock", "NASDAQ", 65.0, 7),
        ("MDLZ", "Mondelez International, Inc. Class A Common Stock", "NASDAQ", 68.0, 7),
        ("PYPL", "PayPal Holdings, Inc. Common Stock", "NASDAQ", 62.0, 15),
        ("REGN", "Regeneron Pharmaceuticals, Inc. Common Stock", "NASDAQ", 1000.0, 0.6),
        ("VRTX", "Vertex Pharmaceuticals Incorporated Common Stock", "NASDAQ", 470.0, 1.2),
        ("LRCX", "Lam Research Corporation Common Stock", "NASDAQ", 950.0, 1),
        ("PANW", "Palo Alto Networks, Inc. Common Stock", "NASDAQ", 320.0, 4),
        ("MRVL", "Marvell Technology, Inc. Common Stock", "NASDAQ", 70.0, 12),
        ("ABNB", "Airbnb, Inc. Class A Common Stock", "NASDAQ", 150.0, 4.5),
        ("CMCSA", "Comcast Corporation Class A Common Stock", "NASDAQ", 39.0, 20),
        ("TMUS", "T-Mobile US, Inc. Common Stock", "NASDAQ", 175.0, 4),
        ("ASML", "ASML Holding N.V. New York Registry Shares", "NASDAQ", 1000.0, 1.2),
        ("SNPS", "Synopsys, Inc. Common Stock", "NASDAQ", 590.0, 1),
        ("CDNS", "Cadence Design Systems, Inc. Common Stock", "NASDAQ", 300.0, 1.8),
        ("CRWD", "CrowdStrike Holdings, Inc. Class A Common Stock", "NASDAQ", 380.0, 4),
        ("MAR", "Marriott International Class A Common Stock", "NASDAQ", 230.0, 1.5),
        ("HON", "Honeywell International Inc. Common Stock", "NASDAQ", 200.0, 3),
        ("COIN", "Coinbase Global, Inc. Class A Common Stock", "NASDAQ", 230.0, 9),
        ("ACN", "Accenture plc Class A Ordinary Shares", "NYSE", 300.0, 3),
        ("TMO", "Thermo Fisher Scientific Inc Common Stock", "NYSE", 570.0, 1.5),
        ("ABT", "Abbott Laboratories Common Stock", "NYSE", 104.0, 5.5),
        ("LLY", "Eli Lilly and Company Common Stock", "NYSE", 800.0, 3),
        ("NKE", "Nike, Inc. Common Stock", "NYSE", 94.0, 10),
        ("WFC", "Wells Fargo & Company Common Stock", "NYSE", 58.0, 17),
        ("T", "AT&T Inc. Common Stock", "NYSE", 18.0, 35),
        ("VZ", "Verizon Communications Inc. Common Stock", "NYSE", 40.0, 18),
        ("IBM", "International Business Machines Corporation Common Stock", "NYSE", 170.0, 4.5),
        ("GE", "GE Aerospace Common Stock", "NYSE", 160.0, 6),
        ("CAT", "Caterpillar, Inc. Common Stock", "NYSE", 330.0, 2.6),
        ("BA", "Boeing Company (The) Common Stock", "NYSE", 180.0, 7),
        ("GS", "Goldman Sachs Group, Inc. (The) Common Stock", "NYSE", 460.0, 2.2),
        ("MS", "Morgan Stanley Common Stock", "NYSE", 97.0, 7.5),
        ("C", "Citigroup, Inc. Common Stock", "NYSE", 62.0, 14),
        ("UPS", "United Parcel Service, Inc. Class B Common Stock", "NYSE", 140.0, 4),
        ("LOW", "Lowe's Companies, Inc. Common Stock", "NYSE", 220.0, 3),
        ("UNP", "Union Pacific Corporation Common Stock", "NYSE", 225.0, 3),
        ("DE", "Deere & Company Common Stock", "NYSE", 375.0, 1.5),
        ("SPGI", "S&P Global Inc. Common Stock", "NYSE", 430.0, 1.3),
        ("BLK", "BlackRock, Inc. Common Stock", "NYSE", 780.0, 0.7),
        ("NEE", "NextEra Energy, Inc. Common Stock", "NYSE", 75.0, 10),
        ("PM", "Philip Morris International Inc Common Stock", "NYSE", 100.0, 5),
        ("RTX", "RTX Corporation Common Stock", "NYSE", 105.0, 5),
        ("LMT", "Lockheed Martin Corporation Common Stock", "NYSE", 465.0, 1.2),
        ("MMM", "3M Company Common Stock", "NYSE", 100.0, 4),
        ("F", "Ford Motor Company Common Stock", "NYSE", 12.0, 55),
        ("GM", "General Motors Company Common Stock", "NYSE", 46.0, 13),
        ("UBER", "Uber Technologies, Inc. Common Stock", "NYSE", 70.0, 18),
        ("SHOP", "Shopify Inc. Class A Subordinate Voting Shares", "NYSE", 62.0, 10),
        ("SNOW", "Snowflake Inc. Class A Common Stock", "NYSE", 135.0, 6),
        ("PLTR", "Palantir Technologies Inc. Class A Common Stock", "NYSE", 22.0, 45),
        ("SPY", "SPDR S&P 500 ETF Trust", "ARCA", 530.0, 60),
        ("QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ", 450.0, 35),
        ("IWM", "iShares Russell 2000 ETF", "ARCA", 205.0, 28),
        ("DIA", "SPDR Dow Jones Industrial Average ETF Trust", "ARCA", 385.0, 3),
        ("VOO", "Vanguard S&P 500 ETF", "ARCA", 490.0, 5),
        ("XLF", "Financial Select Sector SPDR Fund", "ARCA", 41.0, 35),
        ("XLE", "Energy Select Sector SPDR Fund", "ARCA", 92.0, 15),
        ("GLD", "SPDR Gold Shares", "ARCA", 215.0, 7),
        ("TLT", "iShares 20+ Year Treasury Bond ETF", "NASDAQ", 92.0, 35),
        // Thin small caps: many minutes without a bar.
        ("AEHR", "Aehr Test Systems Common Stock", "NASDAQ", 12.0, 0.02),
        ("GEVO", "Gevo, Inc. Common Stock", "NASDAQ", 0.62, 0.05),
        ("SENS", "Senseonics Holdings, Inc. Common Stock", "AMEX", 0.41, 0.05),
        ("OCGN", "Ocugen, Inc. Common Stock", "NASDAQ", 1.55, 0.06),
        ("UAMY", "United States Antimony Corporation Common Stock", "AMEX", 0.31, 0.02),
        ("CLOV", "Clover Health Investments, Corp. Class A Common Stock", "NASDAQ", 1.2, 0.08),
        ("LODE", "Comstock Inc. Common Stock", "AMEX", 0.45, 0.02),
        // No longer listed: for "unknown or not tradable" tests.
        ("TWTR", "Twitter, Inc. Common Stock", "NYSE", 53.7, 0),
        ("FRC", "First Republic Bank Common Stock", "NYSE", 3.5, 0),
    ]
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = Foundation.pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
