import Foundation
import Testing
@testable import AutoTraderCore
@testable import TradingAlgorithms

/// The shared indicators against published reference values, the shipped algorithms on constructed
/// price paths, the generated registry against the algorithm/ folder, and `autotrader indicators`.
@Suite struct IndicatorTests {
    /// StockCharts ChartSchool's RSI worked example (cs-rsi.xls): Wilder's smoothing, first value at index 14.
    static let chartSchoolCloses = [
        44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931,
        46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521,
        45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314,
    ]
    static let chartSchoolRSI = [
        70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99, 41.46, 41.87,
        45.46, 37.30, 33.08, 37.77,
    ]
    /// StockCharts ChartSchool's moving-average example (cs-movavg.xls): 10-day EMA seeded with the 10-day SMA.
    static let movingAverageCloses = [
        22.27, 22.19, 22.08, 22.17, 22.18, 22.13, 22.23, 22.43, 22.24, 22.29, 22.15, 22.39, 22.38, 22.61, 23.36,
        24.05, 23.75, 23.83, 23.95, 23.63, 23.82, 23.87, 23.65, 23.19, 23.10, 23.33, 22.68, 23.10, 22.40, 22.17,
    ]
    static let publishedEMA10 = [
        22.22, 22.21, 22.24, 22.27, 22.33, 22.52, 22.80, 22.97, 23.13, 23.28, 23.34, 23.43, 23.51, 23.54, 23.47,
        23.40, 23.39, 23.26, 23.23, 23.08, 22.92,
    ]

    @Test func rsiMatchesThePublishedWilderExample() {
        let rsi = Indicators.rsi(Self.chartSchoolCloses, period: 14)
        #expect(rsi.prefix(14).allSatisfy { $0 == nil })
        let values = rsi.dropFirst(14).map { $0! }
        #expect(values.count == Self.chartSchoolRSI.count)
        for (value, published) in zip(values, Self.chartSchoolRSI) {
            #expect(abs(value - published) < 0.006, "\(value) vs \(published)")
        }
    }

    @Test func emaMatchesThePublishedExampleAndIsSeededWithTheSMA() {
        let ema = Indicators.ema(Self.movingAverageCloses, period: 10)
        let sma = Indicators.sma(Self.movingAverageCloses, period: 10)
        #expect(ema.prefix(9).allSatisfy { $0 == nil })
        #expect(ema[9] == sma[9])
        for (value, published) in zip(ema.dropFirst(9).map { $0! }, Self.publishedEMA10) {
            // The sheet rounds each cell to cents; one value sits on a half cent.
            #expect(abs(value - published) < 0.011, "\(value) vs \(published)")
        }
        #expect(abs(sma[9]! - 22.22) < 0.005)
        let lastTen: Double = Self.movingAverageCloses.suffix(10).reduce(0, +) / 10
        #expect(abs(sma[29]! - lastTen) < 1e-12)
    }

