import Foundation
import Testing
@testable import AutoTraderCore

/// The simulator's replace, close-position and close-all endpoints, fractional and notional orders, bars of
/// every timeframe (checked against the minute bars they are made of), latest trades and quotes, snapshots,
/// and the asset filters — each against the simulator's own ground truth, so a broken rule fails here.
@Suite struct SimulatorEndpointTests {
    /// Tuesday 2024-06-04, 11:00 New York, a minute a second, filling at the last close (at once).
    static let session = ["--start", "2024-06-04T15:00:00Z", "--speed", "1", "--seed", "7", "--fill-price", "last-close"]

    static func json(_ sim: SimulatorProcess, _ method: String = "GET", _ path: String, _ body: [String: Any]? = nil)
        async throws -> (Int, JSONAny)
    {
        let reply = try await sim.request(method, path, json: body)
        return (reply.status, reply.body.isEmpty ? .null : try JSONAny.parse(reply.body))
    }

    static func decimal(_ value: JSONAny?) -> Decimal? { value?.string.flatMap { Decimal(string: $0) } }

    static func keys(_ value: JSONAny?) -> [String] {
        if case .object(let fields)? = value { return fields.keys.sorted() }
        return []
    }

    static func order(_ sim: SimulatorProcess, _ body: [String: Any]) async throws -> (Int, JSONAny) {
        try await json(sim, "POST", "/v2/orders", body)
    }

    static func market(_ symbol: String, _ qty: String, _ side: String) -> [String: Any] {
        ["symbol": symbol, "qty": qty, "side": side, "type": "market", "time_in_force": "day"]
    }

    /// Waits until the order is in a final state.
    static func final(_ sim: SimulatorProcess, _ id: String?) async throws -> JSONAny {
        let id = try #require(id)
        return try await sim.waitFor(timeout: 30) { () -> JSONAny? in
            let (_, order) = try await json(sim, "GET", "/v2/orders/\(id)")
            return ["filled", "canceled", "expired", "rejected", "replaced"].contains(order["status"]?.string ?? "") ? order : nil
        }
    }

    static func positionQty(_ sim: SimulatorProcess, _ symbol: String) async throws -> Decimal? {
        let (status, position) = try await json(sim, "GET", "/v2/positions/\(symbol)")
        return status == 404 ? nil : decimal(position["qty"])
    }

    // MARK: - Replace

    @Test func aReplacedOrderPointsToItsReplacementWhichTakesItsPlace() async throws {
        let sim = try await SimulatorProcess(Self.session)
        let (status, sent) = try await Self.order(sim, [
            "symbol": "NVDA", "qty": "2", "side": "buy", "type": "limit", "limit_price": "50", "time_in_force": "gtc",
            "client_order_id": "first",
        ])
        #expect(status == 200, "\(sent)")
        let oldID = try #require(sent["id"]?.string)
        let (replaceStatus, new) = try await Self.json(sim, "PATCH", "/v2/orders/\(oldID)", [
            "qty": "3", "limit_price": "51.5", "client_order_id": "second", "time_in_force": "day",
        ])
        #expect(replaceStatus == 200, "\(new)")
        let newID = try #require(new["id"]?.string)
        #expect(newID != oldID)
        #expect(new["replaces"]?.string == oldID && new["replaced_by"]?.isNull == true, "\(new)")
        #expect(new["qty"]?.string == "3" && Self.decimal(new["limit_price"]) == Decimal(string: "51.5"))
        #expect(new["client_order_id"]?.string == "second" && new["time_in_force"]?.string == "day")
        #expect(new["symbol"]?.string == "NVDA" && new["side"]?.string == "buy" && new["type"]?.string == "limit")
        #expect(["accepted", "new"].contains(new["status"]?.string ?? ""))

        let (_, old) = try await Self.json(sim, "GET", "/v2/orders/\(oldID)")
        #expect(old["status"]?.string == "replaced" && old["replaced_by"]?.string == newID, "\(old)")
        #expect(old["replaced_at"]?.string.flatMap { RFC3339.parse($0) } != nil, "\(old)")
        #expect(old["replaces"]?.isNull == true && old["client_order_id"]?.string == "first")
        let (_, byClient) = try await Self.json(sim, "GET", "/v2/orders:by_client_order_id?client_order_id=second")
        #expect(byClient["id"]?.string == newID)
        // Only the replacement is open, and only it holds buying power: 4 × $100,000 less 3 × $51.50.
        let (_, open) = try await Self.json(sim, "GET", "/v2/orders?status=open")
        #expect(open.array?.compactMap { $0["id"]?.string } == [newID], "\(open)")
        let (_, account) = try await Self.json(sim, "GET", "/v2/account")
        #expect(Self.decimal(account["buying_power"]) == 400_000 - Decimal(string: "154.5")!, "\(account)")

        // What may not be replaced: the replaced order, a filled one, an unknown one; a fractional qty;
        // a duplicate client order id; a limit price on a market order.
        var refusals: [(String, [String: Any], Int, String)] = [
            (oldID, ["qty": "4"], 422, "not replaceable"),
            (newID, ["qty": "1.5"], 422, "qty must be integer"),
            (newID, ["client_order_id": "first"], 422, "client_order_id must be unique"),
            (UUID().uuidString.lowercased(), ["qty": "4"], 404, "order not found"),
            (newID, [:], 422, "required"),
        ]
        let (_, filled) = try await Self.order(sim, Self.market("AAPL", "1", "buy"))
        let filledID = try #require(filled["id"]?.string)
        #expect(try await Self.final(sim, filledID)["status"]?.string == "filled")
        refusals.append((filledID, ["qty": "2"], 422, "not replaceable"))
        refusals.append((filledID, ["limit_price": "10"], 422, "not replaceable"))
        for (id, body, status, message) in refusals {
            let (got, answer) = try await Self.json(sim, "PATCH", "/v2/orders/\(id)", body)
            #expect(got == status && answer["message"]?.string?.contains(message) == true, "\(id) \(body) → \(got) \(answer)")
        }
        // A refused replace leaves the order as it was.
        let (_, still) = try await Self.json(sim, "GET", "/v2/orders/\(newID)")
        #expect(["accepted", "new"].contains(still["status"]?.string ?? "") && still["qty"]?.string == "3", "\(still)")
    }

