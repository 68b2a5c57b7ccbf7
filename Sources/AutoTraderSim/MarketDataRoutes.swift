import AutoTraderCore
import Foundation
import Hummingbird

/// One historical-bars request, read and checked (timeframe, range, limit, page token, feed, sort).
struct BarRequest {
    typealias Timeframe = BarTimeframe

    /// Where the previous page stopped: the symbol and time of its last bar.
    struct Cursor: Equatable {
        var symbol: String
        var time: Timestamp

        init(symbol: String, time: Timestamp) {
            self.symbol = symbol
            self.time = time
        }

        /// Opaque to clients; like Alpaca's older tokens, base64 of `SYMBOL|timeframe|time`.
        init?(token: String) {
            guard let data = Data(base64Encoded: token) else { return nil }
            let parts = String(decoding: data, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[0].isEmpty, let time = Timestamp(rfc3339: String(parts[2])) else { return nil }
            self.init(symbol: String(parts[0]), time: time)
        }

        func token(_ timeframe: Timeframe) -> String {
            Data("\(symbol)|\(timeframe.code)|\(time.text)".utf8).base64EncodedString()
        }
    }

    var symbols: [String]
    var timeframe: Timeframe
    var start: Timestamp
    var end: Timestamp
    var limit: Int
    var cursor: Cursor?
    var descending: Bool

    static let maximumLimit = 10_000

    init(_ query: QueryValues, symbols: [String], now: Double, hours: TradingHours, feeds: Set<String>) throws {
        self.symbols = symbols
        guard let text = query["timeframe"], let timeframe = BarTimeframe(text) else {
            throw AlpacaAPIError(.unprocessableContent, code: 42210000, "invalid timeframe")
        }
        self.timeframe = timeframe
        try Self.checkFeed(query, now: now, feeds: feeds)
        let nowInstant = Timestamp(secondsSinceEpoch: Int64(now.rounded(.down)))
        let today = hours.newYorkDate(of: nowInstant)
        let startDate = try query.time("start", invalid: .badParameter("invalid start: use RFC 3339 or YYYY-MM-DD"))
        let endDate = try query.time("end", invalid: .badParameter("invalid end: use RFC 3339 or YYYY-MM-DD"))
        // Alpaca's defaults: from the beginning of today (New York) to now.
        start = startDate.map(Timestamp.init) ?? Self.newYorkMidnight(today, hours: hours)
        end = endDate.map(Timestamp.init) ?? nowInstant
        guard start <= end else {
            throw AlpacaAPIError(.unprocessableContent, code: 42210000, "end should not be before start")
        }
        if let text = query["limit"] {
            guard let value = Int(text), (1...Self.maximumLimit).contains(value) else {
                throw AlpacaAPIError.badParameter("invalid limit: must be between 1 and \(Self.maximumLimit)")
            }
            limit = value
        } else {
            limit = 1000
        }
        if let token = query["page_token"] {
            guard let cursor = Cursor(token: token) else { throw AlpacaAPIError.badParameter("invalid page_token") }
            self.cursor = cursor
        }
        switch query["sort"] {
        case nil, "asc": descending = false
        case "desc": descending = true
        default: throw AlpacaAPIError.badParameter("invalid sort: use asc or desc")
        }
    }

    /// iex and sip serve the same bars; a feed outside `--feeds` may not be queried for the last 15 minutes (as on a free plan).
    static func checkFeed(_ query: QueryValues, now: Double, feeds: Set<String>) throws {
        guard let feed = query["feed"] else { return }
        guard feed == "iex" || feed == "sip" else { throw AlpacaAPIError.badParameter("invalid feed: \(feed)") }
        let end = (try? query.time("end", invalid: .internalError))??.timeIntervalSince1970 ?? now
        if !feeds.contains(feed), end > now - 15 * 60 {
            throw AlpacaAPIError(.forbidden, code: 40310000, "subscription does not permit querying recent SIP data")
        }
    }

    static func newYorkMidnight(_ date: CivilDate, hours: TradingHours) -> Timestamp {
        if let index = hours.index(of: date) { return hours.newYorkMidnight(of: hours.sessions[index]) }
        let offset = hours.calendar.timeZone.secondsFromGMT(for: date.utcMidnight.adding(seconds: 12 * 3600).date)
        return date.utcMidnight.adding(seconds: Int64(-offset))
    }

