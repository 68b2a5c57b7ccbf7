import Foundation

/// A trading algorithm: a pure decision from what it is given to buy N, sell N or hold.
///
/// It keeps no state between runs (the transaction history is its memory) and cannot reach
/// the broker or the databases: it sees only its `AlgorithmInput`. The executor enforces the
/// guards whatever it answers. One conforming type per file in `algorithm/`; the file's name
/// is the algorithm's name and the type's name is that name in UpperCamelCase.
public protocol TradingAlgorithm: Sendable {
    /// One line for people choosing an algorithm (the api's available algorithms).
    static var summary: String { get }
    /// How many minute bars before now it needs; the executor passes at most this many.
    static var barsNeeded: Int { get }

    init()

    func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision
}

/// Everything an algorithm may know when it decides.
public struct AlgorithmInput: Sendable {
    public let ticker: String
    public let initialCapital: Decimal
    /// The latest bars, oldest first, at most `barsNeeded` (fewer early in a ticker's history): a window
    /// over one buffer, so a backtest hands each minute its bars without copying them.
    // Settable inside the module: a backtest keeps one input and moves it from minute to minute (no
    // references taken and dropped for every minute); an algorithm only reads it.
    public internal(set) var bars: BarWindow
    /// The card's whole transaction history, oldest first.
    public internal(set) var transactions: [Trade]
    /// The minute being decided (the newest bar's minute).
    public internal(set) var now: Timestamp

    public init(ticker: String, initialCapital: Decimal, bars: [MinuteBar], transactions: [Trade], now: Timestamp) {
        self.init(ticker: ticker, initialCapital: initialCapital, window: BarWindow(bars), transactions: transactions, now: now)
    }

    /// `held`, when given, is what `transactions` add up to (shares, and the uninvested cash as a `Decimal`
    /// and in micro-dollars, the same amount, for sizing a buy without a `Decimal` division), kept by a
    /// caller that follows the history as it grows: a backtest with thousands of fills would otherwise sum
    /// it every minute.
    public init(
        ticker: String, initialCapital: Decimal, window: BarWindow, transactions: [Trade], now: Timestamp,
        held: (shares: Int, cash: Decimal, cashMicros: Int64)? = nil
    ) {
        self.ticker = ticker
        self.initialCapital = initialCapital
        self.bars = window
        self.transactions = transactions
        self.now = now
        self.held = held
    }

    var held: (shares: Int, cash: Decimal, cashMicros: Int64)?

    /// Closes as `Double`, oldest first: what the indicators take (a copy; `bars.withCloses` reads them in place).
    public var closes: [Double] { bars.withCloses { Array($0) } }

    /// The latest close: the price a decision is sized at.
    public var lastPrice: Decimal? { bars.lastClose.map { Money.exactDecimal(fromStored: $0) } }

    public var sharesHeld: Int {
        if let held { return held.shares }
        return transactions.reduce(0) { $0 + ($1.side == .buy ? $1.shares : -$1.shares) }
    }

    /// initial_capital − (Σ buys − Σ sells), exactly.
    public var uninvestedCash: Decimal {
        if let held { return held.cash }
        return transactions.reduce(initialCapital) { cash, trade in
            let amount = Decimal(trade.shares) * trade.price
            return trade.side == .buy ? cash - amount : cash + amount
        }
    }

    /// Whole shares the uninvested cash buys at the latest close, keeping `cushion` (0.5 %) back:
    /// a market order fills at the next price, not this one, and the card must not overspend.
    public func affordableShares(cushion: Decimal = OrderGuards.cushion) -> Int {
        if let held, let close = bars.lastClose, cushion == OrderGuards.cushion,
            let shares = Self.wholeShares(cashMicros: held.cashMicros, priceMicros: Int64((close * Double(Money.microsPerDollar)).rounded()))
        {
            return shares
        }
        guard let price = lastPrice, price > 0, uninvestedCash > 0 else { return 0 }
        var quotient = uninvestedCash / (price * (1 + cushion))
        var whole = Decimal()
        NSDecimalRound(&whole, &quotient, 0, .down)
        return NSDecimalNumber(decimal: whole).intValue
    }

