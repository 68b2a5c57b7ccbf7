import Foundation
import Testing
@testable import AutoTraderCore
@testable import TradingAlgorithms

/// Trades what the bars tell it to, so a test can script a backtest minute by minute: volume 1 buys
/// with all the cash (the shipped algorithms' sizing), 2 sells everything, 3 sells 1000 shares, 4 buys 1000.
struct ScriptedByVolume: TradingAlgorithm {
    static let summary = "test: trades as the bar's volume says"
    static let barsNeeded = 1

    func decide(_ input: AlgorithmInput) throws -> AlgorithmDecision {
        switch input.bars.last?.volume {
        case 1: return .buy(input.affordableShares(), "volume says buy")
        case 2: return .sell(input.sharesHeld, "volume says sell")
        case 3: return .sell(1000, "volume says sell 1000")
        case 4: return .buy(1000, "volume says buy 1000")
        default: return .hold("volume says hold")
        }
    }
}

/// The backtest engine's fills and figures on hand-made bars whose results can be checked by hand,
/// its fill rule at the session's edges, the executor's guards, the report's formats and bad input.
@Suite struct BacktestTests {
    static let calendar = try! MarketCalendar()
    static let entry = AlgorithmCatalog.Entry(name: "scripted", type: ScriptedByVolume.self)

    /// Bars from `start` on, a minute apart: (open, close, volume).
    static func bars(_ rows: [(Double, Double, Int64)], from start: String = "2024-06-04T13:30:00Z") -> [MinuteBar] {
        rows.enumerated().map { index, row in
            MinuteBar(ticker: "TEST", timestamp: Timestamp(start)!.adding(minutes: index), open: row.0,
                      high: max(row.0, row.1) + 1, low: min(row.0, row.1) - 1, close: row.1, volume: row.2)
        }
    }

    /// Ten minutes: a buy decided at 13:31, a sell decided at 13:35.
    static let tenMinutes = bars([
        (100, 100, 0), (100, 100, 1), (100, 100, 0), (100, 110, 0), (110, 99, 0),
        (99, 105, 2), (105, 104, 0), (104, 120, 0), (120, 120, 0), (120, 130, 0),
    ])

    func run(_ bars: [MinuteBar], capital: Decimal = 1000, _ configure: (inout BacktestSettings) -> Void = { _ in }) -> BacktestResult {
        var settings = BacktestSettings(capital: capital)
        configure(&settings)
        return Backtester(calendar: Self.calendar).run(Self.entry, ticker: "TEST", bars: BacktestBars(bars: bars, firstIndex: 0), settings: settings)
    }

