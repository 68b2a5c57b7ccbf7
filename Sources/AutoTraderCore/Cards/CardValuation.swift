import Foundation

/// The card arithmetic of DESIGN.md §3, exact in `Decimal`:
///
///     shares          = Σ buy shares − Σ sell shares
///     invested        = Σ buy shares×price − Σ sell shares×price
///     uninvested_cash = initial_capital − invested
///     current_value   = shares × current_price + uninvested_cash
///     pnl             = current_value − initial_capital
///
/// With no bar yet for the ticker, held shares are marked at the last trade's
/// price (the best price known) and `currentPrice` stays nil so the card can say so.
public struct CardValuation: Hashable, Sendable {
    public let initialCapital: Decimal
    public let position: Position
    /// The latest bar close, if stocks.db has one.
    public let currentPrice: Decimal?

    public init(initialCapital: Decimal, position: Position, currentPrice: Decimal?) {
        self.initialCapital = initialCapital
        self.position = position
        self.currentPrice = currentPrice
    }

    public var shares: Int { position.shares }
    public var tradeCount: Int { position.tradeCount }
    public var invested: Decimal { position.invested }
    public var uninvestedCash: Decimal { initialCapital - position.invested }

    /// The price the held shares are valued at.
    public var markPrice: Decimal { currentPrice ?? position.lastTradePrice ?? 0 }

    public var currentValue: Decimal { Decimal(position.shares) * markPrice + uninvestedCash }
    public var pnl: Decimal { currentValue - initialCapital }

    /// P&L as a percentage of the allocation, to two decimals.
    public var pnlPercent: Decimal {
        initialCapital == 0 ? 0 : Money.rounded(pnl / initialCapital * 100, scale: 2)
    }
}

/// What the api, the CLI's `--json` and the dashboard show for one algorithm:
/// its row plus the calculated fields, money rounded to cents half-up.
public struct Card: Hashable, Sendable {
    public let algorithm: AlgorithmInstance
    public let valuation: CardValuation
    /// The newest of the last transaction's and the latest bar's time.
    public let lastUpdate: Timestamp?
    /// A "sell everything, then stop" request is waiting for the executor.
    public let stopping: Bool
    /// The minute of the ticker's newest bar (nil: none yet).
    public let latestBarTime: Timestamp?

    public init(algorithm: AlgorithmInstance, valuation: CardValuation, latestBarTime: Timestamp?, stopping: Bool = false) {
        self.algorithm = algorithm
        self.valuation = valuation
        self.stopping = stopping
        self.latestBarTime = latestBarTime
        self.lastUpdate = [valuation.position.lastTradeAt, latestBarTime].compactMap { $0 }.max()
    }
}

extension Card: Encodable {
    enum CodingKeys: String, CodingKey {
        case currentShares = "current_shares", tradeCount = "trade_count", currentValue = "current_value"
        case pnl, pnlPercent = "pnl_percent", currentPrice = "current_price", lastUpdate = "last_update"
        case invested, uninvestedCash = "uninvested_cash", stopping
    }

    public func encode(to encoder: any Encoder) throws {
        try algorithm.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(valuation.shares, forKey: .currentShares)
        try container.encode(valuation.tradeCount, forKey: .tradeCount)
        try container.encode(Money.rounded(valuation.currentValue), forKey: .currentValue)
        try container.encode(Money.rounded(valuation.pnl), forKey: .pnl)
        try container.encode(valuation.pnlPercent, forKey: .pnlPercent)
        try container.encode(valuation.currentPrice, forKey: .currentPrice)
        try container.encode(lastUpdate, forKey: .lastUpdate)
        try container.encode(Money.rounded(valuation.invested), forKey: .invested)
        try container.encode(Money.rounded(valuation.uninvestedCash), forKey: .uninvestedCash)
        try container.encode(stopping, forKey: .stopping)
    }
}

/// Builds cards from both databases: transactions from system.db, prices from stocks.db.
public struct CardReader: Sendable {
    public let system: SystemDatabase
    public let stocks: StocksDatabase

    public init(system: SystemDatabase, stocks: StocksDatabase) {
        self.system = system
        self.stocks = stocks
    }

    public func card(id: Int64) throws -> Card {
        let (algorithm, position, stopping) = try system.cardState(id: id)
        return try card(algorithm: algorithm, position: position, stopping: stopping)
    }

    /// The cards of all algorithms with a status (running by default), oldest first.
    public func cards(status: AlgorithmStatus? = .running) throws -> [Card] {
        let (rows, stopping) = try system.cardStates(status: status)
        var latest: [String: LatestPrice] = [:]
        return try rows.map { algorithm, position in
            if latest[algorithm.ticker] == nil, let price = try stocks.latestPrice(ticker: algorithm.ticker) {
                latest[algorithm.ticker] = price
            }
            let price = latest[algorithm.ticker]
            return Card(
                algorithm: algorithm,
                valuation: CardValuation(initialCapital: algorithm.initialCapital, position: position, currentPrice: price?.close),
                latestBarTime: price?.timestamp, stopping: stopping.contains(algorithm.id))
        }
    }

    private func card(algorithm: AlgorithmInstance, position: Position, stopping: Bool) throws -> Card {
        let price = try stocks.latestPrice(ticker: algorithm.ticker)
        return Card(
            algorithm: algorithm,
            valuation: CardValuation(initialCapital: algorithm.initialCapital, position: position, currentPrice: price?.close),
            latestBarTime: price?.timestamp, stopping: stopping)
    }
}