    /// `affordableShares()` in integers (nil past their range): ⌊cash / (price × 1.005)⌋ = ⌊cash × 1000 /
    /// (price × 1005)⌋, exactly. The `Decimal` quotient's 38 digits can't cross a whole number that the exact
    /// one doesn't reach (its distance from one is at least 1 / (price × 1005)), so both give the same shares.
    static func wholeShares(cashMicros: Int64, priceMicros: Int64) -> Int? {
        guard priceMicros > 0, cashMicros > 0 else { return 0 }
        let (numerator, over1) = cashMicros.multipliedReportingOverflow(by: 1000)
        let (denominator, over2) = priceMicros.multipliedReportingOverflow(by: 1005)
        guard !over1, !over2 else { return nil }
        return Int(numerator / denominator)
    }

    /// The shares still held, as lots bought (first in, first out): what a lot-tracking algorithm needs.
    public var openLots: [Lot] {
        var lots: [Lot] = []
        for trade in transactions {
            if trade.side == .buy {
                lots.append(Lot(shares: trade.shares, price: trade.price, boughtAt: trade.timestamp))
                continue
            }
            var toSell = trade.shares
            while toSell > 0, !lots.isEmpty {
                let taken = min(toSell, lots[0].shares)
                toSell -= taken
                if taken == lots[0].shares { lots.removeFirst() } else { lots[0].shares -= taken }
            }
        }
        return lots
    }

    /// Shares bought together at one price.
    public struct Lot: Hashable, Sendable {
        public var shares: Int
        public let price: Decimal
        public let boughtAt: Timestamp
    }
}

/// What an algorithm answers, with a short reason for the decision log.
public struct AlgorithmDecision: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        case buy(Int)
        case sell(Int)
        case hold
    }

    /// A reason as text, or as two numbers and how to write them: formatting is most of a hold's cost,
    /// and a backtest never reads a hold's reason (the executor's decision log does, and gets the same text).
    enum Explanation: Sendable {
        case text(String)
        case formatted(Double, Double, @Sendable (Double, Double) -> String)

        var text: String {
            switch self {
            case .text(let text): return text
            case .formatted(let first, let second, let format): return format(first, second)
            }
        }
    }

    public let action: Action
    let explanation: Explanation

    public var reason: String { explanation.text }

    public init(_ action: Action, reason: String) {
        self.action = action
        self.explanation = .text(reason)
    }

    /// A decision whose reason is written from `first` and `second` only when it is read. Pass a closure
    /// that captures nothing: it then costs no allocation.
    public init(_ action: Action, _ first: Double, _ second: Double, reason: @escaping @Sendable (Double, Double) -> String) {
        self.action = action
        self.explanation = .formatted(first, second, reason)
    }

    public static func buy(_ shares: Int, _ reason: String) -> AlgorithmDecision { .init(.buy(shares), reason: reason) }
    public static func sell(_ shares: Int, _ reason: String) -> AlgorithmDecision { .init(.sell(shares), reason: reason) }
    public static func hold(_ reason: String) -> AlgorithmDecision { .init(.hold, reason: reason) }
    /// A hold whose reason is formatted only if someone reads it.
    public static func hold(_ first: Double, _ second: Double = 0, _ reason: @escaping @Sendable (Double, Double) -> String) -> AlgorithmDecision {
        .init(.hold, first, second, reason: reason)
    }

    public static func == (lhs: AlgorithmDecision, rhs: AlgorithmDecision) -> Bool {
        lhs.action == rhs.action && lhs.reason == rhs.reason
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(action)
        hasher.combine(reason)
    }
}

/// The algorithms a build knows, by name (the file names in `algorithm/`).
public struct AlgorithmCatalog: Sendable {
    /// One algorithm: its name and its type.
    public struct Entry: Sendable {
        public let name: String
        public let type: any TradingAlgorithm.Type

        public init(name: String, type: any TradingAlgorithm.Type) {
            self.name = name
            self.type = type
        }

        public var summary: String { type.summary }
        public var barsNeeded: Int { type.barsNeeded }
    }

    public let entries: [Entry]

    public init(_ entries: [Entry]) {
        self.entries = entries.sorted { $0.name < $1.name }
    }

    public var names: [String] { entries.map(\.name) }

    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// The longest history any algorithm needs, in minute bars: what the streamer backfills.
    public var longestLookback: Int { entries.map(\.barsNeeded).max() ?? 0 }
}