    /// One page: bars symbol by symbol (alphabetically), at most `limit` in total, and where the next page starts.
    func page(generator: MarketDataGenerator, asOf: Double) -> (bars: [(String, [SimBar])], next: Cursor?) {
        var result: [(String, [SimBar])] = []
        // One bar beyond the limit tells whether another page exists.
        var wanted = limit + 1
        for symbol in symbols.sorted() {
            if let cursor, symbol < cursor.symbol { continue }
            var from = start, through = end
            if let cursor, symbol == cursor.symbol {
                if descending { through = min(through, cursor.time.adding(seconds: -1)) }
                else { from = max(from, cursor.time.adding(seconds: 1)) }
            }
            guard from <= through else { continue }
            let bars = generator.bars(symbol: symbol, timeframe: timeframe, from: from, through: through, asOf: asOf,
                                      descending: descending, limit: wanted)
            guard !bars.isEmpty else { continue }
            result.append((symbol, bars))
            wanted -= bars.count
            if wanted == 0 { break }
        }
        guard wanted == 0, var last = result.popLast() else { return (result, nil) }
        last.1.removeLast()
        if !last.1.isEmpty { result.append(last) }
        guard let (symbol, bars) = result.last, let final = bars.last else { return (result, nil) }
        return (result, Cursor(symbol: symbol, time: final.start))
    }
}

/// Alpaca's market-data REST endpoints for stocks: bars (history and latest), latest trades and quotes,
/// snapshots.
struct MarketDataRoutes {
    let generator: MarketDataGenerator
    let clock: SimClock
    let feeds: Set<String>

    var derived: DerivedPrints { DerivedPrints(generator: generator) }

    /// `symbols` (required) and the feed check of a multi-symbol latest endpoint.
    func latestQuery(_ request: Request) throws -> ([String], Double) {
        let query = QueryValues(request)
        guard let symbols = query.list("symbols"), !symbols.isEmpty else { throw AlpacaAPIError.badParameter("missing symbols") }
        let now = clock.now()
        try BarRequest.checkFeed(query, now: now, feeds: feeds)
        return (symbols, now)
    }

    /// The route's symbol and its newest minute bar (what its latest trade and quote are made from), or 404
    /// saying that no `what` was found.
    func latestBar(_ request: Request, _ context: SimRequestContext, what: String = "trade") throws -> (String, SimBar) {
        let symbol = try context.parameters.require("symbol")
        let now = clock.now()
        try BarRequest.checkFeed(QueryValues(request), now: now, feeds: feeds)
        guard let bar = generator.latestBar(symbol: symbol, asOf: now) else {
            throw AlpacaAPIError(.notFound, code: 40410000, "no \(what) found for \(symbol)")
        }
        return (symbol, bar)
    }

    /// A multi-symbol latest endpoint's map: each asked symbol that has a bar, to what `make` derives from it.
    func latestBySymbol<Value>(_ request: Request, _ make: (String, SimBar) -> Value) throws -> [String: Value] {
        let (symbols, now) = try latestQuery(request)
        var values: [String: Value] = [:]
        for symbol in symbols {
            if let bar = generator.latestBar(symbol: symbol, asOf: now) { values[symbol] = make(symbol, bar) }
        }
        return values
    }

