import Foundation
import Testing
@testable import AutoTraderCore

/// The dashboard in a real Chromium (WebDriver), served by the real api with real databases and the
/// simulator as the broker. Screenshots at 800×480 and 1920×1080 go to artifacts/screenshots/.
@Suite(.serialized) struct DashboardBrowserTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let frontend = repository.appendingPathComponent("frontend").path
    static let artifacts = repository.appendingPathComponent("artifacts/screenshots")

    /// A world whose api serves frontend/.
    func world(simArguments: [String] = APIWorld.simArguments) async throws -> APIWorld {
        try await APIWorld(simArguments: simArguments, apiArguments: ["--frontend", Self.frontend])
    }

    func browser(_ width: Int = 800, _ height: Int = 480) async throws -> WebDriver {
        try await WebDriver(width: width, height: height)
    }

    func save(_ browser: WebDriver, _ name: String) async throws {
        try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
        let png = try await browser.screenshot()
        #expect(png.count > 1000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        try png.write(to: Self.artifacts.appendingPathComponent("\(name).png"))
    }

    /// Opens the page and waits for its first completed poll.
    func open(_ browser: WebDriver, _ world: APIWorld, query: String = "") async throws {
        try await browser.navigate("\(world.api.baseURL)/\(query.isEmpty ? "" : "?" + query)")
        #expect(try await browser.waitUntil("return Number(document.body.dataset.pollCount || 0) >= 1", timeout: 20))
    }

    /// A card with a position bought at 100, priced by a bar at `close` (unique synthetic tickers keep
    /// the shared stocks.db's other readers unaffected).
    func card(_ world: APIWorld, _ ticker: String, boughtAt: Decimal?, close: Double) throws -> AlgorithmInstance {
        let card = try world.system.createAlgorithm(ticker: ticker, algorithmType: "rsi_bounce", initialCapital: 10_000)
        if let boughtAt {
            try world.system.recordTrade(algorithmId: card.id, side: .buy, shares: 10, price: boughtAt, at: .at("2024-06-04T13:45:00Z"))
        }
        try world.stocks.insert([MinuteBar(ticker: ticker, timestamp: .at("2024-06-04T13:59:00Z"), open: close, high: close, low: close, close: close, volume: 1)])
        return card
    }

    @Test func anEmptyDashboardAndOneWithSeveralCardsInBothScreenSizes() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let world = try await world()
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await open(browser, world)
        #expect(try await browser.attribute("#cards", "data-count") == "0")
        #expect(try await browser.isVisible("#empty"))
        #expect(try await browser.text("#mode-badge")?.uppercased().contains("SIMULATED") == true)
        try await save(browser, "empty-800x480")

        let suffix = String(UUID().uuidString.filter(\.isLetter).prefix(3)).uppercased()
        let profit = try card(world, "ZP" + suffix, boughtAt: 100, close: 110)
        let loss = try card(world, "ZL" + suffix, boughtAt: 100, close: 90)
        let flat = try card(world, "ZF" + suffix, boughtAt: nil, close: 50)
        for _ in 0..<9 { _ = try card(world, "ZX" + suffix, boughtAt: 100, close: 1234567.89) } // 12 cards, seven-digit values
        try await browser.navigate(world.api.baseURL + "/")
        #expect(try await browser.waitUntil("return document.querySelectorAll('#cards .card').length === 12", timeout: 20))

        // Border colours agree with the api's P&L.
        func border(_ id: Int64) async throws -> [Int] {
            let text = try await browser.execute(
                "return getComputedStyle(document.querySelector('.card[data-id=\"\(id)\"]')).borderTopColor") as? String ?? ""
            return text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        }
        let green = try await border(profit.id), red = try await border(loss.id), white = try await border(flat.id)
        #expect(green.count >= 3 && green[1] > green[0] && green[1] > green[2], "profit border \(green)")
        #expect(red.count >= 3 && red[0] > red[1] && red[0] > red[2], "loss border \(red)")
        #expect(white.count >= 3 && white[0] > 200 && white[1] > 200 && white[2] > 200, "break-even border \(white)")
        #expect(try await browser.attribute(".card[data-id=\"\(profit.id)\"]", "data-pnl-sign") == "positive")
        #expect(try await browser.attribute(".card[data-id=\"\(loss.id)\"]", "data-pnl-sign") == "negative")
        #expect(try await browser.attribute(".card[data-id=\"\(flat.id)\"]", "data-pnl-sign") == "zero")
        let lossText = try await browser.text(".card[data-id=\"\(loss.id)\"]") ?? ""
        #expect(lossText.contains("ZL" + suffix) && lossText.contains("-") && lossText.contains("100.00"), "\(lossText)")
        // Nothing but the card row scrolls.
        #expect(try await browser.execute("return document.documentElement.scrollWidth <= window.innerWidth && document.documentElement.scrollHeight <= window.innerHeight") as? Bool == true)
        try await save(browser, "cards-800x480")
        try await browser.setViewport(width: 1920, height: 1080)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await browser.execute("return document.documentElement.scrollHeight <= window.innerHeight") as? Bool == true)
        try await save(browser, "cards-1920x1080")
    }

    @Test func aPINGuardsAddingAndStoppingAndAWrongPINShakesAndLocksOut() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let world = try await world()
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await open(browser, world)

        // Add: PIN first, then the dialog.
        try await browser.click("#add-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        for digit in "2020" { try await browser.click("#pin-pad [data-digit=\"\(digit)\"]") }
        try await browser.click("#pin-ok")
        #expect(try await browser.waitFor("#add-dialog", visible: true) != nil)
        try await browser.type("#add-ticker", "AAPL")
        #expect(try await browser.waitUntil("return document.querySelector('#ticker-status').dataset.state === 'valid'", timeout: 10))
        try await browser.execute("const s = document.querySelector('#add-algorithm'); s.value = 'macd_signal'; s.dispatchEvent(new Event('change'))")
        try await browser.type("#add-capital", "1500")
        try await save(browser, "add-dialog-800x480")
        try await browser.click("#add-submit")
        #expect(try await browser.waitUntil("return document.querySelectorAll('#cards .card').length === 1", timeout: 15))
        let created = try world.system.algorithms(status: .running)
        #expect(created.count == 1 && created[0].ticker == "AAPL" && created[0].algorithmType == "macd_signal" && created[0].initialCapital == 1500)

        // Stop: PIN, confirmation, gone from the page and stopped in system.db.
        try await browser.click(".card[data-id=\"\(created[0].id)\"] .stop-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        for digit in "2020" { try await browser.click("#pin-pad [data-digit=\"\(digit)\"]") }
        try await browser.click("#pin-ok")
        _ = try await browser.waitFor("#stop-dialog", visible: true)
        try await browser.click(try await browser.isVisible("#stop-keep") ? "#stop-keep" : "#stop-liquidate")
        #expect(try await browser.waitUntil("return document.querySelectorAll('#cards .card').length === 0", timeout: 15))
        #expect(try world.system.algorithm(id: created[0].id).status == .stopped)

        // A wrong PIN: the pad says so and clears; after five within a minute the next attempt is locked out, showing the wait.
        try await browser.click("#add-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        var sawError = false
        for attempt in 1...6 {
            for digit in "1111" { try await browser.click("#pin-pad [data-digit=\"\(digit)\"]") }
            try await browser.click("#pin-ok")
            if attempt == 1 {
                sawError = try await browser.waitUntil("return document.querySelector('#pin-pad').dataset.state === 'error'", timeout: 5)
                try await save(browser, "wrong-pin-800x480")
            }
            _ = try await browser.waitUntil("return document.querySelector('#pin-pad').dataset.state !== 'busy'", timeout: 5)
        }
        #expect(sawError)
        #expect(try await browser.waitUntil("return document.querySelector('#pin-pad').dataset.state === 'locked'", timeout: 10))
        let seconds = Int(try await browser.attribute("#pin-pad", "data-locked-seconds") ?? "") ?? 0
        #expect(seconds > 0 && seconds <= 60, "locked for \(seconds) s")
        #expect(try await browser.text("#pin-message")?.isEmpty == false)
        try await save(browser, "locked-800x480")
        #expect(try world.system.algorithms(status: .running).isEmpty)
    }

    @Test func pollingFollowsMarketOpenAsItFlips() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        // 15:56:30 New York at 10×: the market closes 21 real seconds in (time for a loaded machine to start everything).
        let world = try await world(simArguments: ["--start", "2024-06-04T19:56:30Z", "--speed", "10", "--seed", "7"])
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await open(browser, world, query: "poll_open_ms=700&poll_closed_ms=2500")
        let first = try await browser.execute("return [document.body.dataset.pollIntervalMs, document.querySelector('#market').dataset.open]") as? [String]
        #expect(first?[0] == "700" && first?[1] == "true", "\(first ?? [])")
        #expect(try await browser.waitUntil("return document.body.dataset.pollIntervalMs === '2500'", timeout: 45))
        #expect(try await browser.attribute("#market", "data-open") == "false")
        // No overlapping requests: the count rises by one per interval, not faster.
        let before = Int(try await browser.execute("return document.body.dataset.pollCount") as? String ?? "") ?? 0
        try await Task.sleep(for: .milliseconds(5200))
        let after = Int(try await browser.execute("return document.body.dataset.pollCount") as? String ?? "") ?? 0
        #expect(after - before >= 1 && after - before <= 3, "\(after - before) polls in 5.2 s at 2.5 s")
    }
}
