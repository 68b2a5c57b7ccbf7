import Foundation
import GRDB
import Testing
@testable import AutoTraderCore

/// The dashboard in a real Chromium (WebDriver), served by the real api with real databases and the
/// simulator as the broker. Screenshots at 800×480, 1920×1080 and 390×844 go to artifacts/screenshots/ (the README's also to
/// frontend/screenshots/).
@Suite(.serialized) struct DashboardBrowserTests {
    static let repository = Repository.root
    static let frontend = repository.appendingPathComponent("frontend").path
    static let artifacts = repository.appendingPathComponent("artifacts/screenshots")

    /// A world whose api serves frontend/ (`apiArguments` added, e.g. `--pin-backoff 0` where wrong PINs are typed).
    func world(simArguments: [String] = APIWorld.simArguments, apiArguments: [String] = []) async throws -> APIWorld {
        try await APIWorld(simArguments: simArguments, apiArguments: ["--frontend", Self.frontend] + apiArguments)
    }

    /// Types `digits` on the PIN pad's keys and presses OK.
    func enterPIN(_ browser: WebDriver, _ digits: String) async throws {
        for digit in digits { try await browser.click("#pin-pad [data-digit=\"\(digit)\"]") }
        try await browser.click("#pin-ok")
    }

    /// Waits until the PIN pad is in `state` (and at `step` of the change-PIN flow, when given).
    func padReaches(_ browser: WebDriver, state: String, step: String? = nil, timeout: TimeInterval = 10) async throws -> Bool {
        let stepCheck = step.map { " && p.dataset.step === '\($0)'" } ?? ""
        return try await browser.waitUntil(
            "const p = document.querySelector('#pin-pad'); return p.dataset.state === '\(state)'\(stepCheck) && !p.closest('[hidden]')",
            timeout: timeout)
    }

    /// Wrong PINs in system.db's log, `minutesAgo` before now, as if typed from another address.
    func recordWrongPINs(_ world: APIWorld, minutesAgo: [Int]) throws {
        try world.system.pool.write { db in
            for minutes in minutesAgo.sorted(by: >) {
                try db.execute(
                    sql: "INSERT INTO pin_attempts (at, client, outcome) VALUES (?, '127.0.0.9', 'wrong')",
                    arguments: [Timestamp.now().adding(seconds: -Int64(minutes) * 60).text])
            }
        }
    }

    /// Waits until the stop dialog has the card fresh from the api (`data-state="ready"`), optionally holding `shares`.
    func stopDialogReady(_ browser: WebDriver, shares: Int? = nil, timeout: TimeInterval = 10) async throws -> Bool {
        let sharesCheck = shares.map { " && d.dataset.shares === '\($0)'" } ?? ""
        return try await browser.waitUntil(
            "const d = document.querySelector('#stop-dialog'); return d.dataset.state === 'ready'\(sharesCheck) && !d.closest('[hidden]')",
            timeout: timeout)
    }

    /// Waits until the confirmation line shows a notice containing `text` (case-insensitive).
    func toastSays(_ browser: WebDriver, _ text: String, timeout: TimeInterval = 15) async throws -> Bool {
        try await browser.waitUntil(
            "const t = document.querySelector('#toast'); return !t.hidden && t.textContent.toLowerCase().includes(\(jsString(text.lowercased())))",
            timeout: timeout)
    }