    func add(to group: RouterGroup<SimRequestContext>) {
        group.get("stocks/bars") { request, _ in
            let query = QueryValues(request)
            guard let symbols = query.list("symbols"), !symbols.isEmpty else {
                throw AlpacaAPIError.badParameter("missing symbols")
            }
            let now = clock.now()
            let barRequest = try BarRequest(query, symbols: symbols, now: now, hours: generator.hours, feeds: feeds)
            let page = barRequest.page(generator: generator, asOf: now)
            return try JSONBody.response(SimWire.BarsPage(bars: page.bars, nextPageToken: page.next?.token(barRequest.timeframe)))
        }
        group.get("stocks/bars/latest") { request, _ in
            try JSONBody.response(SimWire.LatestBars(bars: latestBySymbol(request) { _, bar in bar }))
        }
        group.get("stocks/trades/latest") { request, _ in
            try JSONBody.response(SimWire.LatestTrades(trades: latestBySymbol(request, derived.trade)))
        }
        group.get("stocks/{symbol}/trades/latest") { request, context in
            let (symbol, bar) = try latestBar(request, context)
            return try JSONBody.response(SimWire.LatestTrade(symbol: symbol, trade: derived.trade(symbol: symbol, bar: bar)))
        }
        group.get("stocks/quotes/latest") { request, _ in
            try JSONBody.response(SimWire.LatestQuotes(quotes: latestBySymbol(request, derived.quote)))
        }
        group.get("stocks/{symbol}/quotes/latest") { request, context in
            let (symbol, bar) = try latestBar(request, context)
            return try JSONBody.response(SimWire.LatestQuote(symbol: symbol, quote: derived.quote(symbol: symbol, bar: bar)))
        }
        group.get("stocks/snapshots") { request, _ in
            let (symbols, now) = try latestQuery(request)
            var snapshots: [String: SimWire.Snapshot] = [:]
            for symbol in symbols {
                if let snapshot = derived.snapshot(symbol: symbol, asOf: now) { snapshots[symbol] = snapshot }
            }
            return try JSONBody.response(SimWire.Snapshots(snapshots: snapshots))
        }
        group.get("stocks/{symbol}/snapshot") { request, context in
            let symbol = try context.parameters.require("symbol")
            let now = clock.now()
            try BarRequest.checkFeed(QueryValues(request), now: now, feeds: feeds)
            guard var snapshot = derived.snapshot(symbol: symbol, asOf: now) else {
                throw AlpacaAPIError(.notFound, code: 40410000, "no data found for \(symbol)")
            }
            snapshot.symbol = symbol
            return try JSONBody.response(snapshot)
        }
        group.get("stocks/{symbol}/bars") { request, context in
            let symbol = try context.parameters.require("symbol")
            let now = clock.now()
            let barRequest = try BarRequest(QueryValues(request), symbols: [symbol], now: now, hours: generator.hours, feeds: feeds)
            let page = barRequest.page(generator: generator, asOf: now)
            return try JSONBody.response(SimWire.SymbolBarsPage(
                bars: page.bars.first?.1 ?? [], symbol: symbol,
                nextPageToken: page.next?.token(barRequest.timeframe)))
        }
        group.get("stocks/{symbol}/bars/latest") { request, context in
            let (symbol, bar) = try latestBar(request, context, what: "bar")
            return try JSONBody.response(SimWire.LatestBar(symbol: symbol, bar: bar))
        }
    }
}

/// The trades and quotes the simulator never had, made from its minute bars (the README says what each
/// field holds): the latest trade is the last minute bar's close, at the bar's last second, of the bar's
/// average trade size; the latest quote is a one-tick spread around that close, one round lot each side.
struct DerivedPrints {
    let generator: MarketDataGenerator

    /// The consolidated tape of a listing exchange: A for NYSE, C for Nasdaq, B for the rest (Arca, AMEX, BATS).
    static func tape(_ exchange: String) -> String {
        switch exchange {
        case "NYSE": return "A"
        case "NASDAQ": return "C"
        default: return "B"
        }
    }

    /// A cent from $1 up, a hundredth of a cent below.
    static func tick(_ price: Double) -> Double { price >= 1 ? 0.01 : 0.0001 }

    func trade(symbol: String, bar: SimBar) -> SimWire.Trade {
        let size = max(1, (Double(bar.volume) / Double(max(1, bar.tradeCount))).rounded())
        let id = StableHash.mix(StableHash.of(symbol), UInt64(bitPattern: bar.start.secondsSinceEpoch), 0x7ADE) >> 11
        return SimWire.Trade(t: bar.start.adding(seconds: 59).text, x: "V", p: bar.close, s: Int64(size), c: ["@"],
                             i: Int64(id), z: Self.tape(generator.universe.asset(symbol: symbol)?.exchange ?? ""))
    }

    func quote(symbol: String, bar: SimBar) -> SimWire.Quote {
        let tick = Self.tick(bar.close)
        let bid = max(tick, MarketDataGenerator.roundPrice(bar.close - tick)), ask = MarketDataGenerator.roundPrice(bar.close + tick)
        return SimWire.Quote(t: bar.start.adding(seconds: 59).text, ax: "V", ap: ask, as: 1, bx: "V", bp: bid, bs: 1, c: ["R"],
                             z: Self.tape(generator.universe.asset(symbol: symbol)?.exchange ?? ""))
    }

    /// Nil for a symbol without any bar.
    func snapshot(symbol: String, asOf: Double) -> SimWire.Snapshot? {
        guard let minute = generator.latestBar(symbol: symbol, asOf: asOf) else { return nil }
        let daily = generator.lastTwoDailyBars(symbol: symbol, asOf: asOf)
        return SimWire.Snapshot(
            symbol: nil, latestTrade: trade(symbol: symbol, bar: minute), latestQuote: quote(symbol: symbol, bar: minute),
            minuteBar: minute, dailyBar: daily.latest,
            prevDailyBar: daily.previous)
    }
}
