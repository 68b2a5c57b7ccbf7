import Foundation
import Testing
@testable import AutoTraderCore

@Suite struct AlpacaConfigurationTests {
    func resolve(_ values: [String: String]) throws -> AlpacaConfiguration {
        try AlpacaConfiguration.resolve(Settings(values: values))
    }

    @Test func noKeysMeansSimulatedModeAgainstTheLocalSimulator() throws {
        let configuration = try resolve([:])
        #expect(configuration.mode == .simulated)
        #expect(configuration.tradingURL.absoluteString == "http://127.0.0.1:\(SimulatorDefaults.port)")
        #expect(configuration.streamURL.absoluteString == "ws://127.0.0.1:\(SimulatorDefaults.port)/v2/iex")
        #expect(configuration.keyID == SimulatorDefaults.keyID)
        let elsewhere = try resolve(["AUTOTRADER_SIM_URL": "http://127.0.0.1:6001", "ALPACA_FEED": "sip"])
        #expect(elsewhere.dataURL.absoluteString == "http://127.0.0.1:6001")
        #expect(elsewhere.streamURL.absoluteString == "ws://127.0.0.1:6001/v2/sip")
    }

    @Test func keysSelectPaperByDefaultAndLiveWhenAsked() throws {
        let paper = try resolve(["ALPACA_API_KEY": "PKTEST", "ALPACA_SECRET": "s3cret"])
        #expect(paper.mode == .paper)
        #expect(paper.tradingURL.absoluteString == "https://paper-api.alpaca.markets")
        #expect(paper.dataURL.absoluteString == "https://data.alpaca.markets")
        #expect(paper.streamURL.absoluteString == "wss://stream.data.alpaca.markets/v2/iex")
        let live = try resolve(["APCA_API_KEY_ID": "AKLIVE", "APCA_API_SECRET_KEY": "s3cret", "ALPACA_PAPER": "false"])
        #expect(live.mode == .live)
        #expect(live.tradingURL.absoluteString == "https://api.alpaca.markets")
        #expect(live.keyID == "AKLIVE")
    }

    @Test func everyBaseURLCanBeOverridden() throws {
        let configuration = try resolve([
            "ALPACA_API_KEY": "PK", "ALPACA_SECRET": "s",
            "ALPACA_TRADING_URL": "http://127.0.0.1:7000", "ALPACA_DATA_URL": "http://127.0.0.1:7001",
            "ALPACA_STREAM_URL": "ws://127.0.0.1:7002", "ALPACA_FEED": "SIP",
        ])
        #expect(configuration.tradingURL.absoluteString == "http://127.0.0.1:7000")
        #expect(configuration.dataURL.absoluteString == "http://127.0.0.1:7001")
        #expect(configuration.streamURL.absoluteString == "ws://127.0.0.1:7002/v2/sip")
        let fullPath = try resolve(["ALPACA_API_KEY": "PK", "ALPACA_SECRET": "s", "ALPACA_STREAM_URL": "wss://stream.example/v2/test"])
        #expect(fullPath.streamURL.absoluteString == "wss://stream.example/v2/test")
    }

    @Test func badSettingsAreClearErrorsNamingTheKey() {
        for (values, key) in [
            (["ALPACA_API_KEY": "PK"], "ALPACA_SECRET"),
            (["ALPACA_SECRET": "s"], "ALPACA_API_KEY"),
            (["ALPACA_PAPER": "maybe"], "ALPACA_PAPER"),
            (["ALPACA_FEED": "otc"], "ALPACA_FEED"),
            (["ALPACA_API_KEY": "PK", "ALPACA_SECRET": "s", "ALPACA_TRADING_URL": "ftp://x"], "ALPACA_TRADING_URL"),
            (["ALPACA_API_KEY": "PK", "ALPACA_SECRET": "s", "ALPACA_DATA_URL": "not a url"], "ALPACA_DATA_URL"),
        ] as [([String: String], String)] {
            do {
                _ = try resolve(values)
                Issue.record("\(values) should be refused")
            } catch let error as AlpacaError {
                #expect(error.description.contains(key), "\(error)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func theSecretIsNeverPrinted() throws {
        let configuration = try resolve(["ALPACA_API_KEY": "PKABCDEFGH", "ALPACA_SECRET": "very-secret-value"])
        #expect(!configuration.description.contains("very-secret-value"))
        #expect(!configuration.description.contains("PKABCDEFGH"))
        #expect(!"\(configuration)".contains("very-secret-value"))
    }
}