    @Test func macdIsTheEMADifferenceWithAnSMASeededSignal() {
        let closes: [Double] = (0..<120).map { (index: Int) -> Double in
            let x = Double(index)
            return 100 + 5 * sin(x / 7) + x * 0.05
        }
        let macd = Indicators.macd(closes)
        let ema12 = Indicators.ema(closes, period: 12), ema26 = Indicators.ema(closes, period: 26)
        #expect(macd.macd.prefix(25).allSatisfy { $0 == nil } && macd.macd[25] != nil)
        for index in 25..<closes.count { #expect(abs(macd.macd[index]! - (ema12[index]! - ema26[index]!)) < 1e-12) }
        // Signal: EMA9 of MACD seeded with the mean of its first 9 values, so first at index 25 + 8.
        #expect(macd.signal.prefix(33).allSatisfy { $0 == nil })
        let seed = macd.macd[25...33].map { $0! }.reduce(0, +) / 9
        #expect(abs(macd.signal[33]! - seed) < 1e-12)
        let next = seed + (macd.macd[34]! - seed) * 0.2
        #expect(abs(macd.signal[34]! - next) < 1e-12)
        for index in 33..<closes.count { #expect(abs(macd.histogram[index]! - (macd.macd[index]! - macd.signal[index]!)) < 1e-12) }
    }

    @Test func rsiEdgesAreHundredWithoutLossesAndFiftyWhenFlat() {
        #expect(Indicators.rsi((1...20).map(Double.init)).last! == 100)
        #expect(Indicators.rsi([Double](repeating: 5, count: 20)).last! == 50)
        #expect(Indicators.rsi((1...20).reversed().map(Double.init)).last! == 0)
        #expect(Indicators.rsi([1, 2, 3]).allSatisfy { $0 == nil })
    }

    @Test func theRegistryIsExactlyTheAlgorithmFolder() throws {
        let folder = Repository.root.appendingPathComponent("algorithm")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".swift") }.map { String($0.dropLast(6)) }.sorted()
        #expect(AlgorithmRegistry.catalog.names == files)
        #expect(files.contains("sma_crossover") && files.contains("rsi_bounce") && files.contains("macd_signal"))
        #expect(AlgorithmRegistry.catalog.longestLookback == AlgorithmRegistry.catalog.entries.map(\.barsNeeded).max())
        for entry in AlgorithmRegistry.catalog.entries { #expect(!entry.summary.isEmpty) }
    }
}

/// The shipped algorithms on price paths built to cross (or not).
@Suite struct ShippedAlgorithmTests {
    static let start = Timestamp.at("2024-06-04T13:30:00Z")

    static func bars(_ closes: [Double]) -> [MinuteBar] {
        closes.enumerated().map { index, close in
            MinuteBar(ticker: "TEST", timestamp: start.adding(minutes: index), open: close, high: close, low: close, close: close, volume: 100)
        }
    }

    static func input(_ closes: [Double], capital: Decimal = 10_000, trades: [Trade] = []) -> AlgorithmInput {
        let bars = bars(closes)
        return AlgorithmInput(ticker: "TEST", initialCapital: capital, bars: bars, transactions: trades, now: bars.last!.timestamp)
    }

    static func buy(_ shares: Int, at price: Decimal) -> Trade {
        Trade(id: 1, algorithmId: 1, side: .buy, shares: shares, price: price, timestamp: start)
    }

    @Test func smaCrossoverBuysOnTheUpCrossWithItsOwnCashAndSellsEverythingOnTheDownCross() throws {
        // 50 falling closes, then a jump: the 20-minute average crosses above the 50-minute one at the last bar.
        var closes = (0..<50).map { 100 - Double($0) * 0.1 }
        closes.append(200)
        let decision = try SmaCrossover().decide(Self.input(closes))
        // 10,000 at 200 with the 0.5 % cushion: floor(10000 / 201) = 49 shares.
        #expect(decision.action == .buy(49), "\(decision)")
        let already = try SmaCrossover().decide(Self.input(closes, trades: [Self.buy(50, at: 200)]))
        #expect(already.action == .hold) // no cash left for a share

        var falling = (0..<50).map { 100 + Double($0) * 0.1 }
        falling.append(20)
        let sell = try SmaCrossover().decide(Self.input(falling, trades: [Self.buy(30, at: 100)]))
        #expect(sell.action == .sell(30), "\(sell)")
        let nothing = try SmaCrossover().decide(Self.input(falling))
        #expect(nothing.action == .hold)
        #expect(try SmaCrossover().decide(Self.input(Array(closes.prefix(40)))).reason.contains("warming up"))
    }

    @Test func rsiBounceBuysOversoldAndSellsOverbought() throws {
        let falling = (0..<30).map { 100 - Double($0) }
        // 1,000 at 71 with the 0.5 % cushion: floor(1000 / 71.355) = 14 shares.
        #expect(try RsiBounce().decide(Self.input(falling, capital: 1000)).action == .buy(14))
        let rising = (0..<30).map { 50 + Double($0) }
        #expect(try RsiBounce().decide(Self.input(rising, trades: [Self.buy(7, at: 50)])).action == .sell(7))
        #expect(try RsiBounce().decide(Self.input(rising)).action == .hold) // nothing to sell
        let flat = [Double](repeating: 10, count: 30)
        #expect(try RsiBounce().decide(Self.input(flat)).action == .hold)
    }

