import AutoTraderCore
import Foundation
import Hummingbird

/// One historical-bars request, read and checked (timeframe, range, limit, page token, feed, sort).
struct BarRequest {
    enum Timeframe { case minute, day }

    /// Where the previous page stopped: the symbol and time of its last bar.
    struct Cursor: Equatable {
        var symbol: String
        var time: Timestamp

        init(symbol: String, time: Timestamp) {
            self.symbol = symbol
            self.time = time
        }

        /// Opaque to clients; like Alpaca's older tokens, base64 of `SYMBOL|M|time`.
        init?(token: String) {
            guard let data = Data(base64Encoded: token) else { return nil }
            let parts = String(decoding: data, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[0].isEmpty, let time = Timestamp(rfc3339: String(parts[2])) else { return nil }
            self.init(symbol: String(parts[0]), time: time)
        }

        func token(_ timeframe: Timeframe) -> String {
            Data("\(symbol)|\(timeframe == .minute ? "M" : "D")|\(time.text)".utf8).base64EncodedString()
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
        switch query["timeframe"] {
        case "1Min", "1T", "1Minute": timeframe = .minute
        case "1Day", "1D": timeframe = .day
        default: throw AlpacaAPIError(.unprocessableContent, code: 42210000, "invalid timeframe")
        }
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
            let bars: [SimBar]
            switch timeframe {
            case .minute:
                bars = generator.bars(symbol: symbol, from: from, through: through, asOf: asOf, descending: descending, limit: wanted)
            case .day:
                bars = generator.dailyBars(symbol: symbol, from: from, through: through, asOf: asOf, descending: descending, limit: wanted)
            }
            guard !bars.isEmpty else { continue }
            result.append((symbol, bars))
            wanted -= bars.count
            if wanted == 0 { break }
        }
        guard wanted == 0, var last = result.popLast() else { return (result, nil) }
        last.1.removeLast()
        if !last.1.isEmpty { result.append(last) }
        guard let (symbol, bars) = result.last, let final = bars.last else { return (result, nil) }
        return (result, Cursor(symbol: symbol, time: final.t))
    }
}

/// Alpaca's market-data REST endpoints for stock bars (history and latest).
struct MarketDataRoutes {
    let generator: MarketDataGenerator
    let clock: SimClock
    let feeds: Set<String>

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
            let query = QueryValues(request)
            guard let symbols = query.list("symbols"), !symbols.isEmpty else {
                throw AlpacaAPIError.badParameter("missing symbols")
            }
            let now = clock.now()
            try BarRequest.checkFeed(query, now: now, feeds: feeds)
            var bars: [String: SimWire.Bar] = [:]
            for symbol in symbols {
                if let bar = generator.latestBar(symbol: symbol, asOf: now) { bars[symbol] = SimWire.Bar(bar) }
            }
            return try JSONBody.response(SimWire.LatestBars(bars: bars))
        }
        group.get("stocks/{symbol}/bars") { request, context in
            let symbol = try context.parameters.require("symbol")
            let now = clock.now()
            let barRequest = try BarRequest(QueryValues(request), symbols: [symbol], now: now, hours: generator.hours, feeds: feeds)
            let page = barRequest.page(generator: generator, asOf: now)
            return try JSONBody.response(SimWire.SymbolBarsPage(
                bars: (page.bars.first?.1 ?? []).map(SimWire.Bar.init), symbol: symbol,
                nextPageToken: page.next?.token(barRequest.timeframe)))
        }
        group.get("stocks/{symbol}/bars/latest") { request, context in
            let symbol = try context.parameters.require("symbol")
            let now = clock.now()
            try BarRequest.checkFeed(QueryValues(request), now: now, feeds: feeds)
            guard let bar = generator.latestBar(symbol: symbol, asOf: now) else {
                throw AlpacaAPIError(.notFound, code: 40410000, "no bar found for \(symbol)")
            }
            return try JSONBody.response(SimWire.LatestBar(symbol: symbol, bar: SimWire.Bar(bar)))
        }
    }
}
