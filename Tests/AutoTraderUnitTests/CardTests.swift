import Foundation
import Testing
@testable import AutoTraderCore

@Suite struct CardTests {
    let directory = TemporaryDirectory("cards")
    let system: SystemDatabase
    let reader: CardReader

    init() throws {
        system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        reader = CardReader(system: system, stocks: SharedStocks.database)
    }

    func d(_ text: String) -> Decimal { Decimal(string: text)! }

    @Test func theCardIsTheDesignsArithmeticExactlyRoundedHalfUpToCents() throws {
        let algorithm = try system.createAlgorithm(ticker: "CARDA", algorithmType: "rsi_bounce", initialCapital: 1000)
        try system.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 10, price: d("101.25"), at: .at("2024-06-04T14:31:00Z"))
        try system.recordTrade(algorithmId: algorithm.id, side: .buy, shares: 5, price: d("99.10"), at: .at("2024-06-04T15:02:00Z"))
        try system.recordTrade(algorithmId: algorithm.id, side: .sell, shares: 12, price: d("103.333"), at: .at("2024-06-05T13:45:00Z"))
        try SharedStocks.database.insert([
            MinuteBar(ticker: "CARDA", timestamp: .at("2024-06-05T19:59:00Z"), open: 104, high: 104.5, low: 103.9, close: 104.17, volume: 900),
        ])
        let card = try reader.card(id: algorithm.id)
        let valuation = card.valuation
        #expect(valuation.shares == 3)
        #expect(valuation.tradeCount == 3)
        #expect(valuation.invested == d("268.004"))       // 1012.50 + 495.50 − 1239.996
        #expect(valuation.uninvestedCash == d("731.996"))
        #expect(valuation.currentPrice == d("104.17"))
        #expect(valuation.currentValue == d("1044.506"))  // 3 × 104.17 + 731.996
        #expect(valuation.pnl == d("44.506"))
        #expect(Money.rounded(valuation.currentValue) == d("1044.51")) // half-up, not banker's
        #expect(Money.centsText(valuation.pnl) == "44.51")
        #expect(card.lastUpdate == .at("2024-06-05T19:59:00Z")) // the bar is newer than the last trade

        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(card)) as! [String: Any]
        for key in ["id", "display_name", "algorithm_type", "ticker", "initial_capital", "status", "created_at",
                    "stopped_at", "current_shares", "trade_count", "current_value", "pnl", "current_price", "last_update"] {
            #expect(json.keys.contains(key), "card JSON lacks \(key)")
        }
        #expect((json["current_value"] as? NSNumber)?.description == "1044.51")
        #expect((json["pnl"] as? NSNumber)?.description == "44.51")
        #expect(json["current_shares"] as? Int == 3)
        #expect(json["last_update"] as? String == "2024-06-05T19:59:00Z")
        #expect(json["stopped_at"] is NSNull)
    }

    @Test func sumsDoNotDriftLikeBinaryFloatingPoint() throws {
        let algorithm = try system.createAlgorithm(ticker: "CARDB", algorithmType: "sma_crossover", initialCapital: d("100.10"))
        for minute in 0..<300 {
            try system.recordTrade(
                algorithmId: algorithm.id, side: .buy, shares: 1, price: d("0.10"),
                at: Timestamp.at("2024-06-04T14:30:00Z").adding(minutes: minute))
        }
        try system.recordTrade(algorithmId: algorithm.id, side: .sell, shares: 100, price: d("0.30"), at: .at("2024-06-04T20:00:00Z"))
        // In binary floating point 300 × 0.1 is 30.000000000000156; here it is 30 exactly.
        let position = try system.position(algorithmId: algorithm.id)
        #expect(position.invested == d("0"))            // 300 × 0.10 − 100 × 0.30
        #expect(position.shares == 200)
        let valuation = try reader.card(id: algorithm.id).valuation
        // No bar for CARDB: shares are marked at the last trade's price, and the card says it has no price.
        #expect(valuation.currentPrice == nil)
        #expect(valuation.currentValue == d("160.10"))  // 200 × 0.30 + 100.10
        #expect(valuation.pnl == d("60"))
    }

    @Test func negativePnLRoundsAwayFromZeroAndBreakEvenIsZero() throws {
        let loss = CardValuation(
            initialCapital: 100,
            position: Position(tradeCount: 1, shares: 1, invested: d("10.005"), lastTradeAt: nil, lastTradePrice: d("10.005")),
            currentPrice: d("10"))
        #expect(loss.pnl == d("-0.005"))
        #expect(Money.rounded(loss.pnl) == d("-0.01"))
        #expect(Money.centsText(loss.pnl) == "-0.01")
        #expect(loss.pnlPercent == d("-0.01"))
        let flat = CardValuation(initialCapital: 500, position: .empty, currentPrice: nil)
        #expect(flat.currentValue == 500)
        #expect(flat.pnl == 0)
        #expect(Money.centsText(flat.pnl) == "0.00")
    }

    @Test func runningCardsListOnlyRunningAlgorithmsOldestFirst() throws {
        let first = try system.createAlgorithm(ticker: "CARDC", algorithmType: "sma_crossover", initialCapital: 100)
        let second = try system.createAlgorithm(ticker: "CARDC", algorithmType: "macd_signal", initialCapital: 200)
        let third = try system.createAlgorithm(ticker: "CARDD", algorithmType: "rsi_bounce", initialCapital: 300)
        try system.stopAlgorithm(id: second.id)
        #expect(try reader.cards().map(\.algorithm.id) == [first.id, third.id])
        #expect(try reader.cards(status: nil).map(\.algorithm.id) == [first.id, second.id, third.id])
        #expect(try reader.cards(status: .stopped).map(\.algorithm.id) == [second.id])
        #expect(throws: AutoTraderError.unknownAlgorithm(id: 31337)) { try reader.card(id: 31337) }
    }
}


