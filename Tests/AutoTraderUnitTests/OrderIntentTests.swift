import Foundation
import GRDB
import Testing
@testable import AutoTraderCore

/// Order intents, the guards and the decision log in system.db: what makes trading crash-safe.
@Suite struct OrderIntentTests {
    static let minute = Timestamp.at("2024-06-04T14:31:00Z")

    func database() throws -> (TemporaryDirectory, SystemDatabase) {
        let directory = TemporaryDirectory("intents")
        return (directory, try SystemDatabase.open(path: directory.file("system.db"), create: true))
    }

    @Test func guardsRefuseNonsenseWhateverTheAlgorithmAnswered() {
        let position = Position(tradeCount: 1, shares: 10, invested: 500, lastTradeAt: nil, lastTradePrice: 50)
        func check(_ side: TradeSide, _ shares: Int, price: Decimal = 50) -> OrderRefusal? {
            OrderGuards.check(side: side, shares: shares, price: price, initialCapital: 1000, position: position)
        }
        #expect(check(.buy, 0) == .notPositive(0))
        #expect(check(.sell, -3) == .notPositive(-3))
        #expect(check(.sell, 11) == .sellsMoreThanHeld(held: 10, requested: 11))
        #expect(check(.sell, 10) == nil)
        #expect(check(.buy, 10) == nil) // 500 of 500 uninvested
        #expect(check(.buy, 11) == .costsMoreThanCash(cost: 550, cash: 500))
        #expect(check(.buy, Int.max) != nil)
        #expect(check(.buy, 1, price: 0) == .noPrice)
    }

    @Test func anIntentIsWrittenWithItsDecisionAndRefusedWhenTheCardCannotTrade() throws {
        let (directory, system) = try database()
        defer { withExtendedLifetime(directory) {} }
        let card = try system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 1000)
        let intent = try system.createIntent(
            algorithmId: card.id, minute: Self.minute, side: .buy, shares: 5, price: 100, reason: "crossed up").get()
        #expect(intent.clientOrderId == "at-\(card.id)-202406041431")
        #expect(intent.state == .pending && intent.sentAt != nil && intent.closedAt == nil)
        let logged = try system.decisions(algorithmId: card.id)
        #expect(logged.count == 1 && logged[0].decision == .buy && logged[0].shares == 5 && logged[0].reason == "crossed up")