    // MARK: - Close one, close all

    @Test func closingAPositionSendsTheOppositeMarketOrderAndCloseAllAnswersPerSymbol() async throws {
        let sim = try await SimulatorProcess(Self.session)
        for (symbol, qty, side) in [("AAPL", "10", "buy"), ("MSFT", "4", "buy"), ("NVDA", "3", "sell")] {
            let (status, sent) = try await Self.order(sim, Self.market(symbol, qty, side))
            #expect(status == 200, "\(sent)")
            #expect(try await Self.final(sim, sent["id"]?.string)["status"]?.string == "filled")
        }
        // Half of 10, then 2 of what is left.
        let (halfStatus, half) = try await Self.json(sim, "DELETE", "/v2/positions/AAPL?percentage=50")
        #expect(halfStatus == 200 && half["side"]?.string == "sell" && half["qty"]?.string == "5", "\(half)")
        #expect(half["type"]?.string == "market" && half["time_in_force"]?.string == "day")
        #expect(try await Self.final(sim, half["id"]?.string)["status"]?.string == "filled")
        #expect(try await Self.positionQty(sim, "AAPL") == 5)
        let (_, two) = try await Self.json(sim, "DELETE", "/v2/positions/aapl?qty=2")
        #expect(two["qty"]?.string == "2", "\(two)")
        _ = try await Self.final(sim, two["id"]?.string)
        #expect(try await Self.positionQty(sim, "AAPL") == 3)
        for (path, status) in [("/v2/positions/TSLA", 404), ("/v2/positions/AAPL?qty=1&percentage=5", 422),
                               ("/v2/positions/AAPL?percentage=150", 422), ("/v2/positions/AAPL?qty=4", 403)] {
            #expect(try await sim.request("DELETE", path).status == status, "\(path)")
        }

        // A resting sell holds MSFT's shares: without cancel_orders its close is refused with the
        // insufficient-qty body, the others close (the short with a buy).
        let (_, resting) = try await Self.order(sim, [
            "symbol": "MSFT", "qty": "4", "side": "sell", "type": "limit", "limit_price": "9999", "time_in_force": "gtc",
        ])
        let restingID = try #require(resting["id"]?.string)
        let all = try await sim.request("DELETE", "/v2/positions")
        #expect(all.status == 207, "\(all.text)")
        let entries = try #require(try JSONAny.parse(all.body).array)
        #expect(entries.compactMap { $0["symbol"]?.string } == ["AAPL", "MSFT", "NVDA"], "\(all.text)")
        for entry in entries { #expect(Self.keys(entry) == ["body", "status", "symbol"], "\(entry)") }
        let bySymbol = Dictionary(uniqueKeysWithValues: entries.map { ($0["symbol"]?.string ?? "", $0) })
        #expect(bySymbol["AAPL"]?["status"]?.number == 200 && bySymbol["AAPL"]?["body"]?["side"]?.string == "sell")
        #expect(bySymbol["AAPL"]?["body"]?["qty"]?.string == "3")
        #expect(bySymbol["NVDA"]?["status"]?.number == 200 && bySymbol["NVDA"]?["body"]?["side"]?.string == "buy")
        #expect(bySymbol["NVDA"]?["body"]?["qty"]?.string == "3")
        let msft = bySymbol["MSFT"]
        #expect(msft?["status"]?.number == 403 && msft?["body"]?["code"]?.number == 40310000, "\(String(describing: msft))")
        #expect(msft?["body"]?["available"]?.string == "0" && msft?["body"]?["held_for_orders"]?.string == "4")
        for symbol in ["AAPL", "NVDA"] { _ = try await Self.final(sim, bySymbol[symbol]?["body"]?["id"]?.string) }

        // With cancel_orders the resting sell is canceled first, and MSFT closes.
        let second = try await sim.request("DELETE", "/v2/positions?cancel_orders=true")
        let secondEntries = try #require(try JSONAny.parse(second.body).array)
        #expect(second.status == 207 && secondEntries.compactMap { $0["symbol"]?.string } == ["MSFT"], "\(second.text)")
        #expect(secondEntries.first?["status"]?.number == 200 && secondEntries.first?["body"]?["qty"]?.string == "4")
        #expect(try await Self.final(sim, restingID)["status"]?.string == "canceled")
        _ = try await Self.final(sim, secondEntries.first?["body"]?["id"]?.string)
        let (_, positions) = try await Self.json(sim, "GET", "/v2/positions")
        #expect(positions.array?.isEmpty == true, "\(positions)")
        let empty = try await sim.request("DELETE", "/v2/positions")
        #expect(empty.status == 207 && empty.text == "[]")
    }

    // MARK: - Fractional and notional

    @Test func fractionalAndNotionalMarketDayOrdersOfFractionableAssets() async throws {
        let sim = try await SimulatorProcess(Self.session)
        let (_, before) = try await Self.json(sim, "GET", "/v2/account")
        let cash = try #require(Self.decimal(before["cash"]))

        let (status, sent) = try await Self.order(sim, [
            "symbol": "AAPL", "notional": "500", "side": "buy", "type": "market", "time_in_force": "day",
        ])
        #expect(status == 200 && sent["notional"]?.string == "500" && sent["qty"]?.isNull == true, "\(sent)")
        let notional = try await Self.final(sim, sent["id"]?.string)
        #expect(notional["status"]?.string == "filled", "\(notional)")
        let price = try #require(Self.decimal(notional["filled_avg_price"]))
        let shares = try #require(Self.decimal(notional["filled_qty"]))
        // The shares $500 buys, down to nine decimals: never more than $500.
        #expect(shares * price <= 500 && 500 - shares * price < price * Decimal(string: "0.000000001")!, "\(shares) at \(price)")
        #expect(shares != Money.rounded(shares, scale: 0), "a fraction of a share")

        let (_, fraction) = try await Self.order(sim, Self.market("MSFT", "1.25", "buy"))
        let fractionFilled = try await Self.final(sim, fraction["id"]?.string)
        #expect(fractionFilled["filled_qty"]?.string == "1.25" && fraction["qty"]?.string == "1.25", "\(fractionFilled)")
        let msftPrice = try #require(Self.decimal(fractionFilled["filled_avg_price"]))
        #expect(try await Self.positionQty(sim, "AAPL") == shares)
        #expect(try await Self.positionQty(sim, "MSFT") == Decimal(string: "1.25"))
        let (_, after) = try await Self.json(sim, "GET", "/v2/account")
        #expect(Self.decimal(after["cash"]) == cash - shares * price - Decimal(string: "1.25")! * msftPrice, "exact cash")

        // Selling part of a fractional position, then the rest by closing it.
        let (_, sell) = try await Self.order(sim, Self.market("MSFT", "0.5", "sell"))
        #expect(try await Self.final(sim, sell["id"]?.string)["status"]?.string == "filled")
        #expect(try await Self.positionQty(sim, "MSFT") == Decimal(string: "0.75"))
        let (_, close) = try await Self.json(sim, "DELETE", "/v2/positions/MSFT")
        #expect(close["qty"]?.string == "0.75", "\(close)")
        _ = try await Self.final(sim, close["id"]?.string)
        #expect(try await Self.positionQty(sim, "MSFT") == nil)

        // Whole shares stay whole: "2", not "2.0".
        let (_, whole) = try await Self.order(sim, Self.market("SPY", "2", "buy"))
        #expect(whole["qty"]?.string == "2" && whole["notional"]?.isNull == true, "\(whole)")
        #expect(try await Self.final(sim, whole["id"]?.string)["filled_qty"]?.string == "2")

        let refusals: [([String: Any], Int, String)] = [
            (Self.market("AEHR", "1.5", "buy"), 422, "not fractionable"),
            (["symbol": "AEHR", "notional": "50", "side": "buy", "type": "market", "time_in_force": "day"], 422, "not fractionable"),
            (["symbol": "AAPL", "qty": "1.5", "side": "buy", "type": "limit", "limit_price": "100", "time_in_force": "day"], 422,
             "market orders"),
            (["symbol": "AAPL", "qty": "1.5", "side": "buy", "type": "market", "time_in_force": "gtc"], 422, "time_in_force day"),
            (["symbol": "AAPL", "notional": "0.5", "side": "buy", "type": "market", "time_in_force": "day"], 422, "at least 1"),
            (["symbol": "AAPL", "notional": "10.001", "side": "buy", "type": "market", "time_in_force": "day"], 422, "cents"),
            (Self.market("AAPL", "0.0000000001", "buy"), 422, "9 decimal places"),
            // A fractional order never sells short, even from a margin account.
            (Self.market("NVDA", "0.5", "sell"), 403, "insufficient qty available"),
            (["symbol": "AAPL", "notional": "1000000", "side": "buy", "type": "market", "time_in_force": "day"], 403,
             "insufficient buying power"),
        ]
        for (body, status, message) in refusals {
            let (got, answer) = try await Self.order(sim, body)
            #expect(got == status && answer["message"]?.string?.contains(message) == true, "\(body) → \(got) \(answer)")
        }
        let (_, asset) = try await Self.json(sim, "GET", "/v2/assets/AEHR")
        #expect(asset["fractionable"]?.bool == false)
        let (_, apple) = try await Self.json(sim, "GET", "/v2/assets/AAPL")
        #expect(apple["fractionable"]?.bool == true)
    }

    // MARK: - Bars of every timeframe

    struct Bar: Equatable {
        let t: String
        let o, h, l, c: Double
        let v: Double

        init?(_ value: JSONAny) {
            guard let t = value["t"]?.string, let o = value["o"]?.number, let h = value["h"]?.number, let l = value["l"]?.number,
                  let c = value["c"]?.number, let v = value["v"]?.number else { return nil }
            (self.t, self.o, self.h, self.l, self.c, self.v) = (t, o, h, l, c, v)
        }

        init(t: String, of bars: [Bar]) {
            self.t = t
            o = bars.first!.o
            c = bars.last!.c
            h = bars.map(\.h).max()!
            l = bars.map(\.l).min()!
            v = bars.map(\.v).reduce(0, +)
        }
    }

    static func bars(_ sim: SimulatorProcess, _ query: String) async throws -> [Bar] {
        var result: [Bar] = [], token: String?
        repeat {
            let path = "/v2/stocks/AAPL/bars?\(query)" + (token.map { "&page_token=\($0)" } ?? "")
            let (status, page) = try await json(sim, "GET", path)
            try #require(status == 200, "\(path): \(page)")
            result += (page["bars"]?.array ?? []).compactMap(Bar.init)
            token = page["next_page_token"]?.string
        } while token != nil
        return result
    }

    /// Groups minute bars by `key` (the bucket's start) in order.
    static func group(_ minutes: [Bar], _ key: (Timestamp) -> Timestamp) -> [Bar] {
        var groups: [(Timestamp, [Bar])] = []
        for bar in minutes {
            let start = key(Timestamp(String(bar.t.prefix(19)) + "Z")!)
            if groups.last?.0 == start { groups[groups.count - 1].1.append(bar) } else { groups.append((start, [bar])) }
        }
        return groups.map { Bar(t: $0.0.text, of: $0.1) }
    }

    @Test func everyTimeframeIsTheMinuteBarsAggregated() async throws {
        let sim = try await SimulatorProcess(Self.session)
        let range = "start=2024-06-03T13:30:00Z&end=2024-06-04T14:59:00Z"
        let minutes = try await Self.bars(sim, "timeframe=1Min&\(range)&limit=10000")
        #expect(minutes.count > 390, "two sessions' minutes: \(minutes.count)")
        // Buckets from New York midnight: in June that is 04:00 UTC, so 5, 15, 30 minutes and 1 hour are on the clock.
        for (timeframe, seconds) in [("5Min", 300), ("15Min", 900), ("30Min", 1800), ("1Hour", 3600), ("7Min", 420), ("2Hour", 7200)] {
            let expected = Self.group(minutes) { t in
                let midnight = Timestamp(secondsSinceEpoch: (t.secondsSinceEpoch - 4 * 3600) / 86_400 * 86_400 + 4 * 3600)
                return midnight.adding(seconds: (t.secondsSinceEpoch - midnight.secondsSinceEpoch) / Int64(seconds) * Int64(seconds))
            }.filter { $0.t >= "2024-06-03T13:30:00Z" } // bars start at or after `start` (13:00's hour bar is before it)
            // Small pages, so the page tokens are exercised too.
            let served = try await Self.bars(sim, "timeframe=\(timeframe)&\(range)&limit=7")
            #expect(served == expected, "\(timeframe): \(served.count) bars served, \(expected.count) expected")
        }
        // Descending and the multi-symbol endpoint agree.
        let (_, multi) = try await Self.json(sim, "GET", "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=15Min&\(range)&limit=10000&sort=desc")
        let descending = (multi["bars"]?["AAPL"]?.array ?? []).compactMap(Bar.init)
        #expect(descending == (try await Self.bars(sim, "timeframe=15Min&\(range)&limit=10000")).reversed())
        #expect((multi["bars"]?["MSFT"]?.array?.count ?? 0) > 20)

        // A week is the daily bars from Monday to Friday, stamped at its first session.
        let days = try await Self.bars(sim, "timeframe=1Day&start=2024-05-06&end=2024-06-04")
        let weeks = try await Self.bars(sim, "timeframe=1Week&start=2024-05-06&end=2024-06-04")
        let expectedWeeks = Self.group(days) { t in
            let date = CivilDate(daysSinceEpoch: Int(t.secondsSinceEpoch / 86_400))
            let monday = date.adding(days: -((date.daysSinceEpoch + 3) % 7))
            return days.lazy.map { Timestamp(String($0.t.prefix(19)) + "Z")! }
                .first { CivilDate(daysSinceEpoch: Int($0.secondsSinceEpoch / 86_400)) >= monday }!
        }
        #expect(weeks == expectedWeeks && weeks.count == 5, "\(weeks.map(\.t))")
        #expect(weeks.map { $0.t } == ["2024-05-06T04:00:00Z", "2024-05-13T04:00:00Z", "2024-05-20T04:00:00Z",
                                       "2024-05-28T04:00:00Z", "2024-06-03T04:00:00Z"], "Memorial Day: the week starts on Tuesday")
        let months = try await Self.bars(sim, "timeframe=1Month&start=2024-05-01&end=2024-06-04")
        #expect(months.count == 2 && months.first?.t == "2024-05-01T04:00:00Z", "\(months.map(\.t))")