/// Cards keep running sums per algorithm; they must always equal a full recount.
@Suite struct PositionLedgerTests {
    @Test func runningSumsAlwaysEqualAFullRecountWhileAnotherConnectionWrites() throws {
        let directory = TemporaryDirectory("ledger")
        let reader = try SystemDatabase.open(path: directory.file("system.db"), create: true)
        let writer = try SystemDatabase.open(path: directory.file("system.db"))
        let recount = try SystemDatabase.open(path: directory.file("system.db"), cachePositions: false)
        let first = try writer.createAlgorithm(ticker: "LEDG", algorithmType: "sma_crossover", initialCapital: 100_000)
        let second = try writer.createAlgorithm(ticker: "LEDG", algorithmType: "rsi_bounce", initialCapital: 100_000)
        // A new seed each run (more interleavings over time), printed so a failure can be replayed.
        let seed = ProcessInfo.processInfo.environment["AUTOTRADER_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        print("runningSumsAlwaysEqualAFullRecountWhileAnotherConnectionWrites: seed \(seed) (AUTOTRADER_TEST_SEED=\(seed) repeats it)")
        var generator = SplitMix64(seed: seed)
        var held = [first.id: 0, second.id: 0]
        var minute = Timestamp.at("2024-06-04T13:30:00Z")
        for step in 0..<300 {
            let id = step % 3 == 0 ? second.id : first.id
            let sell = held[id]! > 0 && Bool.random(using: &generator)
            let shares = sell ? Int.random(in: 1...held[id]!, using: &generator) : Int.random(in: 1...20, using: &generator)
            let price = Decimal(Int.random(in: 1_000...50_000, using: &generator)) / 100
            // Out-of-order timestamps too: the last trade is the newest by time, not by id.
            let at = step % 17 == 0 ? minute.adding(minutes: -5) : minute
            try writer.recordTrade(algorithmId: id, side: sell ? .sell : .buy, shares: shares, price: price, at: at)
            held[id]! += sell ? -shares : shares
            minute = minute.adding(minutes: 1)
            if step % 7 == 0 {
                // A write that is rolled back must leave no trace in anyone's sums.
                try? writer.pool.write { db in
                    _ = try SystemDatabase.recordTrade(db, algorithmId: id, side: .buy, shares: 1_000, price: 1, at: minute)
                    _ = try writer.position(db, algorithmId: id)
                    throw CancellationError()
                }
            }
            if step % 5 == 0 || step == 299 {
                for algorithm in [first.id, second.id] {
                    let cached = try reader.position(algorithmId: algorithm)
                    #expect(cached == (try recount.position(algorithmId: algorithm)), "step \(step)")
                    #expect(cached.shares == held[algorithm])
                }
            }
        }
        #expect(try reader.position(algorithmId: first.id).tradeCount + reader.position(algorithmId: second.id).tradeCount == 300)
    }
}
