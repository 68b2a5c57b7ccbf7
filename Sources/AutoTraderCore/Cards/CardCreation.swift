import Foundation

/// What the broker must answer before a card is created.
public protocol CardCreationBroker: Sendable {
    /// The broker's asset, nil when it doesn't know the symbol.
    func asset(symbol: String) async throws -> AlpacaAsset?
    /// The account's cash now.
    func cash() async throws -> Decimal
}

extension AlpacaClient: CardCreationBroker {
    public func cash() async throws -> Decimal { try await account().cash }
}

/// A card that can't be created, and why, in words a person can act on.
public enum CardRefusal: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    case unknownAlgorithm(String, available: [String])
    case capitalNotPositive
    case capitalNotWholeCents(Decimal)
    case unknownTicker(String)
    case notTradable(String, status: String, tradable: Bool)

    public var description: String {
        switch self {
        case .unknownAlgorithm(let name, let available):
            return "unknown algorithm_type \(name.debugDescription); available: \(available.joined(separator: ", "))"
        case .capitalNotPositive:
            return "initial_capital must be more than 0"
        case .capitalNotWholeCents(let capital):
            return "initial_capital \(capital.plainString) has more than two decimals (whole cents only)"
        case .unknownTicker(let symbol):
            return "the broker doesn't know the ticker \(symbol)"
        case .notTradable(let symbol, let status, let tradable):
            return "\(symbol) can't be traded (broker status \(status), tradable \(tradable))"
        }
    }

    public var errorDescription: String? { description }
}

/// Creating a card, the one way the api and the CLI share: the algorithm must be one this build runs,
/// the ticker one the broker trades, the capital whole cents that fit in the broker's cash less what
/// running cards were given (checked and inserted in one IMMEDIATE transaction, so racing creates from
/// any number of processes can't over-allocate). Nothing is written unless every check passes.
public struct CardCreation: Sendable {
    public let system: SystemDatabase
    /// The algorithms this build can run, by name.
    public let algorithms: [String]

    public init(system: SystemDatabase, algorithms: [String]) {
        self.system = system
        self.algorithms = algorithms
    }

    /// Tickers are trimmed and upper-cased (`nvda` is NVDA). Throws `CardRefusal`, `AutoTraderError`
    /// (a malformed ticker or capital), `InsufficientCash`, or the broker's `AlpacaError`.
    public func create(
        ticker: String, algorithmType: String, capital: Decimal, broker: some CardCreationBroker, now: Timestamp = .now()
    ) async throws -> AlgorithmInstance {
        let symbol = ticker.trimmingCharacters(in: .whitespaces).uppercased()
        guard Validation.isValidTicker(symbol) else { throw AutoTraderError.invalidTicker(ticker) }
        guard algorithms.contains(algorithmType) else { throw CardRefusal.unknownAlgorithm(algorithmType, available: algorithms) }
        guard capital > 0 else { throw CardRefusal.capitalNotPositive }
        guard Money.decimalPlaces(capital) <= 2 else { throw CardRefusal.capitalNotWholeCents(capital) }
        guard Validation.isValidCapital(capital) else { throw AutoTraderError.invalidCapital(capital.plainString) }
        guard let asset = try await broker.asset(symbol: symbol) else { throw CardRefusal.unknownTicker(symbol) }
        guard asset.isTradableEquity else { throw CardRefusal.notTradable(symbol, status: asset.status, tradable: asset.tradable) }
        return try system.createAlgorithm(
            ticker: symbol, algorithmType: algorithmType, initialCapital: capital, brokerCash: try await broker.cash(), now: now)
    }
}
