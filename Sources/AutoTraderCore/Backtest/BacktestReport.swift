import Foundation

/// A backtest's results written out: text for people, JSON (byte-identical for the same inputs), CSVs.
public struct BacktestReport: Sendable {
    public let period: BacktestPeriod
    /// One result, or several ranked best first (`--type all`).
    public let results: [BacktestResult]
    /// A leaderboard's scripts that could not run or stopped their backtest, each with why (in its JSON as
    /// `left_out`: the owner learns why a script is missing, wherever the leaderboard was asked for).
    public let leftOut: [BacktestJobFailure]

    public init(period: BacktestPeriod, results: [BacktestResult], leftOut: [BacktestJobFailure] = []) {
        self.period = period
        self.results = results
        self.leftOut = leftOut
    }

    /// The results best first: by total return, then final equity, then name (a stable order).
    public static func ranked(_ results: [BacktestResult]) -> [BacktestResult] {
        results.sorted { a, b in
            if a.totalReturn != b.totalReturn { return a.totalReturn > b.totalReturn }
            return a.algorithm < b.algorithm
        }
    }

    // MARK: - JSON

    struct TradeJSON: Encodable {
        let time: String
        let decidedAt: String
        let side: String
        let shares: Int
        let price: String
        let reason: String
        enum CodingKeys: String, CodingKey { case time, decidedAt = "decided_at", side, shares, price, reason }
    }

    struct PointJSON: Encodable {
        let time: String
        let equity: String
    }

    struct ResultJSON: Encodable {
        /// Left out of a single result's JSON; 1, 2, … in a leaderboard.
        let rank: Int?
        let algorithm: String
        let ticker: String
        let from: String
        let to: String
        let sessions: Int
        let bars: Int
        let capital: String
        let fill: String
        let slippageBps: String
        let commission: String
        let trades: [TradeJSON]
        let finalEquity: String
        let totalReturn: String
        let buyAndHoldReturn: String
        let maxDrawdown: String
        let roundTrips: Int
        /// null without round trips.
        @ExplicitNull var winRate: String?
        let exposure: String
        let equityCurve: [PointJSON]

        enum CodingKeys: String, CodingKey {
            case rank, algorithm, ticker, from, to, sessions, bars, capital, fill, slippageBps = "slippage_bps", commission
            case trades, finalEquity = "final_equity", totalReturn = "total_return", buyAndHoldReturn = "buy_and_hold_return"
            case maxDrawdown = "max_drawdown", roundTrips = "round_trips", winRate = "win_rate", exposure
            case equityCurve = "equity_curve"
        }
    }

    struct LeaderboardJSON: Encodable {
        let ticker: String
        let from: String
        let to: String
        let leaderboard: [ResultJSON]
        let leftOut: [String]
        enum CodingKeys: String, CodingKey { case ticker, from, to, leaderboard, leftOut = "left_out" }
    }

    func json(_ result: BacktestResult, rank: Int?) -> ResultJSON {
        ResultJSON(
            rank: rank, algorithm: result.algorithm, ticker: result.ticker, from: period.sessions[0].date.text,
            to: period.sessions[period.sessions.count - 1].date.text, sessions: period.sessions.count, bars: result.bars,
            capital: Self.money(result.settings.capital), fill: result.settings.fill.rawValue,
            slippageBps: result.settings.slippageBps.plainString, commission: Self.money(result.settings.commission),
            trades: result.fills.map {
                TradeJSON(time: $0.time.text, decidedAt: $0.decidedAt.text, side: $0.side.rawValue, shares: $0.shares,
                          price: Self.money($0.price), reason: $0.reason)
            },
            finalEquity: Self.money(result.finalEquity), totalReturn: Self.fixed(result.totalReturn),
            buyAndHoldReturn: Self.fixed(result.buyAndHoldReturn), maxDrawdown: Self.fixed(result.maxDrawdown),
            roundTrips: result.roundTrips, winRate: result.winRate.map { Self.fixed($0) }, exposure: Self.fixed(result.exposure),
            equityCurve: result.equityCurve.map { PointJSON(time: $0.time.text, equity: Self.money($0.equity)) })
    }

