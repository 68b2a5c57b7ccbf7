import Foundation
import GRDB
import Testing
@testable import AutoTraderCore

@Suite struct StocksDatabaseTests {
    var stocks: StocksDatabase { SharedStocks.database }

    func bar(_ ticker: String, _ time: String, close: Double, volume: Int64 = 100) -> MinuteBar {
        MinuteBar(ticker: ticker, timestamp: .at(time), open: close, high: close + 1, low: close - 1, close: close, volume: volume)
    }

    @Test func walNormalSyncAndBiggerWriterCache() throws {
        try stocks.pool.write { db throws in
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
            #expect(try Int.fetchOne(db, sql: "PRAGMA synchronous") == 1) // NORMAL
            #expect(try Int.fetchOne(db, sql: "PRAGMA cache_size") == -StocksSchema.schema.writerCacheKiB)
        }
    }

    @Test func insertsAndReadsTheLastNBarsBeforeAnInstantOldestFirst() throws {
        let minutes = (0..<10).map { Timestamp.at("2024-06-04T13:30:00Z").adding(minutes: $0) }
        try stocks.insert(minutes.enumerated().map { index, minute in
            MinuteBar(ticker: "SDBA", timestamp: minute, open: 10, high: 30, low: 9, close: 10 + Double(index), volume: Int64(index),
                      tradeCount: Int64(index * 2), vwap: 10.5)
        })
        let last3 = try stocks.bars(ticker: "SDBA", before: .at("2024-06-04T13:37:00Z"), count: 3)
        #expect(last3.map(\.timestamp.text) == ["2024-06-04T13:34:00Z", "2024-06-04T13:35:00Z", "2024-06-04T13:36:00Z"])
        #expect(last3.map(\.close) == [14, 15, 16])
        #expect(last3[0].tradeCount == 8)
        #expect(last3[0].vwap == 10.5)
        #expect(try stocks.bars(ticker: "SDBA", before: .at("2024-06-04T13:30:00Z"), count: 5).isEmpty)
        #expect(try stocks.bars(ticker: "SDBA", before: .at("2024-06-05T00:00:00Z"), count: 51).count == 10)
        #expect(try stocks.bars(ticker: "NOPE", before: .at("2024-06-05T00:00:00Z"), count: 51).isEmpty)
        let latest = try #require(try stocks.latestPrice(ticker: "SDBA"))
        #expect(latest.close == 19)
        #expect(latest.timestamp == .at("2024-06-04T13:39:00Z"))
        #expect(try stocks.latestPrice(ticker: "NOPE") == nil)
    }

    @Test func aCorrectedBarReplacesTheEarlierOne() throws {
        try stocks.insert([bar("SDBB", "2024-06-04T14:00:00Z", close: 50, volume: 10)])
        try stocks.insert([bar("SDBB", "2024-06-04T14:00:00Z", close: 51.25, volume: 12)])
        let bars = try stocks.bars(ticker: "SDBB", from: .at("2024-06-04T00:00:00Z"), to: .at("2024-06-05T00:00:00Z"))
        #expect(bars.count == 1)
        #expect(bars[0].close == 51.25)
        #expect(bars[0].volume == 12)
        #expect(bars[0].tradeCount == nil)
    }

    @Test func oneUnsoundBarRefusesTheWholeBatch() throws {
        let good = bar("SDBC", "2024-06-04T14:00:00Z", close: 50)
        let unsound: [MinuteBar] = [
            MinuteBar(ticker: "SDBC", timestamp: .at("2024-06-04T14:01:00Z"), open: 50, high: 49, low: 48, close: 50, volume: 1),
            MinuteBar(ticker: "SDBC", timestamp: .at("2024-06-04T14:01:30Z"), open: 50, high: 51, low: 49, close: 50, volume: 1),
            MinuteBar(ticker: "sdbc", timestamp: .at("2024-06-04T14:01:00Z"), open: 50, high: 51, low: 49, close: 50, volume: 1),
            MinuteBar(ticker: "SDBC", timestamp: .at("2024-06-04T14:01:00Z"), open: .nan, high: 51, low: 49, close: 50, volume: 1),
            MinuteBar(ticker: "SDBC", timestamp: .at("2024-06-04T14:01:00Z"), open: 50, high: 51, low: 49, close: 50, volume: -1),
            MinuteBar(ticker: "SDBC", timestamp: .at("2024-06-04T14:01:00Z"), open: 0, high: 51, low: 0, close: 50, volume: 1),
        ]
        for bad in unsound {
            #expect(throws: AutoTraderError.self) { try stocks.insert([good, bad]) }
        }
        #expect(try stocks.barCount(ticker: "SDBC") == 0)
    }

    @Test func missingMinutesAreTheMarketMinutesWithoutABar() throws {
        // 2024-07-03 closes early at 13:00 New York (17:00Z); the range crosses the close and the July 4 holiday.
        try stocks.insert([
            bar("SDBD", "2024-07-03T16:57:00Z", close: 10),
            bar("SDBD", "2024-07-03T16:59:00Z", close: 10),
            bar("SDBD", "2024-07-05T13:31:00Z", close: 10),
        ])
        let missing = try stocks.missingMinutes(ticker: "SDBD", from: .at("2024-07-03T16:56:00Z"), to: .at("2024-07-05T13:33:00Z"))
        #expect(missing.map(\.text) == [
            "2024-07-03T16:56:00Z", "2024-07-03T16:58:00Z", "2024-07-05T13:30:00Z", "2024-07-05T13:32:00Z",
        ])
        #expect(throws: AutoTraderError.self) {
            try stocks.missingMinutes(ticker: "SDBD", from: .at("2024-07-05T13:33:00Z"), to: .at("2024-07-03T16:56:00Z"))
        }
    }

    @Test func marketHoursQuestionsAreAnsweredFromTheCalendarTables() throws {
        #expect(try stocks.isMarketOpen(at: .at("2024-06-04T13:30:00Z")))
        #expect(try stocks.isMarketOpen(at: .at("2024-06-04T19:59:59Z")))
        #expect(try !stocks.isMarketOpen(at: .at("2024-06-04T20:00:00Z")))
        #expect(try !stocks.isMarketOpen(at: .at("2024-07-04T15:00:00Z"))) // Independence Day
        #expect(try stocks.nextMarketMinute(after: .at("2024-06-07T19:59:00Z")) == .at("2024-06-10T13:30:00Z"))
        #expect(try stocks.previousMarketMinute(before: .at("2024-06-10T13:30:00Z")) == .at("2024-06-07T19:59:00Z"))
        #expect(try stocks.nextMarketMinute(after: .at("2024-06-04T13:30:59Z")) == .at("2024-06-04T13:31:00Z"))
        #expect(throws: AutoTraderError.self) { try stocks.isMarketOpen(at: .at("2031-06-04T14:00:00Z")) }
        #expect(throws: AutoTraderError.self) { try stocks.isMarketOpen(at: .at("2017-06-05T14:00:00Z")) }
    }

    @Test func theFirstMigrationFillsSessionsAndMinutes() throws {
        let (sessions, minutes, earlyCloses) = try stocks.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM market_sessions")!,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM market_minutes")!,
             try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM market_sessions
                WHERE strftime('%s', close_utc) - strftime('%s', open_utc) = 210 * 60
                """)!)
        }
        let calendar = try MarketCalendar()
        let all = calendar.allSessions()
        #expect(sessions == all.count)
        #expect(minutes == all.reduce(0) { $0 + $1.minuteCount })
        #expect(earlyCloses == all.filter(\.isEarlyClose).count)
        #expect((1_250_000...1_300_000).contains(minutes))
    }
}
