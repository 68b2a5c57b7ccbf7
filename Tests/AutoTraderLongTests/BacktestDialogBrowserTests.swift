import Foundation
import Testing
@testable import AutoTraderCore

/// The add dialog's backtest preview in a real Chromium (WebDriver): the real api queues the backtests, the
/// real executor runs them (fetching the bars from the simulator), and the page shows the last 20 sessions'
/// return, buy-and-hold, max drawdown, trades and equity chart, and the ranking of every algorithm — each
/// value the one the api answers. No CSP violation on the way.
@Suite(.serialized) struct BacktestDialogBrowserTests {
    static let frontend = Repository.root.appendingPathComponent("frontend").path
    static let artifacts = Repository.root.appendingPathComponent("artifacts/screenshots")

    func js(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [text])
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }

    /// The page's value of `selector`'s `data-…` attribute.
    func data(_ browser: WebDriver, _ selector: String, _ name: String) async throws -> String? {
        try await browser.attribute(selector, "data-\(name)")
    }

    /// Describes itself like any script, then exits at its first decision.
    static let diesDeciding = """
        import os

        class Algorithm:
            def __init__(self, *card):
                pass

            def on_data(self, bars, transaction_history):
                os._exit(1)

            def get_data_requirements(self, current_time):
                return {'bars': 3}
        """

    @Test func theAddDialogShowsTheLastSessionsBacktestAndRanksEveryAlgorithm() async throws {
        if let reason = WebDriver.unavailableReason { Issue.record("browser tests need chromium: \(reason)"); return }
        let world = try await APIWorld(apiArguments: ["--frontend", Self.frontend])
        // The executor runs the queue; it reads and fills its own stocks.db (the api reads none for a backtest).
        let stocksPath = world.directory.file("executor-stocks.db")
        _ = try StocksDatabase.open(path: stocksPath, create: true)
        // A script that describes itself but dies at its first decision: the ranking leaves it out, and says so.
        let scripts = TemporaryDirectory("backtest-dialog-scripts")
        try Self.diesDeciding.write(toFile: scripts.file("dies_deciding.py"), atomically: true, encoding: .utf8)
        let executor = try Executables.start(
            "autotrader-executor",
            ["--system-db", world.systemPath, "--stocks-db", stocksPath, "--heartbeat-interval", "1", "--algorithm-dir", scripts.path],
            environment: ["AUTOTRADER_SIM_URL": world.sim.baseURL.absoluteString], directory: world.directory)
        defer { executor.process.terminate() }

        let browser = try await WebDriver(width: 800, height: 480)
        defer { Task { await browser.quit() } }
        try await browser.navigate(world.api.baseURL + "/")
        #expect(try await browser.waitUntil("return Number(document.body.dataset.pollCount || 0) >= 1", timeout: 20))
        #expect(try await data(browser, "#backtest-preview", "state") == "idle")

        // + ADD, the PIN, then a ticker, an algorithm and a capital.
        try await browser.click("#add-button")
        for digit in "2020" { try await browser.click("#pin-pad [data-digit=\"\(digit)\"]") }
        try await browser.click("#pin-ok")
        #expect(try await browser.waitUntil("return !document.querySelector('#add-overlay').hidden", timeout: 10))
        try await browser.type("#add-ticker", "AAPL")
        #expect(try await browser.waitUntil("return document.querySelector('#ticker-status').dataset.state === 'valid'", timeout: 20))
        #expect(try await browser.waitUntil(
            "const s = document.querySelector('#add-algorithm'); return !s.disabled && [...s.options].some(o => o.value === 'sma_crossover')", timeout: 20))
        _ = try await browser.execute(
            "const s = document.querySelector('#add-algorithm'); s.value = 'sma_crossover'; s.dispatchEvent(new Event('change', {bubbles: true}))")
        try await browser.type("#add-capital", "1000")

        // The preview: queued, run by the executor, shown.
        let finished = try await browser.waitUntil(
            "const p = document.querySelector('#backtest-preview'); return p.dataset.state === 'done' || p.dataset.state === 'failed' || p.dataset.state === 'error'",
            timeout: 300)
        let previewText = try await browser.text("#backtest-preview") ?? ""
        #expect(finished, "the preview never finished: \(previewText)")
        #expect(try await data(browser, "#backtest-preview", "state") == "done", "\(previewText)")
        let id = try #require(try await data(browser, "#backtest-preview", "id"))
        let (status, job) = try await world.api.json("GET", "/api/backtests/\(id)")
        #expect(status == 200 && job["state"]?.string == "done" && job["algorithm"]?.string == "sma_crossover" && job["ticker"]?.string == "AAPL")
        #expect(job["capital"]?.number == 1000 && job["sessions"]?.number == 20)
        let result = try #require(job["result"])
        print("BacktestDialogBrowserTests: backtest \(id): return \(result["total_return"]?.string ?? "") buy-and-hold \(result["buy_and_hold_return"]?.string ?? "") max drawdown \(result["max_drawdown"]?.string ?? "") fills \(result["trades"]?.array?.count ?? 0) round trips \(Int(result["round_trips"]?.number ?? 0)) final equity \(result["final_equity"]?.string ?? "") bars \(Int(result["bars"]?.number ?? 0)); \(String(describing: job["created_at"]))…\(String(describing: job["finished_at"]))")
        #expect(try await data(browser, "#bt-return", "value") == result["total_return"]?.string)
        #expect(try await data(browser, "#bt-hold", "value") == result["buy_and_hold_return"]?.string)
        #expect(try await data(browser, "#bt-drawdown", "value") == result["max_drawdown"]?.string)
        #expect(try await data(browser, "#bt-trades", "value") == String(result["trades"]?.array?.count ?? -1))
        let curve = result["equity_curve"]?.array ?? []
        #expect(curve.count == 21, "the start and the 20 sessions' ends")
        #expect(try await data(browser, "#bt-chart", "points") == String(curve.count))
        #expect(try await data(browser, "#bt-chart", "last") == curve.last?["equity"]?.string)
        #expect(try await browser.waitUntil("return document.querySelectorAll('#bt-chart canvas').length > 0", timeout: 5), "no chart drawn")
        // The figures as a person reads them: a signed percentage of the api's fraction.
        let shown = try await browser.text("#bt-return") ?? ""
        let percent = (Double(result["total_return"]?.string ?? "") ?? .nan) * 100
        #expect(shown.contains(String(format: "%.2f", abs(percent))), "RETURN shows \(shown) for \(percent) %")
        try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
        try await browser.screenshot().write(to: Self.artifacts.appendingPathComponent("backtest-preview-800x480.png"))

        // Compare all: every algorithm ranked as the api ranks them.
        try await waitFor("the executor's catalog has the script as ok", timeout: 60) {
            (try await world.api.json("GET", "/api/available-algorithms").1["algorithms"]?.array ?? [])
                .contains { $0["name"]?.string == "dies_deciding" && $0["status"]?.string == "ok" }
        }
        try await browser.click("#bt-compare-button")
        #expect(try await browser.waitUntil(
            "const c = document.querySelector('#bt-compare'); return ['done', 'failed', 'error'].includes(c.dataset.state)", timeout: 300))
        let compareText = try await browser.text("#bt-compare") ?? ""
        #expect(try await data(browser, "#bt-compare", "state") == "done", "\(compareText)")
        let allID = try #require(try await data(browser, "#bt-compare", "id"))
        let ranking = try await world.api.json("GET", "/api/backtests/\(allID)").1
        #expect(ranking["algorithm"]?.string == "all")
        let board = ranking["result"]?["leaderboard"]?.array ?? []
        #expect(board.count == 3, "the three compiled algorithms")
        let leftOut = ranking["result"]?["left_out"]?.array?.compactMap(\.string) ?? []
        #expect(leftOut.count == 1 && leftOut[0].hasPrefix("script algorithm dies_deciding gave no decision"), "\(leftOut)")
        let shownLeftOut = try await browser.text("#bt-compare .bt-left-out") ?? ""
        #expect(shownLeftOut.hasPrefix("LEFT OUT · script algorithm dies_deciding gave no decision"), "\(shownLeftOut)")
        let rows = try await browser.execute("""
            return [...document.querySelectorAll('#bt-compare .bt-row[data-algorithm]')].map(r => [r.dataset.rank, r.dataset.algorithm, r.dataset.return, r.dataset.drawdown, r.dataset.trades, r.dataset.selected])
            """) as? [[Any]] ?? []
        #expect(rows.count == board.count)
        for (row, entry) in zip(rows, board) {
            let expected: [String] = [
                String(Int(entry["rank"]?.number ?? 0)), entry["algorithm"]?.string ?? "", entry["total_return"]?.string ?? "",
                entry["max_drawdown"]?.string ?? "", String(entry["trades"]?.array?.count ?? -1),
                entry["algorithm"]?.string == "sma_crossover" ? "true" : "false",
            ]
            #expect(row.compactMap { $0 as? String } == expected)
        }
        // The ranking's sma_crossover is the preview's.
        let same = board.first { $0["algorithm"]?.string == "sma_crossover" }
        #expect(same?["total_return"] == result["total_return"] && same?["trades"] == result["trades"])
        try await browser.screenshot().write(to: Self.artifacts.appendingPathComponent("backtest-compare-800x480.png"))

        // Another algorithm: a new preview, and the ranking marks it.
        _ = try await browser.execute(
            "const s = document.querySelector('#add-algorithm'); s.value = 'rsi_bounce'; s.dispatchEvent(new Event('change', {bubbles: true}))")
        #expect(try await browser.waitUntil(
            "const p = document.querySelector('#backtest-preview'); return p.dataset.key === 'AAPL|rsi_bounce|1000' && p.dataset.state === 'done'", timeout: 300))
        let rsiID = try #require(try await data(browser, "#backtest-preview", "id"))
        let rsi = try await world.api.json("GET", "/api/backtests/\(rsiID)").1
        #expect(rsi["algorithm"]?.string == "rsi_bounce")
        #expect(try await data(browser, "#bt-return", "value") == rsi["result"]?["total_return"]?.string)
        #expect(try await data(browser, "#bt-compare .bt-row[data-algorithm='rsi_bounce']", "selected") == "true")

        try await browser.setViewport(width: 1920, height: 1080)
        try await browser.screenshot().write(to: Self.artifacts.appendingPathComponent("backtest-compare-1920x1080.png"))

        let violations = try await browser.browserLog().filter { $0.source == "security" || $0.message.contains("Content Security Policy") }
        #expect(violations.isEmpty, "CSP violations: \(violations)")
        let scriptErrors = try await browser.browserLog().filter { $0.source == "javascript" }
        #expect(scriptErrors.isEmpty, "script errors: \(scriptErrors)")
    }
}
