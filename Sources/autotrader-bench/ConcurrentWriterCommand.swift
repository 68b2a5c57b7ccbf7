import ArgumentParser
@_spi(Benchmarks) import AutoTraderCore
import Foundation

/// A load generator for the multi-process tests: one OS process that writes
/// trades and bars (or reads cards and bars) as fast as it can for a while,
/// then prints what it did as JSON. Several run at once against the same files.
struct ConcurrentWriter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concurrent-writer",
        abstract: "Write (or read) system.db and stocks.db for some seconds and report the counts as JSON.")

    enum Mode: String, ExpressibleByArgument { case write, read }

    @Option var systemDb: String
    @Option var stocksDb: String
    @Option(help: "write: record trades and insert bars; read: read cards and bars.")
    var mode: Mode = .write
    @Option(help: "The algorithm this writer trades for.")
    var algorithmId: Int64 = 1
    @Option(help: "The ticker this writer inserts bars for.")
    var ticker: String = "AAA"
    @Option(help: "How long to keep writing; 0 only opens the databases (the first-open race).")
    var seconds: Double = 3
    @Option(help: "Wait until this Unix time in milliseconds before opening the databases, so that all processes start together.")
    var startAt: Int64 = 0

    struct Report: Codable {
        var trades = 0
        var bars = 0
        var reads = 0
        var systemVersion = 0
        var stocksVersion = 0
    }

    func run() throws {
        let start = Date(timeIntervalSince1970: Double(startAt) / 1000)
        if start > Date() { Thread.sleep(until: start) }
        let system = try SystemDatabase.open(path: systemDb, create: true)
        let stocks = try StocksDatabase.open(path: stocksDb, create: true)
        var report = Report()
        report.systemVersion = try system.benchmarkPool.read { try DatabaseFile.userVersion($0) }
        report.stocksVersion = try stocks.benchmarkPool.read { try DatabaseFile.userVersion($0) }

        let deadline = Date().addingTimeInterval(seconds)
        let calendar = try MarketCalendar()
        var minute = calendar.sessions(
            from: CivilDate(year: 2024, month: 6, day: 3)!, through: CivilDate(year: 2024, month: 6, day: 3)!)[0].open
        let reader = CardReader(system: system, stocks: stocks)
        var iteration = 0
        while Date() < deadline {
            switch mode {
            case .write:
                // Buy then sell one share, so every sell is covered by this writer's own buy.
                let side: TradeSide = iteration % 2 == 0 ? .buy : .sell
                let price = Decimal(100) + Decimal(iteration % 100) / 100
                try system.recordTrade(algorithmId: algorithmId, side: side, shares: 1, price: price, at: minute)
                report.trades += 1
                try stocks.insert([MinuteBar(
                    ticker: ticker, timestamp: minute, open: 100, high: 101, low: 99, close: 100.5, volume: 1000)])
                report.bars += 1
                minute = try calendar.nextMarketMinute(after: minute)
            case .read:
                let cards = try reader.cards(status: nil)
                for card in cards {
                    _ = try stocks.bars(ticker: card.algorithm.ticker, before: Timestamp(secondsSinceEpoch: 4_000_000_000), count: 51)
                }
                report.reads += 1
            }
            iteration += 1
        }
        let encoder = JSONEncoder()
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}
