import Foundation
import Testing
@testable import AutoTraderCore

@Suite struct BarCSVImportTests {
    let importer = BarCSVImport(calendar: try! MarketCalendar())

    @Test func readsRowsWithOrWithoutAHeaderInAnyColumnOrder() {
        let plain = importer.parse("""
            NVDA,2024-06-04T13:30:00Z,10,11,9,10.5,1000
            NVDA,2024-06-04T13:31:00Z,10.5,11,10,10.75,900\r
            """)
        #expect(plain.errors.isEmpty)
        #expect(plain.bars.map(\.close) == [10.5, 10.75])
        let headed = importer.parse("""
            timestamp,ticker,close,open,high,low,volume,vwap,trade_count

            2024-06-04T13:30:00Z,AMD,10.5,10,11,9,1000,10.2,42
            """)
        #expect(headed.errors.isEmpty)
        #expect(headed.bars == [MinuteBar(
            ticker: "AMD", timestamp: .at("2024-06-04T13:30:00Z"), open: 10, high: 11, low: 9, close: 10.5,
            volume: 1000, tradeCount: 42, vwap: 10.2)])
    }

    @Test func readsFilesAsSpreadsheetsAndBrokersWriteThem() {
        // CRLF line ends (Excel, most brokers), a byte-order mark, quoted fields and a quoted header.
        let crlf = "ticker,timestamp,open,high,low,close,volume\r\nNVDA,2024-06-04T13:30:00Z,10,11,9,10.5,1000\r\nNVDA,2024-06-04T13:31:00Z,10.5,11,10,10.75,900\r\n"
        let fromExcel = importer.parse(crlf)
        #expect(fromExcel.errors.isEmpty, "\(fromExcel.errors)")
        #expect(fromExcel.bars.map(\.close) == [10.5, 10.75])
        let withBOM = importer.parse("\u{FEFF}" + crlf)
        #expect(withBOM.errors.isEmpty && withBOM.bars.count == 2, "\(withBOM.errors)")
        let quoted = importer.parse(
            "\u{FEFF}\"ticker\",\"timestamp\",\"open\",\"high\",\"low\",\"close\",\"volume\"\r\n\"BRK.B\",\"2024-06-04T13:30:00Z\",\"410.5\",\"411\",\"409\",\"410.25\",\"1200\"\r\n")
        #expect(quoted.errors.isEmpty, "\(quoted.errors)")
        #expect(quoted.bars.first?.ticker == "BRK.B" && quoted.bars.first?.close == 410.25)
        // Old Macs' lone CR, and a field with a comma and a doubled quote inside quotes.
        #expect(CSVRecords.parse("a,b\rc,d\r").records.map(\.fields) == [["a", "b"], ["c", "d"]])
        #expect(CSVRecords.parse("\"x, \"\"y\"\"\",z\n").records.map(\.fields) == [["x, \"y\"", "z"]])
        #expect(CSVRecords.parse("a\n\"b\nc\",d\ne,f").records.map(\.line) == [1, 2, 4])
        #expect(CSVRecords.parse("a,\"b\nc").unclosedQuote == CSVRecords.UnclosedQuote(line: 1))
        // A bad header is one clear line that names the columns, never the file's rows echoed back.
        let bad = importer.parse("ticker,time,open,high,low,close,volume,\(String(repeating: "x", count: 300))\r\nNVDA,2024-06-04T13:30:00Z,10,11,9,10.5,1000,1\r\n")
        #expect(bad.errors.count == 1 && bad.bars.isEmpty)
        let message = bad.errors.first?.description ?? ""
        #expect(message.contains("missing column(s) timestamp") && message.contains("unknown column(s) \"time\""), "\(message)")
        #expect(!message.contains("NVDA") && !message.contains("\n") && message.count < 200, "\(message)")
    }

    @Test func reportsEveryBadRowByLineNumber() {
        let parsed = importer.parse("""
            ticker,timestamp,open,high,low,close,volume
            NVDA,2024-06-04T13:30:00Z,10,11,9,10.5,1000
            nvda,2024-06-04T13:31:00Z,10,11,9,10.5,1000
            NVDA,2024-06-04 13:32:00,10,11,9,10.5,1000
            NVDA,2024-06-04T13:33:00Z,abc,11,9,10.5,1000
            NVDA,2024-06-04T13:34:00Z,10,11,9,10.5
            NVDA,2024-06-04T13:35:00Z,10,9,11,10.5,1000
            NVDA,2024-06-04T13:36:00Z,10,11,9,10.5,-1
            NVDA,2024-06-04T12:00:00Z,10,11,9,10.5,1000
            NVDA,2024-06-04T13:30:00Z,10,11,9,10.5,1000
            NVDA,2024-06-04T13:37:30Z,10,11,9,10.5,1000
            NVDA,2024-06-04T13:38:00Z,1e3,1e3,1e3,1e3,1
            NVDA,2024-06-04T13:39:00Z,inf,11,9,10.5,1
            NVDA,2016-06-06T14:00:00Z,10,11,9,10.5,1000
            """)
        #expect(parsed.errors.map(\.line) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
        #expect(parsed.errors[0].reason.contains("ticker"))
        #expect(parsed.errors[1].reason.contains("timestamp"))
        #expect(parsed.errors[3].reason.contains("expected 7 fields"))
        #expect(parsed.errors[6].reason.contains("outside regular market hours"))
        #expect(parsed.errors[7].reason.contains("repeats NVDA 2024-06-04T13:30:00Z of line 2"))
        #expect(parsed.errors[11].reason.contains("outside the market calendar"))
    }

    @Test func extendedHoursRowsCanBeLeftOutOnRequest() {
        let lenient = BarCSVImport(calendar: try! MarketCalendar(), skipOutsideHours: true)
        let parsed = lenient.parse("""
            NVDA,2024-06-04T12:00:00Z,10,11,9,10.5,1000
            NVDA,2024-06-04T13:30:00Z,10,11,9,10.5,1000
            NVDA,2024-06-04T20:00:00Z,10,11,9,10.5,1000
            """)
        #expect(parsed.errors.isEmpty)
        #expect(parsed.bars.count == 1)
        #expect(parsed.skippedOutsideHours == 2)
    }

    @Test func aBadHeaderStopsAtTheHeader() {
        let parsed = importer.parse("ticker,time,open,high,low,close,volume\nNVDA,2024-06-04T13:30:00Z,10,11,9,10.5,1000")
        #expect(parsed.errors.count == 1)
        #expect(parsed.errors[0].line == 1)
        #expect(parsed.errors[0].reason.contains("missing column(s) timestamp"))
        #expect(parsed.bars.isEmpty)
    }
}