        // One open order per card; one order per card and minute, even after the first closed.
        let next = Self.minute.adding(minutes: 1)
        #expect(try system.createIntent(algorithmId: card.id, minute: next, side: .buy, shares: 1, price: 100, reason: "")
            == .failure(.previousOrderOpen(clientOrderId: intent.clientOrderId)))
        _ = try system.closeIntent(id: intent.id, state: .rejected, filledShares: 0, fillPrice: nil, filledAt: nil, brokerOrderId: nil, detail: "no")
        #expect(try system.createIntent(algorithmId: card.id, minute: Self.minute, side: .buy, shares: 1, price: 100, reason: "")
            == .failure(.alreadyOrderedThisMinute))
        #expect(try system.createIntent(algorithmId: card.id, minute: next, side: .sell, shares: 1, price: 100, reason: "")
            == .failure(.sellsMoreThanHeld(held: 0, requested: 1)))
        #expect(try system.createIntent(algorithmId: card.id, minute: next, side: .buy, shares: 11, price: 100, reason: "")
            == .failure(.costsMoreThanCash(cost: 1100, cash: 1000)))
        try system.stopAlgorithm(id: card.id)
        #expect(try system.createIntent(algorithmId: card.id, minute: next, side: .buy, shares: 1, price: 100, reason: "")
            == .failure(.notRunning))
        #expect(try system.trades(algorithmId: card.id).isEmpty)
        #expect(try system.decisions(algorithmId: card.id).first?.outcome.contains("rejected") == true)
    }

    @Test func closingAnIntentRecordsWhatFilledOnceAndOnlyOnce() throws {
        let (directory, system) = try database()
        defer { withExtendedLifetime(directory) {} }
        let card = try system.createAlgorithm(ticker: "AAPL", algorithmType: "rsi_bounce", initialCapital: 1000)
        let intent = try system.createIntent(algorithmId: card.id, minute: Self.minute, side: .buy, shares: 8, price: 100, reason: "").get()
        try system.markIntentSent(id: intent.id, brokerOrderId: "B1")
        // A partial fill whose rest was canceled: the transaction holds what filled, at the fill price.
        let first = try system.closeIntent(
            id: intent.id, state: .canceled, filledShares: 3, fillPrice: Decimal(string: "101.2345")!,
            filledAt: .at("2024-06-04T14:32:00Z"), brokerOrderId: "B1", detail: "broker status canceled")
        #expect(first.trade?.shares == 3 && first.trade?.price == Decimal(string: "101.2345")! && !first.wasAlreadyClosed)
        // A reconcile after a crash reads the same order again: nothing more is recorded.
        let again = try system.closeIntent(
            id: intent.id, state: .canceled, filledShares: 3, fillPrice: Decimal(string: "101.2345")!,
            filledAt: .at("2024-06-04T14:32:00Z"), brokerOrderId: "B1", detail: "again")
        #expect(again.wasAlreadyClosed && again.trade == nil)
        let trades = try system.trades(algorithmId: card.id)
        #expect(trades.count == 1 && trades[0].timestamp == .at("2024-06-04T14:32:00Z"))
        let closed = try system.intents(algorithmId: card.id)[0]
        #expect(closed.state == .canceled && closed.filledShares == 3 && closed.transactionId == trades[0].id && closed.closedAt != nil)
        #expect(try system.openIntents().isEmpty)
        #expect(try system.decisions(algorithmId: card.id)[0].outcome.hasPrefix("canceled: 3 shares at"))
    }

    @Test func aFillOfAnOrderSentBeforeTheCardStoppedIsStillRecorded() throws {
        let (directory, system) = try database()
        defer { withExtendedLifetime(directory) {} }
        let card = try system.createAlgorithm(ticker: "AAPL", algorithmType: "rsi_bounce", initialCapital: 1000)
        let intent = try system.createIntent(
            algorithmId: card.id, minute: Self.minute, side: .buy, shares: 2, price: 100, reason: "", now: .at("2024-06-04T14:32:01Z")).get()
        try system.stopAlgorithm(id: card.id, now: .at("2024-06-04T14:32:05Z"))
        let closing = try system.closeIntent(
            id: intent.id, state: .filled, filledShares: 2, fillPrice: 100, filledAt: .at("2024-06-04T14:33:00Z"), brokerOrderId: "B", detail: "")
        #expect(closing.trade?.shares == 2)
    }

    @Test func sellEverythingThenStopStopsTheCardInTheTransactionThatRecordsTheLastSale() throws {
        let (directory, system) = try database()
        defer { withExtendedLifetime(directory) {} }
        let card = try system.createAlgorithm(ticker: "AAPL", algorithmType: "rsi_bounce", initialCapital: 1000)
        try system.recordTrade(algorithmId: card.id, side: .buy, shares: 5, price: 100, at: .at("2024-06-04T14:00:00Z"))
        try system.requestLiquidation(algorithmId: card.id)
        try system.requestLiquidation(algorithmId: card.id) // asking twice is the same request
        #expect(try system.pendingStopRequests().map(\.algorithmId) == [card.id])
        let reader = CardReader(system: system, stocks: SharedStocks.database)
        #expect(try reader.card(id: card.id).stopping)
        #expect(try system.finishLiquidationIfFlat(algorithmId: card.id) == false) // still holds 5

        let sell = try system.createIntent(
            algorithmId: card.id, minute: Self.minute, side: .sell, shares: 5, price: 0, purpose: .liquidate, reason: "sell, then stop").get()
        let closing = try system.closeIntent(
            id: sell.id, state: .filled, filledShares: 5, fillPrice: 110, filledAt: .at("2024-06-04T14:32:00Z"), brokerOrderId: "S", detail: "")
        #expect(closing.stoppedAlgorithm)
        #expect(try system.algorithm(id: card.id).status == .stopped)
        #expect(try system.pendingStopRequests().isEmpty)
        #expect(try reader.card(id: card.id).stopping == false)
        #expect(throws: AutoTraderError.algorithmAlreadyStopped(id: card.id)) { try system.requestLiquidation(algorithmId: card.id) }
    }

    @Test func aPlainStopOvertakesAPendingSellAndStop() throws {
        let (directory, system) = try database()
        defer { withExtendedLifetime(directory) {} }
        let card = try system.createAlgorithm(ticker: "AAPL", algorithmType: "rsi_bounce", initialCapital: 1000)
        try system.requestLiquidation(algorithmId: card.id)
        try system.stopAlgorithm(id: card.id)
        #expect(try system.pendingStopRequests().isEmpty)
    }

    @Test func theNewestDecidedMinuteComesFromDecisionsAndIntents() throws {
        let (directory, system) = try database()
        defer { withExtendedLifetime(directory) {} }
        let a = try system.createAlgorithm(ticker: "AAPL", algorithmType: "rsi_bounce", initialCapital: 1000)
        let b = try system.createAlgorithm(ticker: "MSFT", algorithmType: "rsi_bounce", initialCapital: 1000)
        try system.logDecisions([
            DecisionEntry(algorithmId: a.id, minute: Self.minute, decision: .hold, reason: "r"),
            DecisionEntry(algorithmId: a.id, minute: Self.minute.adding(minutes: 1), decision: .skip, reason: "no bar"),
        ])
        _ = try system.createIntent(algorithmId: b.id, minute: Self.minute.adding(minutes: 3), side: .buy, shares: 1, price: 10, reason: "").get()
        let minutes = try system.lastDecidedMinutes()
        #expect(minutes[a.id] == Self.minute.adding(minutes: 1) && minutes[b.id] == Self.minute.adding(minutes: 3))
        #expect(try system.decisions(algorithmId: a.id, limit: 1).map(\.decision) == [.skip])
    }

    @Test func pruningDropsOnlyOldHoldsInBatchesAndKeepsEveryOrderRefusalAndError() throws {
        let (directory, system) = try database()
        defer { withExtendedLifetime(directory) {} }
        let card = try system.createAlgorithm(ticker: "AAPL", algorithmType: "rsi_bounce", initialCapital: 1000)
        // 30 old holds, an old refusal, skip and error, and 5 recent holds.
        var entries = (0..<30).map { DecisionEntry(algorithmId: card.id, minute: Self.minute.adding(minutes: $0), decision: .hold, reason: "old") }
        entries += [DecisionRecord.Kind.refused, .skip, .error].map {
            DecisionEntry(algorithmId: card.id, minute: Self.minute.adding(minutes: 40), decision: $0, reason: "kept")
        }
        entries += (0..<5).map { DecisionEntry(algorithmId: card.id, minute: Self.minute.adding(minutes: 100 + $0), decision: .hold, reason: "new") }
        try system.logDecisions(entries)
        _ = try system.createIntent(algorithmId: card.id, minute: Self.minute.adding(minutes: 50), side: .buy, shares: 1, price: 10, reason: "").get()

        let deleted = try system.pruneHoldDecisions(before: Self.minute.adding(minutes: 100), batch: 7)
        #expect(deleted == 30)
        let left = try system.decisions(algorithmId: card.id)
        #expect(left.filter { $0.decision == .hold }.map(\.reason) == Array(repeating: "new", count: 5))
        #expect(Set(left.map(\.decision)) == [.hold, .refused, .skip, .error, .buy])
        #expect(try system.pruneHoldDecisions(before: Self.minute.adding(minutes: 100)) == 0)
        #expect(try system.lastDecidedMinutes()[card.id] == Self.minute.adding(minutes: 104))
    }
}