        for timeframe in ["60Min", "24Hour", "2Day", "2Week", "5Month", "0Min", "Min", "1Year", "100Min"] {
            let (status, answer) = try await Self.json(sim, "GET", "/v2/stocks/AAPL/bars?timeframe=\(timeframe)")
            #expect(status == 422 && answer["code"]?.number == 42210000, "\(timeframe) → \(status) \(answer)")
        }
    }

    // MARK: - Latest trade, latest quote, snapshot

    @Test func latestTradeQuoteAndSnapshotAreMadeFromTheBars() async throws {
        let sim = try await SimulatorProcess(Self.session)
        let (_, latest) = try await Self.json(sim, "GET", "/v2/stocks/bars/latest?symbols=AAPL,SPY")
        let bar = try #require(latest["bars"]?["AAPL"].flatMap(Bar.init))
        let minute = try #require(Timestamp(String(bar.t.prefix(19)) + "Z"))

        let (_, trades) = try await Self.json(sim, "GET", "/v2/stocks/trades/latest?symbols=AAPL,SPY,NOSUCH")
        #expect(Self.keys(trades["trades"]) == ["AAPL", "SPY"], "\(trades)")
        let (_, single) = try await Self.json(sim, "GET", "/v2/stocks/AAPL/trades/latest")
        #expect(single["symbol"]?.string == "AAPL" && single["trade"] == trades["trades"]?["AAPL"])
        let trade = try #require(single["trade"])
        #expect(Self.keys(trade) == ["c", "i", "p", "s", "t", "x", "z"], "\(trade)")
        #expect(trade["p"]?.number == bar.c && (trade["s"]?.number ?? 0) >= 1 && trade["z"]?.string == "C")
        let traded = try #require(trade["t"]?.string.flatMap { RFC3339.parse($0) })
        #expect(Timestamp(traded).minuteStart == minute, "the trade is in the latest bar's minute")
        #expect(trades["trades"]?["SPY"]?["z"]?.string == "B", "SPY is listed on Arca: tape B")

        let (_, quotes) = try await Self.json(sim, "GET", "/v2/stocks/quotes/latest?symbols=AAPL")
        let (_, quoteAnswer) = try await Self.json(sim, "GET", "/v2/stocks/AAPL/quotes/latest")
        let quote = try #require(quoteAnswer["quote"])
        #expect(quotes["quotes"]?["AAPL"] == quote && quoteAnswer["symbol"]?.string == "AAPL")
        #expect(Self.keys(quote) == ["ap", "as", "ax", "bp", "bs", "bx", "c", "t", "z"], "\(quote)")
        let bid = try #require(quote["bp"]?.number), ask = try #require(quote["ap"]?.number)
        #expect(bid < bar.c && bar.c < ask && abs(ask - bid - 0.02) < 1e-9, "a cent each side of \(bar.c): \(quote)")

        let (_, snapshots) = try await Self.json(sim, "GET", "/v2/stocks/snapshots?symbols=AAPL,NOSUCH")
        #expect(Self.keys(snapshots) == ["AAPL"], "\(snapshots)")
        let (_, snapshot) = try await Self.json(sim, "GET", "/v2/stocks/AAPL/snapshot")
        #expect(snapshot["symbol"]?.string == "AAPL")
        #expect(Self.keys(snapshot) == ["dailyBar", "latestQuote", "latestTrade", "minuteBar", "prevDailyBar", "symbol"])
        #expect(snapshot["minuteBar"].flatMap(Bar.init) == bar)
        #expect(snapshot["latestTrade"] == trade && snapshot["latestQuote"] == quote)
        let days = try await Self.bars(sim, "timeframe=1Day&start=2024-05-28&end=2024-06-04T23:59:00Z")
        #expect(snapshot["dailyBar"].flatMap(Bar.init) == days.last, "today's (partial) daily bar")
        #expect(snapshot["prevDailyBar"].flatMap(Bar.init) == days.dropLast().last, "yesterday's")
        #expect(snapshots["AAPL"]?["dailyBar"] == snapshot["dailyBar"])
        #expect(try await sim.request("GET", "/v2/stocks/NOSUCH/trades/latest").status == 404)
        #expect(try await sim.request("GET", "/v2/stocks/trades/latest").status == 400)
    }

    // MARK: - Asset filters

    @Test func assetsFilterByExchangeAndClass() async throws {
        let sim = try await SimulatorProcess(Self.session)
        let (_, all) = try await Self.json(sim, "GET", "/v2/assets")
        let everything = try #require(all.array)
        let (_, arca) = try await Self.json(sim, "GET", "/v2/assets?exchange=ARCA")
        let arcaSymbols = Set((arca.array ?? []).compactMap { $0["symbol"]?.string })
        #expect(arcaSymbols.contains("SPY") && !arcaSymbols.contains("AAPL"))
        #expect(arcaSymbols == Set(everything.filter { $0["exchange"]?.string == "ARCA" }.compactMap { $0["symbol"]?.string }))
        let (_, nasdaqActive) = try await Self.json(sim, "GET", "/v2/assets?exchange=NASDAQ&status=active&asset_class=us_equity")
        let nasdaq = try #require(nasdaqActive.array)
        #expect(!nasdaq.isEmpty && nasdaq.allSatisfy { $0["exchange"]?.string == "NASDAQ" && $0["status"]?.string == "active" })
        let (_, equities) = try await Self.json(sim, "GET", "/v2/assets?asset_class=us_equity")
        #expect(equities.array?.count == everything.count)
        for query in ["asset_class=crypto", "asset_class=us_option", "exchange=OTC"] {
            let (status, none) = try await Self.json(sim, "GET", "/v2/assets?\(query)")
            #expect(status == 200 && none.array?.isEmpty == true, "\(query): \(none)")
        }
    }
}
