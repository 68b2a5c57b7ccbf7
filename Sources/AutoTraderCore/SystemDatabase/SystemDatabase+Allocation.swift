import Foundation
import GRDB

/// A new card asked for more than the cash still free to allocate.
public struct InsufficientCash: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    public let requested: Decimal
    /// Broker cash − Σ initial_capital of running cards, at the moment of the check (never below 0).
    public let available: Decimal

    public var description: String {
        "initial capital \(Money.centsText(requested)) is more than the \(Money.centsText(available)) available (broker cash minus the capital of running algorithms)"
    }

    public var errorDescription: String? { description }
}

extension SystemDatabase {
    /// Creates a running algorithm if its capital fits in the cash still free to allocate:
    /// `brokerCash − Σ initial_capital of running algorithms`.
    ///
    /// The check and the insert run in one IMMEDIATE transaction, so two creates racing each
    /// other — in one process or in two — can never both pass a check only one of them should:
    /// the second one's check sees the first one's row.
    public func createAlgorithm(
        ticker: String, algorithmType: String, initialCapital: Decimal, brokerCash: Decimal, now: Timestamp = .now()
    ) throws -> AlgorithmInstance {
        try Self.checkNewCard(ticker: ticker, algorithmType: algorithmType, initialCapital: initialCapital)
        let displayName = AlgorithmInstance.displayName(ticker: ticker, algorithmType: algorithmType, createdAt: now)
        return try pool.writeWithoutTransaction { db in
            var created: AlgorithmInstance?
            try db.inTransaction(.immediate) {
                let available = max(0, brokerCash - (try Self.allocatedCapital(db)))
                guard initialCapital <= available else {
                    throw InsufficientCash(requested: initialCapital, available: available)
                }
                try db.execute(
                    sql: """
                        INSERT INTO algorithm_instances (display_name, algorithm_type, ticker, initial_capital, status, created_at)
                        VALUES (?, ?, ?, ?, 'running', ?)
                        """,
                    arguments: [displayName, algorithmType, ticker, Money.stored(initialCapital), now.text])
                created = try Self.fetchAlgorithm(db, id: db.lastInsertedRowID)
                return .commit
            }
            return created!
        }
    }

    /// The cash still free to allocate given the broker's cash (never below 0).
    public func availableCash(brokerCash: Decimal) throws -> (allocated: Decimal, available: Decimal) {
        let allocated = try allocatedCapital()
        return (allocated, max(0, brokerCash - allocated))
    }
}