    @Test func macdSignalBuysWhenMACDCrossesAboveItsSignal() throws {
        // A long decline, then a sharp turn up: MACD crosses its signal line from below at some bar.
        var closes = (0..<100).map { 200 - Double($0) * 0.5 }
        var decisions: [AlgorithmDecision.Action] = []
        for step in 0..<20 {
            closes.append(150 + Double(step) * 2)
            decisions.append(try MacdSignal().decide(Self.input(closes)).action)
        }
        #expect(decisions.filter { if case .buy = $0 { return true }; return false }.count == 1, "\(decisions)")
    }

    @Test func lotsAreTrackedFirstInFirstOut() {
        let trades = [
            Trade(id: 1, algorithmId: 1, side: .buy, shares: 10, price: 5, timestamp: .at("2024-06-04T13:30:00Z")),
            Trade(id: 2, algorithmId: 1, side: .buy, shares: 5, price: 6, timestamp: .at("2024-06-04T13:31:00Z")),
            Trade(id: 3, algorithmId: 1, side: .sell, shares: 12, price: 7, timestamp: .at("2024-06-04T13:32:00Z")),
        ]
        let input = AlgorithmInput(ticker: "T", initialCapital: 100, bars: [], transactions: trades, now: .at("2024-06-04T13:33:00Z"))
        #expect(input.openLots == [AlgorithmInput.Lot(shares: 3, price: 6, boughtAt: .at("2024-06-04T13:31:00Z"))])
        #expect(input.sharesHeld == 3)
        #expect((input.uninvestedCash - 104).isZero, "\(input.uninvestedCash)")
    }
}

/// `autotrader indicators FILE.csv`.
@Suite struct IndicatorsCommandTests {
    @Test func printsEveryIndicatorAsCSVBlankDuringWarmUp() async throws {
        let directory = TemporaryDirectory("indicators")
        let closes = IndicatorTests.chartSchoolCloses + (0..<30).map { 43 + sin(Double($0)) }
        var csv = "timestamp,close\n"
        for (index, close) in closes.enumerated() {
            csv += "\(Timestamp.at("2024-06-04T13:30:00Z").adding(minutes: index).text),\(close)\n"
        }
        try csv.write(toFile: directory.file("closes.csv"), atomically: true, encoding: .utf8)
        let result = try await Executables.run("autotrader", ["indicators", directory.file("closes.csv")], directory: directory)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "timestamp,close,sma20,sma50,ema12,ema26,macd,macd_signal,macd_hist,rsi14")
        #expect(lines.count == closes.count + 1)
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.allSatisfy { $0.count == 10 })
        #expect(rows[13][9] == "" && rows[14][9] == "70.53" && rows[15][9] == "66.32")
        #expect(rows[18][2] == "" && rows[19][2] != "" && rows[48][3] == "" && rows[49][3] != "")
        #expect(rows[32][7] == "" && rows[33][7] != "" && rows[33][8] != "")
        let sma20 = Indicators.sma(closes, period: 20)
        #expect(Double(rows[40][2])! == Double(Indicators.format(sma20[40]!, places: 4))!)

        try "timestamp,close\n2024-06-04T13:30:00Z,abc\n".write(toFile: directory.file("bad.csv"), atomically: true, encoding: .utf8)
        let bad = try await Executables.run("autotrader", ["indicators", directory.file("bad.csv")], directory: directory)
        #expect(bad.status != 0 && bad.stderr.contains("bad.csv:2") && bad.stdout.isEmpty)
        try "2024-06-04T13:31:00Z,1\n2024-06-04T13:30:00Z,2\n".write(toFile: directory.file("order.csv"), atomically: true, encoding: .utf8)
        let order = try await Executables.run("autotrader", ["indicators", directory.file("order.csv")], directory: directory)
        #expect(order.status != 0 && order.stderr.contains("order.csv:2") && order.stderr.contains("oldest first"))
    }
}