    @Test func fillsAtTheOpenOfTheBarAfterTheNextAsTheLiveOrderDoesAndTheFiguresAddUp() {
        let result = run(Self.tenMinutes)
        // Buy: floor(1000 / (100 × 1.005)) = 9 shares, decided on 13:31's bar, filled at 13:33's open (100).
        // Sell: 9 shares decided on 13:35's bar, filled at 13:37's open (104).
        #expect(result.fills == [
            BacktestFill(time: .at("2024-06-04T13:33:00Z"), decidedAt: .at("2024-06-04T13:31:00Z"), side: .buy, shares: 9,
                         price: 100, commission: 0, reason: "volume says buy"),
            BacktestFill(time: .at("2024-06-04T13:37:00Z"), decidedAt: .at("2024-06-04T13:35:00Z"), side: .sell, shares: 9,
                         price: 104, commission: 0, reason: "volume says sell"),
        ])
        // Cash 1000 − 900 + 936 = 1036, flat at the end.
        #expect(result.finalEquity == 1036)
        #expect(result.totalReturn == Decimal(string: "0.036"))
        // The ticker: 100 (first open) to 130 (last close).
        #expect(result.buyAndHoldReturn == Decimal(string: "0.3"))
        // Equity at the closes: 1000 1000 1000 | 100+990=1090, 100+891=991, 1045, 1036 | 1036 1036 1036:
        // the deepest fall is 1090 → 991, 99/1090 = 0.0908256… → 0.090826.
        #expect(result.maxDrawdown == Decimal(string: "0.090826"))
        #expect(result.roundTrips == 1 && result.wins == 1 && result.winRate == 1)
        // Shares were held at the closes of 13:33 … 13:36: 4 of 10 minutes.
        #expect(result.exposure == Decimal(string: "0.4"))
        #expect(result.minuteEquity.count == 10)
        #expect((0..<10).map { result.minuteEquity[$0].equity } == [1000, 1000, 1000, 1090, 991, 1045, 1036, 1036, 1036, 1036])
        #expect(result.equityCurve == [
            EquityPoint(time: .at("2024-06-04T13:30:00Z"), equity: 1000), EquityPoint(time: .at("2024-06-04T13:39:00Z"), equity: 1036),
        ])
    }

    @Test func closeFillsSlippageAndCommission() {
        let atClose = run(Self.tenMinutes) { $0.fill = .close }
        // Bought 9 at 13:31's close (100), sold at 13:35's close (105): 1000 − 900 + 945.
        #expect(atClose.fills.map(\.time) == [.at("2024-06-04T13:31:00Z"), .at("2024-06-04T13:35:00Z")])
        #expect(atClose.fills.map(\.price) == [100, 105])
        #expect(atClose.finalEquity == 1045)

        let costly = run(Self.tenMinutes) {
            $0.slippageBps = 100
            $0.commission = 1
        }
        // Buy at 100 × 1.01 = 101 (909), sell at 104 × 0.99 = 102.96 (926.64), two commissions of 1.
        #expect(costly.fills.map(\.price) == [101, Decimal(string: "102.96")!])
        #expect(costly.finalEquity == Decimal(string: "1015.64"))
        #expect(costly.roundTrips == 1 && costly.wins == 1)
    }

    @Test func aDecisionOnTheSessionsLastMinuteFillsAtTheNextSessionsFirstBar() {
        // 2024-06-04 closes at 20:00 UTC; 2024-06-05 opens at 13:30 UTC.
        let evening = Self.bars([(100, 100, 0), (100, 100, 0), (100, 100, 1)], from: "2024-06-04T19:57:00Z")
        let morning = Self.bars([(90, 91, 0), (91, 92, 0)], from: "2024-06-05T13:30:00Z")
        let result = run(evening + morning)
        #expect(result.fills.map(\.time) == [.at("2024-06-05T13:30:00Z")])
        #expect(result.fills.map(\.decidedAt) == [.at("2024-06-04T19:59:00Z")])
        #expect(result.fills.map(\.price) == [90])

        // Decided at 19:58: sent during the last minute, no bar begins after it: it expires, nothing fills.
        let late = Self.bars([(100, 100, 0), (100, 100, 1), (100, 100, 0)], from: "2024-06-04T19:57:00Z")
        let expired = run(late + morning)
        #expect(expired.fills.isEmpty && expired.unfilled == 1)
    }

    @Test func aBuyIsALimitOrderAndAnOpenGappingPastItDoesNotFill() {
        // 9 shares sized at 100: limit min(100 × 1.005, 1000 / 9) = 100.50. 13:32's open 100.51 is past it.
        // Live, the gapped order is still open as 13:31 begins: canceled, and the card skipped at 13:31 (its
        // buy signal there never becomes an order).
        let gapped = run(Self.bars([(100, 100, 1), (100, 100, 1), (100.51, 101, 0), (101, 101, 0)]))
        #expect(gapped.fills.isEmpty && gapped.unfilled == 1)
        let within = run(Self.bars([(100, 100, 1), (100, 100, 0), (100.50, 101, 0), (101, 101, 0)]))
        #expect(within.fills.map(\.price) == [Decimal(string: "100.5")!])
    }

    @Test func withoutABarTwoMinutesLaterTheOrderIsCanceledAsLive() {
        var rows = Self.bars([(100, 100, 1), (100, 100, 0), (100, 100, 0), (100, 100, 0)])
        rows.remove(at: 2) // no bar at 13:32
        let result = run(rows)
        #expect(result.fills.isEmpty && result.unfilled == 1)
    }

    @Test func theExecutorsGuardsRefuseWhatTheyRefuseLive() {
        // Sell 1000 holding nothing, buy 1000 at 100 with 1000 of cash.
        let result = run(Self.bars([(100, 100, 3), (100, 100, 4), (100, 100, 0), (100, 100, 0)]))
        #expect(result.fills.isEmpty && result.refused == 2)
        let position = Position(tradeCount: 0, shares: 0, invested: 0, lastTradeAt: nil, lastTradePrice: nil)
        let plan = OrderPlan(.buy(1000, "x"), lastPrice: 100)!
        #expect(plan.refusal(initialCapital: 1000, position: position) == .costsMoreThanCash(cost: 100_000, cash: 1000))
        #expect(OrderPlan(.hold("nothing"), lastPrice: 100) == nil)
    }

    @Test func theShippedAlgorithmsGiveByteIdenticalJSONAndTheLeaderboardIsRanked() throws {
        var random = SplitMix64(seed: 16)
        print("BacktestTests seed 16")
        let period = try BacktestPeriod.dates("2024-06-03", "2024-06-05", calendar: Self.calendar)
        var bars: [MinuteBar] = []
        var price = 50.0
        for session in period.sessions {
            for minute in 0..<session.minuteCount {
                let open = price
                price = max(1, (price * (1 + (Double(random.next() % 2001) - 1000) / 400_000) * 100).rounded() / 100)
                bars.append(MinuteBar(ticker: "TEST", timestamp: session.open.adding(minutes: minute), open: open,
                                      high: max(open, price), low: min(open, price), close: price, volume: 100))
            }
        }
        let series = BacktestBars(bars: bars, firstIndex: 0)
        let settings = BacktestSettings(capital: Decimal(string: "2500.50")!)
        func report() throws -> String {
            let results = AlgorithmRegistry.catalog.entries.map {
                Backtester(calendar: Self.calendar).run($0, ticker: "TEST", bars: series, settings: settings)
            }
            #expect(results.contains { !$0.fills.isEmpty }, "a random walk over three sessions should make some algorithm trade")
            return try BacktestReport(period: period, results: results).json()
        }
        let first = try report()
        #expect(first == (try report()))
        let object = try JSONSerialization.jsonObject(with: Data(first.utf8)) as! [String: Any]
        let board = object["leaderboard"] as! [[String: Any]]
        #expect(board.map { $0["rank"] as! Int } == Array(1...AlgorithmRegistry.catalog.entries.count))
        let returns = board.map { Decimal(string: $0["total_return"] as! String)! }
        #expect(returns == returns.sorted(by: >))
        let keys: Set<String> = [
            "rank", "algorithm", "ticker", "from", "to", "sessions", "bars", "capital", "fill", "slippage_bps", "commission",
            "trades", "final_equity", "total_return", "buy_and_hold_return", "max_drawdown", "round_trips", "win_rate",
            "exposure", "equity_curve",
        ]
        #expect(Set(board[0].keys) == keys)
        for trade in board.flatMap({ $0["trades"] as! [[String: Any]] }) {
            #expect(Set(trade.keys) == ["time", "decided_at", "side", "shares", "price", "reason"])
        }
    }

    @Test func theInPlaceIndicatorsAreBitForBitTheArrayOnes() {
        var random = SplitMix64(seed: 61)
        print("BacktestTests in-place indicators seed 61")
        for length in [15, 16, 35, 36, 51, 120, 200] {
            let closes = (0..<length).map { _ in 50 + Double(random.next() % 10_000) / 100 }
            closes.withUnsafeBufferPointer { buffer in
                for period in [14, 20, 50] where length > period {
                    let sma = Indicators.sma(closes, period: period)
                    #expect(Indicators.smaLastTwo(buffer, period: period) == Indicators.LastTwo(before: sma[length - 2]!, now: sma[length - 1]!))
                }
                if length > 50 {
                    let both = Indicators.smaLastTwo(buffer, fast: 20, slow: 50)
                    #expect(both?.fast == Indicators.smaLastTwo(buffer, period: 20) && both?.slow == Indicators.smaLastTwo(buffer, period: 50))
                }
                #expect(Indicators.rsiLast(buffer, period: 14) == Indicators.rsi(closes, period: 14).last!)
                let macd = Indicators.macd(closes)
                let lastTwo = Indicators.macdLastTwo(buffer)
                if length >= 35 {
                    #expect(lastTwo?.macd == Indicators.LastTwo(before: macd.macd[length - 2]!, now: macd.macd[length - 1]!))
                    #expect(lastTwo?.signal == Indicators.LastTwo(before: macd.signal[length - 2]!, now: macd.signal[length - 1]!))
                } else {
                    #expect(lastTwo == nil)
                }
            }
        }
        // A window reads the series in place and indexes from 0, like the array it replaces.
        let bars = Self.tenMinutes
        let window = BarSeries(bars).window(endingAt: 6, count: 4)
        #expect(Array(window) == Array(bars[3...6]) && window[0] == bars[3] && window.lastClose == bars[6].close)
        #expect(window.withCloses { Array($0) } == bars[3...6].map(\.close))
        // A hold's reason is written when read, and equal decisions compare equal whichever way they were made.
        #expect(AlgorithmDecision.hold(1.5, 2) { a, b in "a \(a) b \(b)" } == .hold("a 1.5 b 2.0"))
    }

    @Test func exactDecimalIsTheDivisionsDecimal() {
        var random = SplitMix64(seed: 62)
        print("BacktestTests exactDecimal seed 62")
        let samples: [Int64] = [0, 1, 10, 1_000_000, 100_000_000, 149_230_000, -5_000_000, 123_456_789, 999_999_999_999]
            + (0..<5000).map { _ in Int64(random.next() % 1_000_000_000_000) - 1_000_000_000 }
        for micros in samples {
            let exact = Money.exactDecimal(micros: micros), divided = Money.decimal(micros: micros)
            #expect(exact == divided && exact.plainString == divided.plainString && exact.hashValue == divided.hashValue, "\(micros)")
            #expect(Money.centsText(exact) == Money.centsText(divided) && exact.exponent == divided.exponent, "\(micros)")
        }
        for price in [149.23, 0.0001, 1.5, 100.0, 24.999999, 3000.5] {
            #expect(Money.exactDecimal(fromStored: price) == Money.decimal(fromStored: price))
        }
    }

    @Test func aBacktestsBatchedIndicatorsAreBitForBitEachWindowsOwn() {
        var random = SplitMix64(seed: 63)
        print("BacktestTests batched indicators seed 63")
        // Cent prices, sub-dollar four-decimal ones, flat stretches (RSI's 50 and 100) and jumps.
        var price = 40.0
        let closes: [Double] = (0..<1_000).map { index in
            switch index / 250 {
            case 1:
                if index == 250 { price /= 60 }
                price = max(0.0001, ((price + Double(Int(random.next() % 201) - 100) / 100_000) * 10_000).rounded() / 10_000)
            case 2 where index % 50 < 30: break
            default: price = max(0.01, ((price * (1 + Double(Int(random.next() % 4001) - 2000) / 1_000_000)) * 100).rounded() / 100)
            }
            return price
        }
        let bars = closes.enumerated().map { index, close in
            MinuteBar(ticker: "TEST", timestamp: Timestamp("2024-06-04T13:30:00Z")!.adding(minutes: index),
                      open: close, high: close, low: close, close: close, volume: 1)
        }
        let series = BarSeries(bars), batch = IndicatorBatch(series)
        // In order as a backtest asks, then at random (a block for an earlier minute is computed again).
        let ends = Array(0..<bars.count) + (0..<100).map { _ in Int(random.next() % UInt64(bars.count)) }
        for end in ends {
            for length in [51, 120, 200, 60] {
                let window = series.window(endingAt: end, count: length, batch: batch), own = series.window(endingAt: end, count: length)
                #expect(window.smaLastTwo(fast: 20, slow: 50).map { [$0.fast, $0.slow] } == own.withCloses { Indicators.smaLastTwo($0, fast: 20, slow: 50) }.map { [$0.fast, $0.slow] }, "sma \(end) \(length)")
                #expect(window.rsiLast(period: 14) == own.withCloses { Indicators.rsiLast($0, period: 14) }, "rsi \(end) \(length)")
                #expect(window.macdLastTwo().map { [$0.macd, $0.signal] } == own.withCloses { Indicators.macdLastTwo($0) }.map { [$0.macd, $0.signal] }, "macd \(end) \(length)")
            }
        }
        // The batch answers on its own thread only; elsewhere the window computes alone.
        #expect(batch.values(.rsi(period: 14), length: 120, endingAt: 500) != nil)
        final class Answer: @unchecked Sendable { var answered: Bool? } // written before the signal, read after it
        let answer = Answer(), done = DispatchSemaphore(value: 0)
        Thread {
            answer.answered = batch.values(.rsi(period: 14), length: 120, endingAt: 500) != nil
            done.signal()
        }.start()
        #expect(done.wait(timeout: .now() + 60) == .success && answer.answered == false)
    }

    @Test func wholeSharesInIntegersAreTheDecimalDivisions() {
        var random = SplitMix64(seed: 64)
        print("BacktestTests whole shares seed 64")
        let cases: [(Int64, Int64)] = [(0, 1_000_000), (1_000_000, 0), (-5, 10), (1_005_000, 1_000_000), (1_004_999, 1_000_000),
                                       (10_000_000_000, 149_230_000), (201_000_000, 1_000_000), (1, 1)]
            + (0..<20_000).map { _ in
                let cash = Int64(random.next() % 5_000_000_000_000), price = Int64(random.next() % 2_000_000_000) + 1
                // Some cash that buys a whole number of shares exactly, cushion included.
                return random.next() % 4 == 0 ? (price * 1005 * Int64(random.next() % 300) / 1000, price) : (cash, price)
            }
        for (cash, price) in cases {
            let cashDecimal = Money.exactDecimal(micros: cash), priceDecimal = Money.exactDecimal(micros: price)
            var expected = 0
            if cashDecimal > 0, priceDecimal > 0 {
                var quotient = cashDecimal / (priceDecimal * (1 + OrderGuards.cushion)), whole = Decimal()
                NSDecimalRound(&whole, &quotient, 0, .down)
                expected = NSDecimalNumber(decimal: whole).intValue
            }
            #expect(AlgorithmInput.wholeShares(cashMicros: cash, priceMicros: price) == expected, "\(cash) \(price)")
        }
        #expect(AlgorithmInput.wholeShares(cashMicros: .max / 2, priceMicros: 1) == nil)
    }

    @Test func theBuyLimitInIntegersIsTheGuardsLimit() {
        var random = SplitMix64(seed: 65)
        print("BacktestTests buy limit seed 65")
        let cases: [(Int, Int64, Int64)] = [(1, 1_000_000, 1_005_000), (1, 995_100, 1_000_000), (3, 999_000, 2_999_999), (7, 123_400, 900_000),
                                            (100, 149_230_000, 15_000_000_000), (1, 1, 1), (2, 5_000_000, 10_000_000)]
            + (0..<20_000).map { _ in
                let shares = Int(random.next() % 500) + 1
                let price = random.next() % 3 == 0 ? Int64(random.next() % 2_000_000) + 1 : Int64(random.next() % 900_000_000) + 1
                // Cash from just under the shares' cost to well above it, in micro-dollars.
                let cost = Int64(shares) * price
                return (shares, price, max(1, cost - cost / 200 + Int64(random.next() % UInt64(cost / 50 + 2))))
            }
        for (shares, price, cash) in cases {
            let expected = OrderGuards.buyLimit(shares: shares, price: Money.exactDecimal(micros: price), cash: Money.exactDecimal(micros: cash))
            #expect(OrderGuards.buyLimitMicros(shares: shares, priceMicros: price, cashMicros: cash).map(Money.exactDecimal(micros:)) == expected,
                    "\(shares) \(price) \(cash)")
        }
        #expect(OrderGuards.buyLimitMicros(shares: 0, priceMicros: 1, cashMicros: 1) == nil && OrderGuards.cushionMicros == 5_000)
    }

    @Test func badInputIsRefusedWithAClearReason() throws {
        #expect(throws: BacktestError.badDate("2024-13-01")) { try BacktestPeriod.dates("2024-13-01", "2024-12-31", calendar: Self.calendar) }
        #expect(throws: BacktestError.emptyRange(from: CivilDate("2024-06-05")!, to: CivilDate("2024-06-03")!)) {
            try BacktestPeriod.dates("2024-06-05", "2024-06-03", calendar: Self.calendar)
        }
        #expect(throws: BacktestError.noSessions(from: CivilDate("2024-06-08")!, to: CivilDate("2024-06-09")!)) {
            try BacktestPeriod.dates("2024-06-08", "2024-06-09", calendar: Self.calendar) // a weekend
        }
        #expect(throws: BacktestError.notOverYet(session: CivilDate("2024-06-04")!)) {
            try BacktestPeriod.dates("2024-06-04", "2024-06-04", calendar: Self.calendar, now: .at("2024-06-04T19:00:00Z"))
        }
        #expect(throws: BacktestError.badSessionCount(0)) { try BacktestPeriod.last(0, calendar: Self.calendar) }
        let last = try BacktestPeriod.last(3, calendar: Self.calendar, now: .at("2024-06-10T12:00:00Z"))
        #expect(last.sessions.map(\.date.text) == ["2024-06-05", "2024-06-06", "2024-06-07"])
        #expect(BacktestSettings(capital: 0).problem != nil)
        #expect(BacktestSettings(capital: Decimal(string: "10.001")!).problem != nil)
        #expect(BacktestError.unknownAlgorithm("nope", known: ["a", "b"]).description == "unknown algorithm type \"nope\" (available: a, b, or all)")
        let minutes = (0..<390).map { Timestamp.at("2024-06-04T13:30:00Z").adding(minutes: $0) } + [.at("2024-06-05T15:00:00Z")]
        #expect(MinuteRuns.describe(minutes) == "2024-06-04T13:30:00Z–2024-06-04T19:59:00Z (390), 2024-06-05T15:00:00Z")
    }

    @Test func stocksDBsMissingSessionsAreNamedAndItsBarsAreLoadedWithTheirWarmUp() async throws {
        let directory = TemporaryDirectory("backtest")
        let stocks = try StocksDatabase.open(path: directory.file("stocks.db"), create: true)
        try stocks.insert(Self.bars((0..<60).map { _ in (10, 10, 0) }, from: "2024-06-03T19:00:00Z"))
        try stocks.insert(Self.bars((0..<390).map { _ in (10, 10, 0) }, from: "2024-06-04T13:30:00Z"))
        let history = BacktestHistory(stocks: stocks, calendar: Self.calendar)
        let period = try BacktestPeriod.dates("2024-06-04", "2024-06-05", calendar: Self.calendar)
        let unserved = try history.unservedMinutes(ticker: "TEST", period: period)
        #expect(unserved.count == 390 && unserved.first == .at("2024-06-05T13:30:00Z"))
        let loaded = try history.bars(ticker: "TEST", period: period, warmUp: 51)
        #expect(loaded.firstIndex == 51 && loaded.rangeCount == 390)
        #expect(loaded.bars[0].timestamp == .at("2024-06-03T19:09:00Z"))
    }
}
