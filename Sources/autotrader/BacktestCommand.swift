import ArgumentParser
import AutoTraderCore
import Foundation
import Logging
import TradingAlgorithms

/// `autotrader backtest`: an algorithm (or all of them) replayed over a ticker's stored minute bars,
/// with the executor's own decision code, guards and fill rule.
struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Replay an algorithm over a ticker's minute bars as the executor would have traded it.",
        discussion: """
            The range is whole New York sessions: --from and --to (both included), or the last --sessions N \
            that have ended. Bars stocks.db lacks for the range (and the session before it, the warm-up) are \
            first fetched from the broker with the streamer's backfill and stored, unless --no-fetch. A \
            decision on minute M's bar fills by default as the live market order does against the simulator: \
            at the open of the bar of M+2 (the order reaches the broker during M+1), not at all when the ticker \
            has no bar then, and at the next session's first bar for a decision on a session's last minute. \
            --fill close fills at the decision bar's close instead. Ratios in --json are fractions with six \
            decimals; money is exact decimal strings. A script algorithm (a file in the algorithm folder) is \
            replayed by a worker of its own, asked every minute as the executor asks it; a script that gives no \
            decision for a minute stops the backtest with an error naming the minute.
            """)

    @OptionGroup var databases: DatabaseOptions

    @Option(name: .customLong("type"), help: "The algorithm: a compiled one, a script in the algorithm folder, or all for a ranked leaderboard.")
    var type: String

    @Option(help: "The ticker.")
    var ticker: String

    @Option(help: "First session's date, YYYY-MM-DD (New York).")
    var from: String?

    @Option(help: "Last session's date, YYYY-MM-DD (New York), included.")
    var to: String?

    @Option(help: "The last N sessions that have ended (instead of --from/--to).")
    var sessions: Int?

    @Option(help: "The card's initial capital, in dollars (whole cents).")
    var capital: String

    @Option(help: "next-open (as live, the default) or close.")
    var fill: String = BacktestFillRule.nextOpen.rawValue

    @Option(name: .customLong("slippage-bps"), help: "Basis points added to buys' and taken off sells' fill prices.")
    var slippageBps: String = "0"

    @Option(help: "Dollars charged per fill (taken off the result's equity).")
    var commission: String = "0"

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Write every fill to this CSV file.")
    var trades: String?

    @Option(help: "Write the equity at every bar's close to this CSV file.")
    var equity: String?

    @Option(name: .customLong("algorithm-dir"), help: "The folder of script algorithms (default: AUTOTRADER_ALGORITHM_DIR, as the executor's).")
    var algorithmDirectory: String?

    @Flag(name: .customLong("no-fetch"), help: "Use only the bars stocks.db holds; never ask the broker.")
    var noFetch = false

    func validate() throws {
        guard (from == nil) == (to == nil) else { throw ValidationError("--from and --to go together") }
        guard (from != nil) != (sessions != nil) else { throw ValidationError("give either --from and --to, or --sessions") }
        if type == "all", trades != nil || equity != nil { throw ValidationError("--trades and --equity need one algorithm, not all") }
    }

    func run() async throws {
        let (algorithms, unavailable) = try resolve(type)
        let symbol = ticker.trimmingCharacters(in: .whitespaces).uppercased()
        guard Validation.isValidTicker(symbol) else { throw CommandFailure(description: BacktestError.invalidTicker(ticker).description) }
        guard let fillRule = BacktestFillRule(rawValue: fill) else { throw ValidationError("--fill must be next-open or close") }
        guard let capitalValue = Money.parse(capital) else { throw CommandFailure(description: "capital \(capital.debugDescription) is not a number") }
        guard let slippage = Money.parse(slippageBps) else { throw CommandFailure(description: "--slippage-bps \(slippageBps.debugDescription) is not a number") }
        guard let commissionValue = Money.parse(commission) else { throw CommandFailure(description: "--commission \(commission.debugDescription) is not a number") }
        let settings = BacktestSettings(capital: capitalValue, fill: fillRule, slippageBps: slippage, commission: commissionValue)
        if let problem = settings.problem { throw CommandFailure(description: problem) }

        let calendar = try MarketCalendar()
        let period: BacktestPeriod
        do {
            if let from, let to {
                period = try BacktestPeriod.dates(from, to, calendar: calendar)
            } else {
                // "The last N sessions" on the broker's clock (the simulator's may be years from the machine's).
                period = try BacktestPeriod.last(sessions ?? 0, calendar: calendar, now: await brokerNow())
            }
        } catch let error as BacktestError {
            throw CommandFailure(description: error.description)
        }

        let stocks = try databases.openStocks()
        let history = BacktestHistory(stocks: stocks, calendar: calendar)
        try await fetchWhatIsMissing(history, ticker: symbol, period: period)

        // A script's worker is started here (its description says how many bars it looks back on) and stopped
        // whatever comes; one that can't run, or stops its backtest, is an error, or for all left out of the
        // leaderboard with a note.
        // The workers' own log lines stay quiet: a failure's error already says what went wrong (with the script's stderr).
        var logger = Logger(label: "backtest")
        logger.logLevel = .error
        let (entries, broken) = try await BacktestRunnable.start(
            algorithms, options: ScriptBacktest.Options(), skipBroken: type == "all", logger: logger)
        for failure in broken { FileHandle.standardError.write(Data("left out: \(failure)\n".utf8)) }
        let results: [BacktestResult]
        var leftOut = unavailable + broken
        do {
            let bars = try history.bars(ticker: symbol, period: period, warmUp: entries.map(\.barsNeeded).max() ?? 0)
            let (ranked, failed) = try await Backtester(calendar: calendar)
                .run(entries, ticker: symbol, bars: bars, settings: settings, leaveOutFailed: type == "all")
            for failure in failed { FileHandle.standardError.write(Data("left out: \(failure)\n".utf8)) }
            leftOut += failed
            results = ranked
            await BacktestRunnable.stop(entries)
        } catch {
            await BacktestRunnable.stop(entries)
            throw CommandFailure(description: "\(error)")
        }
        let report = BacktestReport(period: period, results: results, leftOut: leftOut)

        if let trades {
            try write(results.count == 1 ? BacktestReport.tradesCSV(results[0]) : "", to: trades, what: "--trades", single: results.count == 1)
        }
        if let equity {
            try write(results.count == 1 ? BacktestReport.equityCSV(results[0]) : "", to: equity, what: "--equity", single: results.count == 1)
        }
        FileHandle.standardOutput.write(Data((json ? try report.json() : report.text()).utf8))
    }

    /// What `--type` names: a compiled algorithm, or a script in the algorithm folder (AUTOTRADER_ALGORITHM_DIR) found
    /// by the executor's rules; `all` is every compiled one and every script those rules let run, and the scripts they
    /// don't (name clashes) as the reasons they are left out.
    func resolve(_ name: String) throws -> (algorithms: [BacktestAlgorithm], leftOut: [BacktestJobFailure]) {
        let compiled = AlgorithmRegistry.catalog
        // A compiled algorithm needs neither the settings nor a scan of the folder.
        if let entry = compiled.entry(named: name) { return ([.compiled(entry)], []) }
        let folder = try algorithmDirectory ?? databases.settings().algorithmDirectory
        let (scripts, clashes) = ScriptAlgorithms.sort(ScriptFolder.scan(folder), compiled: compiled)
        if name == "all" {
            let leftOut = clashes.sorted { $0.key < $1.key }.map {
                BacktestJobFailure.cantRun($0.key, $0.value.error)
            }
            for failure in leftOut { FileHandle.standardError.write(Data("left out: \(failure)\n".utf8)) }
            return (compiled.entries.map { .compiled($0) } + scripts.values.sorted { $0.name < $1.name }.map { .script(name: $0.name, path: $0.path) }, leftOut)
        }
        if let script = scripts[name] { return ([.script(name: script.name, path: script.path)], []) }
        if let clash = clashes[name] { throw CommandFailure(description: BacktestJobFailure.cantRun(name, clash.error).description) }
        throw CommandFailure(description: BacktestError.unknownAlgorithm(name, known: (compiled.names + scripts.keys).sorted()).description
            + " (scripts are looked for in \(folder))")
    }

    /// The broker's time, or the machine's when the broker is not to be asked or can't be.
    func brokerNow() async -> Timestamp {
        guard !noFetch, let client = try? brokerClient(), let clock = try? await client.clock() else { return .now() }
        return Timestamp(clock.timestamp)
    }

    func brokerClient() throws -> AlpacaClient {
        var logger = Logger(label: "backtest")
        logger.logLevel = .warning
        var retries = AlpacaClient.RetryPolicy()
        retries.maxAttempts = 2
        return AlpacaClient(configuration: try AlpacaConfiguration.resolve(databases.settings()), retryPolicy: retries, logger: logger)
    }

    /// Fetches what stocks.db lacks with the streamer's backfill; a range the broker can't serve is an error naming its minutes.
    func fetchWhatIsMissing(_ history: BacktestHistory, ticker: String, period: BacktestPeriod) async throws {
        var why = "--no-fetch kept the broker out of it"
        if !noFetch, !(try history.missingMinutes(ticker: ticker, period: period, warmUp: true)).isEmpty {
            do {
                var logger = Logger(label: "backtest")
                logger.logLevel = .warning
                let client = try brokerClient()
                let repair = GapRepair(client: client, ingest: BarIngest(stocks: history.stocks, calendar: history.calendar, logger: logger), logger: logger)
                let written = try await history.fetchMissing(ticker: ticker, period: period, repair: repair)
                if written > 0 { FileHandle.standardError.write(Data("fetched \(written) bars of \(ticker) from the broker\n".utf8)) }
                why = "the broker has none for them"
            } catch {
                why = "the broker could not be asked: \(error)"
            }
        }
        let unserved = try history.unservedMinutes(ticker: ticker, period: period)
        if !unserved.isEmpty {
            throw CommandFailure(description: BacktestError.missingBars(ticker: ticker, minutes: unserved, why: why).description)
        }
    }

    func write(_ text: String, to path: String, what: String, single: Bool) throws {
        guard single else { throw CommandFailure(description: "\(what) needs one algorithm, not all") }
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw CommandFailure(description: "cannot write \(path)")
        }
    }
}
