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
    /// The executor has the algorithm but can't run it (a broken script, a name clash).
    case algorithmUnavailable(String, error: String)
    case capitalNotPositive
    case capitalNotWholeCents(Decimal)
    case unknownTicker(String)
    case notTradable(String, status: String, tradable: Bool)

    public var description: String {
        switch self {
        case .unknownAlgorithm(let name, let available):
            return "unknown algorithm_type \(name.debugDescription); available: \(available.joined(separator: ", "))"
        case .algorithmUnavailable(let name, let error):
            return "algorithm \(name) can't run, so no card is created for it: \(error)"
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

/// Creating a card, the one way the api and the CLI share: the algorithm must be one the executor runs
/// (its catalog in system.db says ok; this build's compiled algorithms until it has published),
/// the ticker one the broker trades, the capital whole cents that fit in the broker's cash less what
/// running cards were given (checked and inserted in one IMMEDIATE transaction, so racing creates from
/// any number of processes can't over-allocate). Nothing is written unless every check passes.
public struct CardCreation: Sendable {
    public let system: SystemDatabase
    /// The algorithms compiled into this build (the executor's catalog adds the scripts).
    public let compiled: AlgorithmCatalog

    public init(system: SystemDatabase, compiled: AlgorithmCatalog) {
        self.system = system
        self.compiled = compiled
    }

    /// Tickers are trimmed and upper-cased (`nvda` is NVDA). Throws `CardRefusal`, `AutoTraderError`
    /// (a malformed ticker or capital), `InsufficientCash`, or the broker's `AlpacaError`.
    public func create(
        ticker: String, algorithmType: String, capital: Decimal, broker: some CardCreationBroker, now: Timestamp = .now()
    ) async throws -> AlgorithmInstance {
        let symbol = ticker.trimmingCharacters(in: .whitespaces).uppercased()
        guard Validation.isValidTicker(symbol) else { throw AutoTraderError.invalidTicker(ticker) }
        let catalog = try AvailableAlgorithms.list(system: system, compiled: compiled)
        let creatable = AvailableAlgorithms.creatable(catalog)
        guard creatable.contains(algorithmType) else {
            if let broken = catalog.first(where: { $0.name == algorithmType && $0.status == .error }) {
                throw CardRefusal.algorithmUnavailable(algorithmType, error: broken.error ?? "status error")
            }
            throw CardRefusal.unknownAlgorithm(algorithmType, available: creatable)
        }
        guard capital > 0 else { throw CardRefusal.capitalNotPositive }
        guard Money.decimalPlaces(capital) <= 2 else { throw CardRefusal.capitalNotWholeCents(capital) }
        guard Validation.isValidCapital(capital) else { throw AutoTraderError.invalidCapital(capital.plainString) }
        guard let asset = try await broker.asset(symbol: symbol) else { throw CardRefusal.unknownTicker(symbol) }
        guard asset.isTradableEquity else { throw CardRefusal.notTradable(symbol, status: asset.status, tradable: asset.tradable) }
        return try system.createAlgorithm(
            ticker: symbol, algorithmType: algorithmType, initialCapital: capital, brokerCash: try await broker.cash(), now: now)
    }
}