    /// One result's JSON object, or the leaderboard's when there are several. Keys sorted, money as exact
    /// decimal strings, ratios as fractions with six decimals: the same inputs give the same bytes.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        if results.count == 1 {
            data = try encoder.encode(json(results[0], rank: nil))
        } else {
            let ranked = Self.ranked(results)
            data = try encoder.encode(LeaderboardJSON(
                ticker: ranked.first?.ticker ?? "", from: period.sessions[0].date.text,
                to: period.sessions[period.sessions.count - 1].date.text,
                leaderboard: ranked.enumerated().map { json($1, rank: $0 + 1) }, leftOut: leftOut.map(\.description)))
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    // MARK: - Text

    /// Every fill and the figures for one result; a ranked table for several.
    public func text() -> String {
        results.count == 1 ? text(results[0]) : leaderboard()
    }

    var rangeLine: String {
        let first = period.sessions[0].date.text
        let last = period.sessions[period.sessions.count - 1].date.text
        return "\(first) to \(last) (\(period.sessions.count) session\(period.sessions.count == 1 ? "" : "s"))"
    }

    func settingsLine(_ settings: BacktestSettings) -> String {
        "capital \(Money.centsText(settings.capital)), fills at \(settings.fill.rawValue), slippage \(settings.slippageBps.plainString) bps, commission \(Self.money(settings.commission)) a fill"
    }

    func text(_ result: BacktestResult) -> String {
        var lines = ["\(result.algorithm) on \(result.ticker), \(rangeLine), \(result.bars) bars; \(settingsLine(result.settings))", ""]
        if result.fills.isEmpty {
            lines.append("no fills")
        } else {
            lines += Self.table(
                ["TIME", "DECIDED_AT", "SIDE", "SHARES", "PRICE", "REASON"],
                result.fills.map { [$0.time.text, $0.decidedAt.text, $0.side.rawValue, String($0.shares), Self.money($0.price), $0.reason] },
                rightAligned: [3, 4])
        }
        let trips = result.roundTrips == 0
            ? "0"
            : "\(result.roundTrips) (\(result.wins) won: win rate \(Self.percent(result.winRate ?? 0, signed: false)))"
        lines += [
            "",
            "final equity   \(Money.centsText(result.finalEquity))\(result.sharesHeld > 0 ? " (holding \(result.sharesHeld) shares)" : "")",
            "total return   \(Self.percent(result.totalReturn))",
            "buy and hold   \(Self.percent(result.buyAndHoldReturn))",
            "max drawdown   \(Self.percent(result.maxDrawdown, signed: false))",
            "round trips    \(trips)",
            "exposure       \(Self.percent(result.exposure, signed: false)) of minutes holding shares",
        ]
        if result.refused + result.unfilled + result.errors > 0 {
            lines.append("not traded     \(result.refused) refused by the guards, \(result.unfilled) orders unfilled, \(result.errors) decisions threw")
        }
        lines += ["", "equity curve (start, then each session's last bar)"]
        lines += result.equityCurve.map { "\($0.time.text)  \(Money.centsText($0.equity))" }
        return lines.joined(separator: "\n") + "\n"
    }

    func leaderboard() -> String {
        let ranked = Self.ranked(results)
        var lines = [
            "\(ranked.count) algorithms on \(ranked.first?.ticker ?? ""), \(rangeLine), \(ranked.first?.bars ?? 0) bars; \(settingsLine(ranked[0].settings))",
            "",
        ]
        lines += Self.table(
            ["RANK", "ALGORITHM", "RETURN", "BUY_AND_HOLD", "MAX_DRAWDOWN", "ROUND_TRIPS", "WIN_RATE", "EXPOSURE", "FILLS", "FINAL_EQUITY"],
            ranked.enumerated().map { index, result in
                [
                    String(index + 1), result.algorithm, Self.percent(result.totalReturn), Self.percent(result.buyAndHoldReturn),
                    Self.percent(result.maxDrawdown, signed: false), String(result.roundTrips),
                    result.winRate.map { Self.percent($0, signed: false) } ?? "-", Self.percent(result.exposure, signed: false),
                    String(result.fills.count), Money.centsText(result.finalEquity),
                ]
            },
            rightAligned: [0, 2, 3, 4, 5, 6, 7, 8, 9])
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - CSV

    /// `time,decided_at,side,shares,price,commission,reason`, one line per fill.
    public static func tradesCSV(_ result: BacktestResult) -> String {
        var text = "time,decided_at,side,shares,price,commission,reason\n"
        for fill in result.fills {
            text += [fill.time.text, fill.decidedAt.text, fill.side.rawValue, String(fill.shares), money(fill.price),
                     money(fill.commission), csvField(fill.reason)].joined(separator: ",") + "\n"
        }
        return text
    }

    /// `time,equity`, one line per bar of the range (the equity at its close).
    public static func equityCSV(_ result: BacktestResult) -> String {
        var text = "time,equity\n"
        text.reserveCapacity(40 * result.minuteEquity.count)
        for index in 0..<result.minuteEquity.count {
            let point = result.minuteEquity[index]
            text += point.time.text + "," + money(point.equity) + "\n"
        }
        return text
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: - Formatting

    /// A decimal with exactly `places` decimals, rounded half away from zero ("0.023456", "-0.500000").
    public static func fixed(_ value: Decimal, places: Int = 6) -> String {
        let rounded = Money.rounded(value, scale: places)
        let text = rounded.plainString
        let negative = text.hasPrefix("-")
        let body = negative ? String(text.dropFirst()) : text
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        let whole = parts[0].isEmpty ? "0" : String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        let padded = places == 0 ? "" : "." + fraction + String(repeating: "0", count: max(0, places - fraction.count))
        let result = whole + padded
        return negative && rounded != 0 ? "-" + result : result
    }

    /// Money as an exact decimal string with at least two decimals ("149.20", "10140.3215").
    public static func money(_ value: Decimal) -> String {
        fixed(value, places: max(2, Money.decimalPlaces(value)))
    }

    /// A fraction as a percentage with two decimals ("+2.35 %", "-0.40 %").
    public static func percent(_ fraction: Decimal, signed: Bool = true) -> String {
        let text = fixed(fraction * 100, places: 2)
        return (signed && !text.hasPrefix("-") ? "+" : "") + text + " %"
    }

    static func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? padding + cell : cell + padding
            }.joined(separator: "  ").replacingOccurrences(of: " +$", with: "", options: .regularExpression)
        }
    }
}
