import Foundation
import GRDB
import Testing
@testable import AutoTraderCore

/// Marking an intent sent and closing it skip their own fsync (`writeRecoverable`); everything else stays
/// `synchronous = FULL`, and what they wrote is committed like any other write.
@Suite struct RecoverableWriteTests {
    @Test func marksAndClosesCommitAndLeaveTheWriterFull() throws {
        let directory = TemporaryDirectory("recoverable")
        defer { withExtendedLifetime(directory) {} }
        let system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        let card = try system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 1000)
        let intent = try system.createIntent(
            algorithmId: card.id, minute: Timestamp.at("2024-06-04T14:31:00Z"), side: .buy, shares: 2, price: 100, reason: "test").get()
        try system.markIntentSent(id: intent.id, brokerOrderId: "order-1")
        let closing = try system.closeIntent(
            id: intent.id, state: .filled, filledShares: 2, fillPrice: 100, filledAt: Timestamp.at("2024-06-04T14:31:30Z"),
            brokerOrderId: "order-1", detail: "filled")
        #expect(closing.trade?.shares == 2 && !closing.wasAlreadyClosed)
        // The writer is back to FULL for the writes that must reach the disk before anything is sent.
        try system.pool.writeWithoutTransaction { db throws in
            #expect(try Int.fetchOne(db, sql: "PRAGMA synchronous") == 2)
        }
        // A second connection (another process would see the same) reads the close and its fill.
        let other = try SystemDatabase.open(path: directory.file("system.db"), create: false)
        #expect(try other.trades(algorithmId: card.id).map(\.shares) == [2])
        #expect(try other.openIntents().isEmpty)
        // Closing again records nothing (what reconciling after a lost close relies on).
        #expect(try system.closeIntent(
            id: intent.id, state: .filled, filledShares: 2, fillPrice: 100, filledAt: nil, brokerOrderId: "order-1", detail: "again"
        ).wasAlreadyClosed)
        #expect(try other.trades(algorithmId: card.id).count == 1)
    }
}