    func jsString(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [text])
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
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
        // Not "300 ms": until the page has the new width (layout is then computed when scrollHeight is read).
        #expect(try await browser.waitUntil("return window.innerWidth === 1920 && window.innerHeight === 1080", timeout: 30))
        #expect(try await browser.execute("return document.documentElement.scrollHeight <= window.innerHeight") as? Bool == true)
        try await save(browser, "cards-1920x1080")
    }

    @Test func aPINGuardsAddingAndStoppingAndWrongPINsLockEveryoneOut() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let world = try await world(apiArguments: ["--pin-backoff", "0", "--pin-guesses-per-hour", "3"])
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        // No timed poll during the test: the page learns of the lockout from the 429 itself.
        try await open(browser, world, query: "poll_open_ms=600000")

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
        #expect(try await stopDialogReady(browser, shares: 0))
        try await browser.click("#stop-plain")
        #expect(try await browser.waitUntil("return document.querySelectorAll('#cards .card').length === 0", timeout: 15))
        #expect(try await toastSays(browser, "AAPL: stopped"))
        #expect(try world.system.algorithm(id: created[0].id).status == .stopped)

        // A wrong PIN: the pad says so and clears. Wrong PINs are counted for all clients together: with three an
        // hour allowed, the third (here from another client) uses the hour up, and the pad's next attempt — even
        // the right PIN — is refused with 429 and a wait of up to an hour.
        try await browser.click("#add-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "1111")
        #expect(try await browser.waitUntil("const p = document.querySelector('#pin-pad'); return p.dataset.state === 'error' && document.querySelector('#pin-display').dataset.length === '0'", timeout: 10))
        #expect(try await browser.text("#pin-message")?.lowercased().contains("wrong pin") == true)
        try await save(browser, "wrong-pin-800x480")
        try await enterPIN(browser, "1112")
        #expect(try await browser.waitUntil("const p = document.querySelector('#pin-pad'); return p.dataset.state === 'error' && document.querySelector('#pin-display').dataset.length === '0'", timeout: 10))
        let third = try await world.api.request("POST", "/api/validate-pin", json: ["pin": "1113"])
        #expect(third.status == 403)
        #expect((3000...3600).contains(Int(third.header("Retry-After") ?? "") ?? 0), "Retry-After \(third.header("Retry-After") ?? "none")")
        try await enterPIN(browser, "2020")
        #expect(try await padReaches(browser, state: "locked"))
        let seconds = Int(try await browser.attribute("#pin-pad", "data-locked-seconds") ?? "") ?? 0
        #expect(seconds > 3000 && seconds <= 3600, "locked for \(seconds) s")
        let message = try await browser.text("#pin-message") ?? ""
        #expect(message.contains("TOO MANY WRONG PINS") && message.contains("TRY AGAIN IN"), "\(message)")
        #expect(try await browser.execute("return [...document.querySelectorAll('#pin-pad .key')].every(k => k.disabled)") as? Bool == true)
        try await save(browser, "locked-800x480")
        #expect(try world.system.algorithms(status: .running).isEmpty)

        // A fresh page knows the lockout from /api/health: red banner, and the pad opens locked before anyone types.
        try await open(browser, world, query: "poll_open_ms=600000")
        #expect(try await browser.attribute("#banner", "data-level") == "error")
        let banner = try await browser.text("#banner") ?? ""
        #expect(banner.contains("PIN ENTRY LOCKED UNTIL") && banner.contains("3 WRONG PIN ATTEMPTS IN THE LAST HOUR"), "\(banner)")
        try await browser.click("#add-button")
        #expect(try await padReaches(browser, state: "locked", timeout: 3))
        let again = Int(try await browser.attribute("#pin-pad", "data-locked-seconds") ?? "") ?? 0
        #expect(again > 3000 && again <= 3600, "locked for \(again) s")
    }

    /// The policy every answer must carry (the api's `BrowserSafetyMiddleware`).
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    @Test func thePageRunsUnderTheContentSecurityPolicyWithACleanConsole() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let world = try await world()
        // The page's files and the api's answers all carry the policy and the other browser headers.
        for path in ["/", "/script.js", "/style.css", "/api/health", "/api/algorithms"] {
            let reply = try await world.api.request("GET", path)
            #expect(reply.status == 200, "\(path)")
            #expect(reply.header("Content-Security-Policy") == Self.contentSecurityPolicy, "\(path): \(reply.header("Content-Security-Policy") ?? "none")")
            #expect(reply.header("X-Frame-Options") == "DENY", "\(path)")
            #expect(reply.header("X-Content-Type-Options") == "nosniff", "\(path)")
            #expect(reply.header("Referrer-Policy") == "no-referrer", "\(path)")
        }
        let index = try await world.api.request("GET", "/")
        #expect(!index.text.contains("style=") && !index.text.contains("<script>") && !index.text.contains("<style")
                && index.text.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil, "inline code or style in index.html")

        let suffix = String(UUID().uuidString.filter(\.isLetter).prefix(3)).uppercased()
        let card = try card(world, "ZC" + suffix, boughtAt: 100, close: 104)
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await open(browser, world)
        #expect(try await browser.attribute("#cards", "data-count") == "1")
        // Every dialog once: detail, change PIN, PIN pad, add (with the ticker check), stop.
        try await browser.click(".card[data-id=\"\(card.id)\"] .ticker")
        #expect(try await browser.waitUntil("return document.querySelectorAll('#detail-transactions .row[data-id]').length === 1", timeout: 10))
        try await browser.click("#detail-close")
        try await browser.click("#pin-button")
        #expect(try await padReaches(browser, state: "idle", step: "current"))
        try await enterPIN(browser, "2020")
        #expect(try await padReaches(browser, state: "idle", step: "new"))
        try await browser.click("#pin-cancel")
        try await browser.click("#add-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "2020")
        #expect(try await browser.waitFor("#add-dialog", visible: true) != nil)
        try await browser.type("#add-ticker", "AAPL")
        #expect(try await browser.waitUntil("return document.querySelector('#ticker-status').dataset.state === 'valid'", timeout: 10))
        try await browser.click("#add-cancel")
        try await browser.click(".card[data-id=\"\(card.id)\"] .stop-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "2020")
        #expect(try await stopDialogReady(browser, shares: 10))
        try await browser.click("#stop-cancel")
        #expect(try await browser.waitUntil("return document.querySelector('#stop-overlay').hidden", timeout: 5))

        let log = try await browser.browserLog()
        let violations = log.filter { $0.source == "security" || $0.message.contains("Content Security Policy") }
        #expect(violations.isEmpty, "CSP violations: \(violations)")
        let errors = log.filter { $0.level == "SEVERE" || $0.level == "WARNING" }
        #expect(errors.isEmpty, "console errors: \(errors)")

        // The check is real: an inline script is blocked, and the log says so.
        let ran = try await browser.execute("""
            window.__inline = false;
            const s = document.createElement('script'); s.textContent = 'window.__inline = true'; document.body.appendChild(s);
            return window.__inline
            """) as? Bool
        #expect(ran == false, "an inline script ran")
        var blocked: [WebDriver.LogEntry] = []
        let deadline = Date().addingTimeInterval(30) // a deadline, not a stopwatch
        while blocked.isEmpty, Date() < deadline {
            blocked = try await browser.browserLog().filter { $0.message.contains("Content Security Policy") }
            if blocked.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(!blocked.isEmpty, "the blocked inline script left no CSP line in the console log")
    }

    @Test func thePINIsChangedOnThePadAndAWeakOneIsRefusedInTheApisWords() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let world = try await world(apiArguments: ["--pin-backoff", "0"])
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await open(browser, world)
        #expect(try await browser.isVisible("#pin-prompt"))
        #expect(try await browser.attribute("#pin-prompt", "data-strength") == "factory")
        #expect(try await browser.text("#pin-prompt")?.contains("PIN IS THE FACTORY DEFAULT — CHANGE IT") == true)

        // The prompt opens the flow: the current PIN first.
        try await browser.click("#pin-prompt")
        #expect(try await padReaches(browser, state: "notice", step: "current"))
        #expect(try await browser.text("#pin-title") == "CHANGE PIN")
        try await enterPIN(browser, "2020")
        #expect(try await padReaches(browser, state: "idle", step: "new"))
        // Too short: refused on the pad, before any request.
        try await enterPIN(browser, "4839")
        #expect(try await padReaches(browser, state: "error", step: "new"))
        #expect(try await browser.text("#pin-message")?.contains("6 TO 12 DIGITS") == true)
        // Two different entries: asked again.
        try await enterPIN(browser, "483920")
        #expect(try await padReaches(browser, state: "idle", step: "confirm"))
        try await enterPIN(browser, "483921")
        #expect(try await padReaches(browser, state: "error", step: "new"))
        #expect(try await browser.text("#pin-message")?.contains("DIFFER") == true)
        // A run of digits: the api refuses it (400), in its own words; nothing changes.
        try await enterPIN(browser, "123456")
        #expect(try await padReaches(browser, state: "idle", step: "confirm"))
        try await enterPIN(browser, "123456")
        #expect(try await padReaches(browser, state: "error", step: "new"))
        let refusal = try await browser.text("#pin-message") ?? ""
        #expect(refusal.contains("the new PIN must not be a run of digits"), "\(refusal)")
        #expect(try world.system.pin() == "2020")
        try await save(browser, "change-pin-refused-800x480")
        // A good one, twice, with digits hidden; twelve (the most) still fit the display.
        try await enterPIN(browser, "483920")
        #expect(try await padReaches(browser, state: "idle", step: "confirm"))
        try await browser.click("#pin-pad [data-digit=\"4\"]")
        #expect(try await browser.text("#pin-display") == "●")
        for _ in 0..<12 { try await browser.click("#pin-pad [data-digit=\"7\"]") }
        #expect(try await browser.attribute("#pin-display", "data-length") == "12")
        #expect(try await browser.execute("const d = document.querySelector('#pin-display'); return d.scrollWidth <= d.clientWidth") as? Bool == true)
        try await browser.click("#pin-clear")
        try await enterPIN(browser, "483920")
        #expect(try await padReaches(browser, state: "done", step: "done"))
        #expect(try await browser.text("#pin-message")?.contains("PIN CHANGED") == true)
        #expect(try world.system.pin() == "483920")
        try await save(browser, "change-pin-done-800x480")
        try await browser.click("#pin-ok")
        #expect(try await browser.waitUntil("return document.querySelector('#pin-overlay').hidden", timeout: 5))
        // The prompt is gone; the old PIN is now wrong and the new one opens the add dialog.
        #expect(try await browser.waitUntil("return document.querySelector('#pin-prompt').hidden && document.querySelector('#pin-button').dataset.attention === 'false'", timeout: 10))
        #expect(try await browser.waitUntil("return document.querySelector('#pin-prompt').dataset.strength === 'strong'", timeout: 10))
        try await browser.click("#add-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "2020")
        #expect(try await padReaches(browser, state: "error"))
        try await enterPIN(browser, "483920")
        #expect(try await browser.waitFor("#add-dialog", visible: true) != nil)

        // From the header, at the big screen's size: the current PIN must be the right one.
        try await browser.click("#add-cancel")
        try await browser.setViewport(width: 1920, height: 1080)
        try await browser.click("#pin-button")
        #expect(try await padReaches(browser, state: "idle", step: "current"))
        try await enterPIN(browser, "2020")
        #expect(try await padReaches(browser, state: "error", step: "current"))
        try await enterPIN(browser, "483920")
        #expect(try await padReaches(browser, state: "idle", step: "new"))
        try await save(browser, "change-pin-new-1920x1080")
        #expect(try world.system.pin() == "483920")
    }

    @Test func wrongPINsInSystemDBRaiseASecurityWarningAndTheFactoryPINAPrompt() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        // The market closed: no executor runs here, and in market hours that is a red TRADING HALTED before any warning.
        let world = try await world(simArguments: ["--start", "2024-06-04T22:00:00Z", "--speed", "1", "--seed", "7"])
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await open(browser, world, query: "poll_open_ms=700&poll_closed_ms=700")
        #expect(try await browser.text("#banner")?.contains("WRONG PIN") != true)
        #expect(try await browser.isVisible("#pin-prompt"))
        #expect(try await browser.text("#pin-prompt")?.contains("PIN IS THE FACTORY DEFAULT — CHANGE IT") == true)
        #expect(try await browser.attribute("#pin-button", "data-attention") == "true")

        // Three wrong PINs from elsewhere, minutes ago: amber.
        try recordWrongPINs(world, minutesAgo: [30, 20, 10])
        #expect(try await browser.waitUntil(
            "return (document.querySelector('#banner').textContent || '').includes('3 WRONG PIN ATTEMPTS IN THE LAST HOUR — SOMEONE MAY BE GUESSING THE PIN')", timeout: 15))
        #expect(try await browser.attribute("#banner", "data-level") == "warn")
        try await save(browser, "security-warning-800x480")

        // Twelve: more than an hour allows, so PINs are not even checked for the next 50 minutes: red.
        try recordWrongPINs(world, minutesAgo: Array(1...9))
        #expect(try await browser.waitUntil(
            "return (document.querySelector('#banner').textContent || '').includes('12 WRONG PIN ATTEMPTS IN THE LAST HOUR — SOMEONE MAY BE GUESSING THE PIN')", timeout: 15))
        #expect(try await browser.attribute("#banner", "data-level") == "error")
        #expect(try await browser.text("#banner")?.contains("PIN ENTRY LOCKED UNTIL") == true)
        #expect(try await browser.isVisible("#pin-prompt"))
        try await save(browser, "security-locked-800x480")
        // The pad opens locked, counting down the api's figure.
        try await browser.click("#add-button")
        #expect(try await padReaches(browser, state: "locked", timeout: 3))
        let seconds = Int(try await browser.attribute("#pin-pad", "data-locked-seconds") ?? "") ?? 0
        #expect(seconds > 2800 && seconds <= 3000, "locked for \(seconds) s")
        try await browser.click("#pin-cancel")
        // The prompt opens the change flow (locked too, for now).
        try await browser.click("#pin-prompt")
        #expect(try await browser.waitUntil("const p = document.querySelector('#pin-pad'); return p.dataset.mode === 'change' && p.dataset.state === 'locked' && !p.closest('[hidden]')", timeout: 5))
        try await browser.click("#pin-cancel")
        try await browser.setViewport(width: 1920, height: 1080)
        try await save(browser, "security-locked-1920x1080")
    }

    @Test func inPaperModeTheFactoryPINIsRefusedAndChangedRightThere() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let world = try await world()
        // The same simulator, reached as Alpaca's paper api.
        await world.api.terminate()
        let sim = world.sim.baseURL.absoluteString
        world.api = try await APIProcess(
            directory: world.directory, systemPath: world.systemPath, stocksPath: world.stocksPath, sim: world.sim,
            arguments: ["--frontend", Self.frontend, "--pin-backoff", "0"],
            environment: [
                "ALPACA_API_KEY": world.sim.keyID, "ALPACA_SECRET": world.sim.secretKey, "ALPACA_PAPER": "true",
                "ALPACA_TRADING_URL": sim, "ALPACA_DATA_URL": sim,
            ])
        let suffix = String(UUID().uuidString.filter(\.isLetter).prefix(3)).uppercased()
        let card = try card(world, "ZS" + suffix, boughtAt: 100, close: 105)
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await open(browser, world)
        #expect(try await browser.attribute("#mode-badge", "data-mode") == "paper")
        #expect(try await browser.text("#pin-prompt")?.contains("NEEDED TO TRADE IN PAPER MODE") == true)

        // Sell and stop with the factory PIN: the api refuses; the page says why and opens the change at once.
        try await browser.click(".card[data-id=\"\(card.id)\"] .stop-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "2020")
        #expect(try await stopDialogReady(browser, shares: 10))
        try await browser.click("#stop-liquidate")
        #expect(try await padReaches(browser, state: "notice", step: "new"))
        #expect(try await browser.text("#pin-message")?.contains("FACTORY PIN IS STILL SET") == true)
        let stopError = try await browser.execute("return document.querySelector('#stop-error').textContent") as? String ?? ""
        #expect(stopError.contains("FACTORY PIN IS STILL SET"), "\(stopError)")
        try await save(browser, "factory-pin-refused-800x480")
        try await enterPIN(browser, "483920")
        #expect(try await padReaches(browser, state: "idle", step: "confirm"))
        try await enterPIN(browser, "483920")
        #expect(try await padReaches(browser, state: "done", step: "done"))
        #expect(try world.system.pin() == "483920")
        try await browser.click("#pin-ok")
        #expect(try await browser.waitFor("#stop-dialog", visible: true) != nil)
        #expect(try await browser.text("#stop-error")?.contains("PIN CHANGED") == true)
        // Back where it was, with the new PIN: the sale is accepted.
        try await browser.click("#stop-liquidate")
        #expect(try await browser.waitUntil("return document.querySelector('.card[data-id=\"\(card.id)\"]')?.dataset.stopping === 'true'", timeout: 15))

        // + ADD with the factory PIN in paper mode goes to the change flow first, without a refused create.
        try await world.system.pool.write { db in try db.execute(sql: "UPDATE system_config SET value = '2020' WHERE key = 'pin'") }
        try await open(browser, world)
        #expect(try await browser.attribute("#pin-prompt", "data-strength") == "factory")
        try await browser.click("#add-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "2020")
        #expect(try await padReaches(browser, state: "notice", step: "new"))
        #expect(try await browser.isVisible("#add-dialog") == false)
        try await browser.click("#pin-cancel")
        #expect(try world.system.algorithms(status: .running).map(\.id) == [card.id])
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
        // No overlapping requests: the count rises by one per interval, not faster. Not "count them in 5.2 s":
        // wait for two more polls, then bound the count by the time that really passed around it (at most one
        // per 2.5 s, plus the one that may have been due at the start).
        func pollCount() async throws -> Int { Int(try await browser.execute("return document.body.dataset.pollCount") as? String ?? "") ?? 0 }
        let windowStart = Date()
        let before = try await pollCount()
        #expect(try await browser.waitUntil("return Number(document.body.dataset.pollCount) >= \(before + 2)", timeout: 60))
        let after = try await pollCount()
        let window = Date().timeIntervalSince(windowStart)
        #expect(after - before <= 1 + Int(window / 2.5), "\(after - before) polls in \(window) s at 2.5 s")
    }

    /// Issue 18: the page's cards may be a poll old, so the stop dialog fetches the card when it opens. A card that
    /// bought 44 shares since the page last polled is offered "sell 44 shares, then stop" by default, keeping them only
    /// through its own button; a plain stop of a card holding shares is refused by the api, and the page then shows
    /// the fresh count and asks again.
    @Test func theStopDialogShowsTheSharesHeldNowAndKeepingThemIsAnExplicitChoice() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let world = try await world() // 10:00 New York: the market is open
        let suffix = String(UUID().uuidString.filter(\.isLetter).prefix(3)).uppercased()
        let nvda = try card(world, "ZN" + suffix, boughtAt: nil, close: 100)
        let late = try card(world, "ZT" + suffix, boughtAt: nil, close: 50)
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        // A long interval: after the first poll the page's data goes stale.
        try await open(browser, world, query: "poll_open_ms=600000")
        let nvdaCard = ".card[data-id=\"\(nvda.id)\"]"
        #expect(try await browser.text("\(nvdaCard) .shares") == "0")

        // The card buys 44 shares; the page does not know.
        try world.system.recordTrade(algorithmId: nvda.id, side: .buy, shares: 44, price: 100, at: .at("2024-06-04T14:00:00Z"))
        let fresh = try await world.api.json("GET", "/api/algorithms/\(nvda.id)")
        #expect(fresh.0 == 200 && fresh.1["current_shares"]?.number == 44)
        #expect(try await browser.text("\(nvdaCard) .shares") == "0", "the page polled meanwhile: the test proves nothing")
        let polls = try await browser.execute("return document.body.dataset.pollCount") as? String

        // The dialog asks the api: 44 shares now, and the default is to sell them, at the next market minute.
        try await browser.click("\(nvdaCard) .stop-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "2020")
        #expect(try await stopDialogReady(browser, shares: 44))
        #expect(try await browser.attribute("#stop-dialog", "data-has-shares") == "true")
        #expect(try await browser.isVisible("#stop-liquidate"))
        #expect(try await browser.isVisible("#stop-keep"))
        #expect(try await browser.isVisible("#stop-plain") == false)
        let liquidate = try await browser.text("#stop-liquidate") ?? ""
        #expect(liquidate.contains("SELL 44 SHARES, THEN STOP") && liquidate.contains("sells at the next market minute"), "\(liquidate)")
        #expect(try await browser.attribute("#stop-when", "data-sale") == "next-minute")
        #expect(try await browser.text("#stop-keep") == "STOP AND KEEP 44 SHARES")
        #expect(try await browser.text("#stop-warning")?.contains("HOLDS 44 SHARES NOW") == true)
        #expect(try await browser.execute("return document.activeElement && document.activeElement.id") as? String == "stop-liquidate",
                "the sale is not the default")
        // The primary action comes first and is the larger one.
        let sizes = try await browser.execute("""
            const a = document.querySelector('#stop-liquidate').getBoundingClientRect(), b = document.querySelector('#stop-keep').getBoundingClientRect();
            return [a.top < b.top, a.width * a.height > b.width * b.height, a.bottom <= innerHeight, b.bottom <= innerHeight]
            """) as? [Bool]
        #expect(sizes == [true, true, true, true], "\(sizes ?? [])")
        try await save(browser, "stop-dialog-shares-800x480")
        try await browser.setViewport(width: 390, height: 844)
        #expect(try await browser.waitUntil("const r = document.querySelector('#stop-cancel').getBoundingClientRect(); return r.right <= innerWidth && r.bottom <= innerHeight"))
        #expect(try await browser.execute("const d = document.querySelector('#stop-dialog'); return d.scrollWidth <= d.clientWidth") as? Bool == true)
        try await save(browser, "stop-dialog-shares-390x844")
        try await browser.setViewport(width: 800, height: 480)

        // The api refuses a plain stop of a card that holds shares, and says how many.
        let plain = try await world.api.json("DELETE", "/api/algorithms/\(nvda.id)", json: ["pin": "2020"])
        #expect(plain.0 == 409 && plain.1["shares"]?.number == 44, "\(plain)")
        #expect(try world.system.algorithm(id: nvda.id).status == .running)

        // Keeping them is its own button: stopped, the 44 shares still counted to the card, and the page says so.
        try await browser.click("#stop-keep")
        #expect(try await toastSays(browser, "ZN\(suffix): stopped, keeping 44 shares"))
        #expect(try await browser.waitUntil("return !document.querySelector('\(nvdaCard)')", timeout: 15))
        #expect(try await browser.execute("return document.querySelector('#stop-overlay').hidden") as? Bool == true)
        #expect(try world.system.algorithm(id: nvda.id).status == .stopped)
        #expect(try world.system.position(algorithmId: nvda.id).shares == 44)
        #expect(try await browser.execute("return document.body.dataset.pollCount") as? String != polls)

        // A card with nothing to sell gets one plain STOP; it buys 7 before STOP is pressed: the api refuses (409),
        // and the dialog shows the 7 and offers the choice again, instead of stopping anything.
        let lateCard = ".card[data-id=\"\(late.id)\"]"
        try await browser.click("\(lateCard) .stop-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "2020")
        #expect(try await stopDialogReady(browser, shares: 0))
        #expect(try await browser.isVisible("#stop-plain"))
        #expect(try await browser.isVisible("#stop-liquidate") == false)
        #expect(try await browser.isVisible("#stop-keep") == false)
        #expect(try await browser.text("#stop-text")?.contains("holds no shares now") == true)
        try world.system.recordTrade(algorithmId: late.id, side: .buy, shares: 7, price: 50, at: .at("2024-06-04T14:01:00Z"))
        try await browser.click("#stop-plain")
        #expect(try await stopDialogReady(browser, shares: 7))
        #expect(try await browser.waitUntil("return document.querySelector('#stop-error').textContent.includes('HOLDS 7 SHARES NOW')"))
        #expect(try await browser.attribute("#stop-error", "data-tone") == "warn")
        #expect(try await browser.isVisible("#stop-liquidate"))
        #expect(try await browser.isVisible("#stop-keep"))
        #expect(try await browser.isVisible("#stop-plain") == false)
        #expect(try await browser.text("#stop-keep") == "STOP AND KEEP 7 SHARES")
        #expect(try world.system.algorithm(id: late.id).status == .running)
        try await save(browser, "stop-dialog-bought-since-800x480")
        // This time, sell: pending until the executor's next market minute, and the card says so.
        try await browser.click("#stop-liquidate")
        #expect(try await toastSays(browser, "ZT\(suffix): selling 7 shares at the next market minute, then stopping"))
        #expect(try await browser.waitUntil("return document.querySelector('\(lateCard)')?.dataset.stopping === 'true'", timeout: 15))
        #expect(try await browser.text("\(lateCard) .stopping-when") == "sells at the next market minute")
        #expect(try await browser.isVisible("\(lateCard) .cancel-sale-button"))
        #expect(try world.system.pendingStopRequests().map(\.algorithmId) == [late.id])

        // A clean console, but for the browser's own line about the 409 the page answered.
        let log = try await browser.browserLog()
        #expect(log.filter { $0.source == "security" || ($0.level == "SEVERE" && !$0.message.contains("409")) }.isEmpty, "\(log)")
    }

    /// A pending sell-and-stop (the market is closed, so it waits for the open) shows when it will sell and can be
    /// withdrawn from the card: the card goes on trading.
    @Test func aPendingSellAndStopShowsWhenItSellsAndCanBeCancelled() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        // 17:00 New York: closed until the next morning's open. No executor runs here, so nothing is sold meanwhile.
        let world = try await world(simArguments: ["--start", "2024-06-04T21:00:00Z", "--speed", "1", "--seed", "7"])
        let suffix = String(UUID().uuidString.filter(\.isLetter).prefix(3)).uppercased()
        let held = try card(world, "ZQ" + suffix, boughtAt: 100, close: 110)
        let list = try await world.api.json("GET", "/api/algorithms")
        let nextOpen = list.1["next_open"]?.string ?? ""
        #expect(list.1["market_open"]?.bool == false && nextOpen.hasPrefix("2024-06-05T13:30:00"), "\(list.1)")
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await open(browser, world)
        let sel = ".card[data-id=\"\(held.id)\"]"
        #expect(try await browser.isVisible("\(sel) .cancel-sale-button") == false)

        try await browser.click("\(sel) .stop-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "2020")
        #expect(try await stopDialogReady(browser, shares: 10))
        // When: at the open, in the viewer's local time.
        let openLocal = try await browser.execute("""
            return new Date(arguments[0]).toLocaleString(undefined, { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
            """, [nextOpen]) as? String ?? "?"
        #expect(try await browser.text("#stop-when") == "sells at the open, \(openLocal)")
        #expect(try await browser.attribute("#stop-when", "data-sale") == "open")
        try await save(browser, "stop-dialog-closed-800x480")
        try await browser.setViewport(width: 390, height: 844)
        try await save(browser, "stop-dialog-closed-390x844")
        try await browser.setViewport(width: 800, height: 480)

        try await browser.click("#stop-liquidate")
        #expect(try await toastSays(browser, "ZQ\(suffix): selling 10 shares at the open, \(openLocal), then stopping"))
        #expect(try await browser.waitUntil("return document.querySelector('\(sel)')?.dataset.stopping === 'true'", timeout: 15))
        #expect(try await browser.text("\(sel) .stopping-when") == "sells at the open, \(openLocal)")
        #expect(try await browser.attribute("\(sel) .stopping-when", "data-sale-at") == nextOpen)
        #expect(try await browser.isVisible("\(sel) .cancel-sale-button"))
        #expect(try await browser.isVisible("\(sel) .stop-button") == false)
        #expect(try world.system.pendingStopRequests().map(\.algorithmId) == [held.id])
        // The card's foot and the sale's time fit the 7-inch panel.
        #expect(try await browser.execute("""
            const c = document.querySelector('\(sel)'), b = c.querySelector('.cancel-sale-button').getBoundingClientRect(), r = c.getBoundingClientRect();
            return b.bottom <= r.bottom && b.right <= r.right && document.documentElement.scrollHeight <= innerHeight
            """) as? Bool == true)
        try await save(browser, "stopping-card-800x480")

        // CANCEL SALE, with the PIN: running again, nothing pending, and the page says so.
        try await browser.click("\(sel) .cancel-sale-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        #expect(try await browser.text("#pin-purpose")?.contains("cancel the sale of ZQ\(suffix)") == true)
        try await enterPIN(browser, "2020")
        #expect(try await toastSays(browser, "sale cancelled: ZQ\(suffix) keeps trading"))
        #expect(try await browser.waitUntil("return document.querySelector('\(sel)')?.dataset.stopping === 'false'", timeout: 15))
        #expect(try await browser.isVisible("\(sel) .stop-button"))
        #expect(try await browser.isVisible("\(sel) .cancel-sale-button") == false)
        #expect(try world.system.pendingStopRequests().isEmpty)
        #expect(try world.system.algorithm(id: held.id).status == .running)
        #expect(try world.system.position(algorithmId: held.id).shares == 10)
        try await save(browser, "sale-cancelled-800x480")
    }

    // MARK: - Issue 18: glanceable, loud failures, charts, phone, one clock

    func bannerText(_ browser: WebDriver) async throws -> String { try await browser.text("#banner") ?? "" }

    /// Whether `check` came true before the deadline (asked every 200 ms).
    func waitUntil(timeout: TimeInterval, _ check: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await check() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await check()
    }

    /// Where the README shows the page at each size (small PNGs, kept in the repository).
    static let readmeShots = repository.appendingPathComponent("frontend/screenshots")

    /// A screenshot kept as an artifact and, as `name`, in frontend/screenshots/ for the README.
    func keep(_ browser: WebDriver, _ name: String) async throws {
        try await save(browser, name)
        try FileManager.default.createDirectory(at: Self.readmeShots, withIntermediateDirectories: true)
        let png = try Data(contentsOf: Self.artifacts.appendingPathComponent("\(name).png"))
        try png.write(to: Self.readmeShots.appendingPathComponent("\(name).png"))
    }

    /// Every card's rectangle, whether it lies inside the viewport below the summary (and above the PIN prompt).
    static let cardsOnScreen = """
        const top = document.querySelector('#summary').getBoundingClientRect().bottom;
        const prompt = document.querySelector('#pin-prompt');
        const bottom = prompt.hidden ? innerHeight : prompt.getBoundingClientRect().top;
        const cards = [...document.querySelectorAll('#cards .card')];
        const off = cards.filter(c => { const r = c.getBoundingClientRect();
            return r.left < 0 || r.right > innerWidth + 0.5 || r.top < top - 0.5 || r.bottom > bottom + 0.5 || r.width < 40 || r.height < 30; });
        return [cards.length, off.length, document.documentElement.scrollHeight <= innerHeight && document.documentElement.scrollWidth <= innerWidth]
        """

    /// Font sizes in px, measured: the summary's P&L, the largest text anywhere else, and per card its P&L's size,
    /// the largest other text in it, and whether the P&L is drawn whole.
    static let measuredText = """
        const size = (el) => parseFloat(getComputedStyle(el).fontSize);
        const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
        const texty = (el) => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
        const summary = Math.min(size(document.querySelector('#sum-today')), size(document.querySelector('#sum-total')));
        let elsewhere = 0;
        for (const el of document.querySelectorAll('body *')) {
            if (el.closest('#summary') || el.closest('[hidden]') || !texty(el) || !visible(el)) continue;
            elsewhere = Math.max(elsewhere, size(el));
        }
        const cards = [...document.querySelectorAll('#cards .card')].map(c => {
            const pnl = c.querySelector('.pnl-money');
            let other = 0;
            for (const el of c.querySelectorAll('*')) if (el !== pnl && !el.closest('[hidden]') && texty(el) && visible(el)) other = Math.max(other, size(el));
            return [size(pnl), other, pnl.scrollWidth <= pnl.clientWidth + 1 ? 1 : 0];
        });
        return { summary, elsewhere, cards };
        """

    struct Measured {
        let summary: Double, elsewhere: Double, cards: [(pnl: Double, other: Double, whole: Bool)]
        init(_ any: Any?) {
            let object = any as? [String: Any] ?? [:]
            summary = (object["summary"] as? NSNumber)?.doubleValue ?? 0
            elsewhere = (object["elsewhere"] as? NSNumber)?.doubleValue ?? 0
            cards = (object["cards"] as? [[NSNumber]] ?? []).map { ($0[0].doubleValue, $0[1].doubleValue, $0[2].intValue == 1) }
        }
    }

    /// Issue 18 point 2: 12 cards on the 7-inch panel and 40 at 1080p all on screen at once, worst first, the
    /// summary's P&L the biggest text and each card's P&L the biggest in its card (measured, not looked at);
    /// a tile opens the full card; a +$0.62 gain reads "+0.0062%". Then the phone: a list, nothing clipped, the
    /// phone's own keyboard in the add dialog, and AVAILABLE's swing explained in words.
    @Test func everyCardIsOnScreenWorstFirstAndReadsFromAcrossTheRoomAndOnAPhone() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let world = try await world() // market open and no executor: the halted banner takes its room too
        let suffix = String(UUID().uuidString.filter(\.isLetter).prefix(3)).uppercased()
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var cents: AlgorithmInstance? = nil
        for i in 0..<12 {
            let ticker = "Z\(suffix)\(letters[i / 26])\(letters[i % 26])"
            if i == 5 {
                cents = try card(world, ticker, boughtAt: 100, close: 100.062) // +$0.62 on $10,000
            } else {
                _ = try card(world, ticker, boughtAt: 100, close: 90 + Double(i * 7 % 23)) // −$100 … +$120
            }
        }
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await open(browser, world)
        #expect(try await browser.waitUntil("return document.querySelectorAll('#cards .card').length === 12", timeout: 20))
        #expect(try await browser.attribute("#cards", "data-density") == "tile")
        let panel = try await browser.execute(Self.cardsOnScreen) as? [Any]
        #expect((panel?[0] as? Int) == 12 && (panel?[1] as? Int) == 0 && (panel?[2] as? Bool) == true, "800×480: \(panel ?? [])")

        // Worst first: the page's order is the api's P&L, lowest first.
        let list = try await world.api.json("GET", "/api/algorithms")
        let byPnL = (list.1["algorithms"]?.array ?? []).compactMap { card -> (Double, Int)? in
            guard let id = card["id"]?.number else { return nil }
            return (card["pnl"]?.number ?? Double(card["pnl"]?.string ?? "") ?? 0, Int(id))
        }.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map { String($0.1) }
        let shown = try await browser.execute("return [...document.querySelectorAll('#cards .card')].map(c => c.dataset.id)") as? [String]
        #expect(shown == byPnL, "page \(shown ?? []) api \(byPnL)")
        #expect(list.1["summary"]?["up"] != nil && list.1["broker_time"]?.string != nil, "the api's summary and broker_time: \(list.1)")

        // Measured: the summary's P&L is the biggest text on the screen, each card's P&L the biggest in its card.
        let small = Measured(try await browser.execute(Self.measuredText))
        #expect(small.summary >= 32, "summary P&L \(small.summary) px at 800×480")
        #expect(small.summary > small.elsewhere, "summary \(small.summary) px, something else \(small.elsewhere) px")
        #expect(small.cards.count == 12 && small.cards.allSatisfy { $0.pnl >= 22 && $0.pnl > $0.other && $0.whole }, "cards \(small.cards)")
        // Sign and precision: a +$0.62 gain is not a green unsigned 0.00%.
        let centsCard = ".card[data-id=\"\(cents!.id)\"]"
        #expect(try await browser.text("\(centsCard) .pnl-pct") == "+0.0062%")
        #expect(try await browser.attribute(centsCard, "data-pnl-sign") == "positive")
        #expect(try await browser.text("#sum-up") != nil)
        try await keep(browser, "overview-800x480")

        // A tile opens the full card, with its own STOP.
        try await browser.click("\(centsCard) .ticker")
        #expect(try await browser.waitUntil("const d = document.querySelector('#detail'); return !d.closest('[hidden]') && d.dataset.id === '\(cents!.id)'", timeout: 10))
        #expect(try await browser.isVisible("#detail-stop"))
        #expect(try await browser.text("#detail-pnl")?.hasPrefix("+$0.62 +0.0062%") == true)
        try await browser.click("#detail-close")

        // 40 at 1080p.
        for i in 12..<40 { _ = try card(world, "Z\(suffix)\(letters[i / 26])\(letters[i % 26])", boughtAt: 100, close: 95 + Double(i % 11)) }
        try await browser.setViewport(width: 1920, height: 1080)
        try await open(browser, world)
        #expect(try await browser.waitUntil("return document.querySelectorAll('#cards .card').length === 40", timeout: 20))
        let big = try await browser.execute(Self.cardsOnScreen) as? [Any]
        #expect((big?[0] as? Int) == 40 && (big?[1] as? Int) == 0 && (big?[2] as? Bool) == true, "1920×1080: \(big ?? [])")
        let large = Measured(try await browser.execute(Self.measuredText))
        #expect(large.summary >= 60 && large.summary > large.elsewhere, "summary \(large.summary) px, else \(large.elsewhere) px")
        #expect(large.cards.count == 40 && large.cards.allSatisfy { $0.pnl >= 28 && $0.pnl > $0.other && $0.whole }, "cards \(large.cards)")
        try await keep(browser, "overview-1920x1080")

        // The phone: one card under another, nothing wider than the screen, no figure cut.
        try await browser.setViewport(width: 390, height: 844)
        #expect(try await browser.waitUntil("return innerWidth === 390 && document.querySelector('#cards').dataset.density === 'list'", timeout: 20))
        let phone = try await browser.execute("""
            const clipped = [];
            for (const el of document.querySelectorAll('#topbar *, #summary *, #cards .card, #cards .card *')) {
                if (el.closest('[hidden]') || !el.getClientRects().length || el.closest('.spark')) continue;
                const r = el.getBoundingClientRect();
                if (r.width === 0) continue;
                if (r.left < -0.5 || r.right > innerWidth + 0.5 || el.scrollWidth > el.clientWidth + 1) clipped.push((el.id || el.className) + ' ' + el.textContent.slice(0, 20));
            }
            const xs = [...document.querySelectorAll('#cards .card')].slice(0, 3).map(c => c.getBoundingClientRect().left);
            return [clipped, document.documentElement.scrollWidth <= innerWidth, xs.every(x => Math.abs(x - xs[0]) < 1)]
            """) as? [Any]
        #expect((phone?[0] as? [String])?.isEmpty == true && (phone?[1] as? Bool) == true && (phone?[2] as? Bool) == true, "phone: \(phone ?? [])")
        try await keep(browser, "overview-390x844")

        // The add dialog on the phone: its own keyboard (letters, then digits), fields readable, START on screen.
        try await browser.click("#add-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "2020")
        #expect(try await browser.waitFor("#add-dialog", visible: true) != nil)
        #expect(try await browser.waitUntil("return document.querySelector('#add-available').dataset.state === 'ok'", timeout: 10))
        let dialog = try await browser.execute("""
            const f = (s) => document.querySelector(s), r = (s) => f(s).getBoundingClientRect();
            return [f('#keyboard').hidden, f('#add-ticker').inputMode, f('#add-capital').inputMode,
                parseFloat(getComputedStyle(f('#add-ticker')).fontSize) >= 16 && parseFloat(getComputedStyle(f('#add-capital')).fontSize) >= 16,
                r('#add-submit').bottom <= innerHeight && r('#add-submit').right <= innerWidth && r('#add-dialog').right <= innerWidth,
                f('#add-dialog').scrollWidth <= f('#add-dialog').clientWidth, f('#add-available-why').textContent]
            """) as? [Any]
        #expect(dialog?[0] as? Bool == true && dialog?[1] as? String == "text" && dialog?[2] as? String == "decimal", "\(dialog ?? [])")
        #expect(dialog?[3] as? Bool == true && dialog?[4] as? Bool == true && dialog?[5] as? Bool == true, "\(dialog ?? [])")
        #expect((dialog?[6] as? String)?.contains("falls as cards buy shares and rises as they sell") == true, "\(dialog ?? [])")
        try await save(browser, "add-dialog-390x844")
        try await browser.click("#add-cancel")
        // The wall's own keyboard is back at the panel's size.
        try await browser.setViewport(width: 800, height: 480)
        #expect(try await browser.waitUntil("return innerWidth === 800", timeout: 20))
        try await browser.click("#add-button")
        _ = try await browser.waitFor("#pin-pad", visible: true)
        try await enterPIN(browser, "2020")
        #expect(try await browser.waitFor("#add-dialog", visible: true) != nil)
        #expect(try await browser.execute("return !document.querySelector('#keyboard').hidden && document.querySelector('#add-ticker').inputMode === 'none'") as? Bool == true)
        let log = try await browser.browserLog()
        #expect(log.filter { $0.source == "security" || $0.level == "SEVERE" }.isEmpty, "\(log)")
    }

    /// A script that buys 2 shares when it holds none and sells them the next minute: a card that trades every minute.
    static let flipFlop = """
        \"\"\"Buys 2 shares, sells them the next minute: a dashboard test's busy card.\"\"\"

        class Algorithm:
            def __init__(self, ticker, initial_capital):
                pass

            def get_data_requirements(self, current_time):
                return {'bars': 1}

            def on_data(self, bars, transaction_history):
                held = sum(t['shares'] if t['type'] == 'buy' else -t['shares'] for t in transaction_history)
                return ('sell', held, 'flop') if held > 0 else ('buy', 2, 'flip')
        """

    /// Issue 18 points 3, 4, 6 with the real simulator, streamer, executor and api: a card that trades shows a
    /// non-flat sparkline and a day chart with its buys and sells marked (800×480, 1080p, phone); the top bar shows
    /// the simulator's clock, labelled; stopping the executor raises a red TRADING HALTED in plain words, which goes
    /// when it is back; stopping the market data raises it again and greys the card with since when.
    @Test func aTradingCardsChartAndTheWallSaysWhenTradingHaltsAndWhy() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let trading = try await TradingSystem(simArguments: ["--start", "2024-06-04T14:00:00Z", "--speed", "60", "--seed", "7"])
        let folder = TemporaryDirectory("algorithms")
        try Self.flipFlop.write(toFile: folder.file("flip_flop.py"), atomically: true, encoding: .utf8)
        let card = try trading.system.createAlgorithm(ticker: "AAPL", algorithmType: "flip_flop", initialCapital: 5_000)
        // The streamer is this test's own process, so that it can be stopped.
        let streamer = try Executables.start(
            "autotrader-streamer",
            ["--system-db", trading.systemPath, "--stocks-db", trading.stocksPath, "--poll-interval", "0.2", "--heartbeat-interval", "1",
             "--lookback-minutes", "30"],
            environment: trading.environment, directory: trading.directory)
        defer { if streamer.process.isRunning { streamer.process.terminate() } }
        try trading.startExecutor(["--algorithm-dir", folder.path])
        let api = try await APIProcess(
            directory: trading.directory, systemPath: trading.systemPath, stocksPath: trading.stocksPath, sim: trading.sim,
            arguments: ["--frontend", Self.frontend])
        defer { Task { await api.terminate() } }
        try await waitFor("the card traded a few times", timeout: 120) { try trading.system.trades(algorithmId: card.id).count >= 3 }

        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await browser.navigate("\(api.baseURL)/?poll_open_ms=1000&health_ms=1000")
        let sel = ".card[data-id=\"\(card.id)\"]"
        let calm = try await browser.waitUntil("return !!document.querySelector('\(sel)') && document.querySelector('#banner').dataset.halted === 'false'", timeout: 30)
        let calmBanner = try await bannerText(browser)
        #expect(calm, "a false alarm: \(calmBanner)")
        #expect(try await browser.attribute("#cards", "data-density") == "full")
        // One clock: the simulator's, labelled, in the viewer's zone.
        let clock = try await browser.text("#as-of") ?? ""
        #expect(clock.range(of: #"^SIM \d\d:\d\d"#, options: .regularExpression) != nil, "\(clock)")
        let pageTime = try await browser.attribute("#as-of", "data-broker-time") ?? ""
        let simTime = try await trading.simNow()
        let shownAt = (ISO8601DateFormatter().date(from: pageTime.replacingOccurrences(of: #"\.\d+Z$"#, with: "Z", options: .regularExpression))?.timeIntervalSince1970) ?? 0
        #expect(abs(shownAt - simTime) < 300, "page clock \(pageTime), simulator \(simTime)")

        // The sparkline is not flat: the equity points are on the simulator's clock.
        #expect(try await browser.waitUntil("return Number(document.querySelector('\(sel) .spark').dataset.points) >= 2 && !!document.querySelector('\(sel) .spark canvas')", timeout: 20))
        // (The api's broker clock is refreshed every few seconds: at 60× that is minutes, so wait for it.)
        var equity: JSONAny = .null
        let moved = try await waitUntil(timeout: 30) {
            equity = try await api.json("GET", "/api/algorithms/\(card.id)/equity").1
            return Set((equity["points"]?.array ?? []).compactMap { $0["value"]?.number ?? Double($0["value"]?.string ?? "") }).count >= 2
        }
        #expect(moved, "flat equity: \(equity)")
        #expect(try await browser.waitUntil("return Number(document.querySelector('\(sel) .spark').dataset.points) >= 2", timeout: 20))

        // The full card: the day's minute bars, not flat, the card's trades marked.
        try await browser.click("\(sel) .ticker")
        let charted = try await browser.waitUntil("""
            const c = document.querySelector('#detail-chart');
            return Number(c.dataset.bars) >= 5 && Number(c.dataset.markers) >= 3 && Number(c.dataset.high) > Number(c.dataset.low) && !!c.querySelector('canvas')
            """, timeout: 20)
        let chartState = try await browser.execute("return JSON.stringify(document.querySelector('#detail-chart').dataset) + document.querySelector('#detail-chart-status').textContent") as? String ?? ""
        #expect(charted, "\(chartState)")
        #expect(try await browser.text("#detail-chart-status")?.contains("last $") == true)
        try await keep(browser, "detail-800x480")
        try await browser.setViewport(width: 1920, height: 1080)
        #expect(try await browser.waitUntil("return innerWidth === 1920 && document.querySelector('#detail-chart canvas').getBoundingClientRect().width > 800", timeout: 20))
        try await save(browser, "detail-1920x1080")
        try await browser.setViewport(width: 390, height: 844)
        #expect(try await browser.waitUntil("return innerWidth === 390", timeout: 20))
        let phone = try await browser.execute("""
            const d = document.querySelector('#detail'), c = document.querySelector('#detail-chart').getBoundingClientRect();
            const rows = [...document.querySelectorAll('#detail-transactions .row')].filter(r => r.scrollWidth > r.clientWidth + 1 || r.getBoundingClientRect().right > innerWidth + 0.5);
            const cells = [...document.querySelectorAll('#detail-transactions .row > span')].filter(s => s.scrollWidth > s.clientWidth + 1);
            return [d.scrollWidth <= d.clientWidth, c.right <= innerWidth && c.width > 300 && c.height > 100, rows.length, cells.length]
            """) as? [Any]
        #expect(phone?[0] as? Bool == true && phone?[1] as? Bool == true && phone?[2] as? Int == 0 && phone?[3] as? Int == 0, "phone detail: \(phone ?? [])")
        try await keep(browser, "detail-390x844")
        try await browser.setViewport(width: 800, height: 480)
        try await browser.click("#detail-close")

        // The executor stops: red, in plain words, within seconds (health every second here, at least every 60 s by default).
        _ = await trading.stopExecutor()
        #expect(try await browser.waitUntil("const b = document.querySelector('#banner'); return b.dataset.halted === 'true' && b.dataset.level === 'error'", timeout: 30))
        let halted = try await browser.text("#banner") ?? ""
        #expect(halted.hasPrefix("TRADING HALTED — ") && halted.contains("trading service") && !halted.uppercased().contains("EXECUTOR"), "\(halted)")
        #expect(!halted.contains(" ET"), "times in the viewer's zone, not New York's: \(halted)")
        try await keep(browser, "halted-800x480")
        // Back: the alarm goes.
        try trading.startExecutor(["--algorithm-dir", folder.path])
        let back = try await browser.waitUntil("return document.querySelector('#banner').dataset.halted === 'false'", timeout: 60)
        let backBanner = try await bannerText(browser)
        #expect(back, "\(backBanner)")

        // The market data stops: halted again, and the card greyed with since when.
        streamer.process.terminate()
        let stale = try await browser.waitUntil("""
            const b = document.querySelector('#banner'), c = document.querySelector('\(sel)');
            return b.dataset.halted === 'true' && b.textContent.includes('no market data for AAPL') && c.dataset.stale === 'true'
            """, timeout: 60)
        let staleBanner = try await bannerText(browser)
        #expect(stale, "\(staleBanner)")
        let note = try await browser.text("\(sel) .stale-note") ?? ""
        #expect(note.range(of: #"since \d\d:\d\d"#, options: .regularExpression) != nil, "\(note)")
        let grey = try await browser.execute("return getComputedStyle(document.querySelector('\(sel)')).borderTopColor") as? String ?? ""
        #expect(grey == "rgb(74, 74, 74)", "a stale card's border: \(grey)")
        try await keep(browser, "stale-800x480")
        _ = await trading.stopExecutor()

        let log = try await browser.browserLog()
        #expect(log.filter { $0.source == "security" || $0.message.contains("Content Security Policy") || $0.level == "SEVERE" }.isEmpty, "\(log)")
    }

    /// Issue 18 point 3: with the market closed the page still checks health (here every second; by default at
    /// least every 60 s, while the card list is polled hourly), and it polls at the broker's open, measured on the
    /// simulator's own clock (10× here), instead of an hour later.
    @Test func theWallChecksHealthWhileClosedAndNoticesTheOpenAtOnce() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        // 09:25 New York at 10×: the open is 30 real seconds away.
        let world = try await world(simArguments: ["--start", "2024-06-04T13:25:00Z", "--speed", "10", "--seed", "7"])
        let browser = try await browser()
        defer { Task { await browser.quit() } }
        try await open(browser, world, query: "health_ms=1000")
        #expect(try await browser.execute("return [document.body.dataset.pollIntervalMs, document.body.dataset.healthIntervalMs, document.querySelector('#market').dataset.open]") as? [String]
                == ["3600000", "1000", "false"])
        #expect(try await browser.waitUntil("return Number(document.body.dataset.healthChecks || 0) >= 2", timeout: 20))
        #expect(try await browser.waitUntil("return document.querySelector('#market').dataset.open === 'true'", timeout: 90))
        #expect(try await browser.attribute("body", "data-poll-interval-ms") == "30000")
        // The default is at most a minute.
        try await open(browser, world)
        #expect(try await browser.attribute("body", "data-health-interval-ms") == "60000")
    }
}