@Suite struct SettingsTests {
    @Test func parsesEnvFilesWithCommentsQuotesAndExport() throws {
        let values = try ConfigFile.parse("""
            # AutoTrader
            ALPACA_API_KEY="PK123"
            export ALPACA_PAPER=true   # paper trading
            AUTOTRADER_SYSTEM_DB='/var/lib/autotrader/system.db'
            EMPTY=
            """)
        #expect(values["ALPACA_API_KEY"] == "PK123") // quotes removed, unlike some .env readers
        #expect(values["ALPACA_PAPER"] == "true")
        #expect(values["AUTOTRADER_SYSTEM_DB"] == "/var/lib/autotrader/system.db")
        #expect(values["EMPTY"] == "")
    }

    @Test func malformedLinesNameTheLineButNeverTheValue() {
        do {
            _ = try ConfigFile.parse("OK=1\nALPACA_SECRET=\"sk-secret-value\nX=2", path: "autotrader.env")
            Issue.record("expected a parse error")
        } catch let error as ConfigFile.ParseError {
            #expect(error.line == 2)
            #expect(error.description.hasPrefix("autotrader.env:2:"))
            #expect(!error.description.contains("sk-secret-value"))
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: ConfigFile.ParseError.self) { try ConfigFile.parse("just words") }
        #expect(throws: ConfigFile.ParseError.self) { try ConfigFile.parse("BAD-KEY=1") }
    }

    @Test func environmentOverridesTheFileAndPathsDefaultUnderHome() throws {
        let directory = TemporaryDirectory("settings")
        let config = directory.file("autotrader.env")
        try "AUTOTRADER_HOME=/srv/at\nAUTOTRADER_STOCKS_DB=/data/stocks.db\nALPACA_SECRET=shh\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let settings = try Settings.load(environment: ["AUTOTRADER_CONFIG": config, "AUTOTRADER_STOCKS_DB": "/env/stocks.db"])
        #expect(settings.systemDatabasePath == "/srv/at/system_databse/system.db")
        #expect(settings.stocksDatabasePath == "/env/stocks.db")
        #expect(!settings.description.contains("shh"))
        #expect(settings.description.contains("ALPACA_SECRET=<redacted>"))
        #expect(throws: ConfigFile.ParseError.self) {
            try Settings.load(environment: ["AUTOTRADER_CONFIG": directory.file("absent.env")])
        }
    }
}
