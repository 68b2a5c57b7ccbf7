import Foundation
import Testing
@testable import AutoTraderCore

/// The simulator's limit orders and times in force, checked against its own bars: a limit buy never pays
/// more than its limit and a limit sell never gets less; a marketable limit fills at the next open; a
/// resting one fills at its limit on the first bar that trades through it; IOC gets one bar; GTC outlives
/// the session; what Alpaca refuses is refused with Alpaca's codes.
@Suite struct SimulatorLimitOrderTests {
    /// 20 simulated minutes before the close of Tuesday 2024-06-04, at 60×: a session's end in 20 s.
    static let nearClose = ["--start", "2024-06-04T19:40:00Z", "--speed", "60", "--seed", "11"]

    struct Bar {
        let t: Timestamp
        let o, h, l: Decimal
    }

    static func money(_ value: JSONAny?) -> Decimal? {
        if let text = value?.string { return Decimal(string: text) }
        return value?.number.map { Decimal(string: String(format: "%.4f", $0))! }
    }

    static func lastClose(_ sim: SimulatorProcess, _ symbol: String) async throws -> Decimal {
        let reply = try await sim.request("GET", "/v2/stocks/bars/latest?symbols=\(symbol)")
        let bar = try JSONAny.parse(reply.body)["bars"]?[symbol]
        return try #require(money(bar?["c"]), "\(reply.text)")
    }

    /// The regular minute bars of `symbol` from `from` to 20:00 (the close), oldest first.
    static func bars(_ sim: SimulatorProcess, _ symbol: String, from: Timestamp) async throws -> [Bar] {
        let reply = try await sim.request(
            "GET", "/v2/stocks/bars?symbols=\(symbol)&timeframe=1Min&start=\(from.text)&end=2024-06-04T19:59:00Z&limit=1000")
        let list = try JSONAny.parse(reply.body)["bars"]?[symbol]?.array ?? []
        return list.compactMap { bar in
            guard let t = bar["t"]?.string.flatMap({ Timestamp(String($0.prefix(19)) + "Z") }),
                  let o = money(bar["o"]), let h = money(bar["h"]), let l = money(bar["l"]) else { return nil }
            return Bar(t: t, o: o, h: h, l: l)
        }
    }

    /// What the rule says should happen to a limit order submitted at `submitted`: (price, minute) or nil (no fill by the close).
    static func expectedFill(side: String, limit: Decimal, submitted: Date, bars: [Bar]) -> (Decimal, Timestamp)? {
        for bar in bars where Double(bar.t.secondsSinceEpoch) >= submitted.timeIntervalSince1970.rounded(.up) {
            if side == "buy" ? bar.o <= limit : bar.o >= limit { return (bar.o, bar.t) }
            if side == "buy" ? bar.l <= limit : bar.h >= limit { return (limit, bar.t) }
        }
        return nil
    }

    static func submit(_ sim: SimulatorProcess, _ body: [String: Any]) async throws -> (Int, JSONAny) {
        let reply = try await sim.request("POST", "/v2/orders", json: body)
        return (reply.status, try JSONAny.parse(reply.body))
    }

    static func waitForEnd(_ sim: SimulatorProcess, _ id: String) async throws -> JSONAny {
        try await sim.waitFor(timeout: 120) { () -> JSONAny? in
            let order = try JSONAny.parse(try await sim.request("GET", "/v2/orders/\(id)").body)
            let status = order["status"]?.string ?? ""
            return ["filled", "canceled", "expired", "rejected"].contains(status) ? order : nil
        }
    }

    static func submittedAt(_ order: JSONAny) throws -> Date {
        try #require(order["submitted_at"]?.string.flatMap { RFC3339.parse($0) })
    }

    @Test func restingLimitsFillAtTheirLimitOnTheFirstBarThatReachesItAndNeverBeyond() async throws {
        let sim = try await SimulatorProcess(Self.nearClose)
        // A buy 0.2 % under the market and, once shares are held, a sell 0.2 % over it.
        let close = try await Self.lastClose(sim, "AAPL")
        let buyLimit = Money.rounded(close * Decimal(string: "0.998")!, scale: 2)
        let (status, buy) = try await Self.submit(sim, [
            "symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit", "limit_price": buyLimit.plainString,
            "time_in_force": "day",
        ])
        #expect(status == 200 && buy["type"]?.string == "limit" && buy["order_type"]?.string == "limit", "\(buy)")
        #expect(Self.money(buy["limit_price"]) == buyLimit && buy["time_in_force"]?.string == "day")
        let (_, market) = try await Self.submit(sim, ["symbol": "MSFT", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"])
        let boughtMarket = try await Self.waitForEnd(sim, try #require(market["id"]?.string))
        #expect(boughtMarket["status"]?.string == "filled")
        let msftClose = try await Self.lastClose(sim, "MSFT")
        let sellLimit = Money.rounded(msftClose * Decimal(string: "1.002")!, scale: 2)
        let (sellStatus, sell) = try await Self.submit(sim, [
            "symbol": "MSFT", "qty": 3, "side": "sell", "type": "limit", "limit_price": NSDecimalNumber(decimal: sellLimit),
            "time_in_force": "day",
        ])
        #expect(sellStatus == 200, "\(sell)")

        for (order, side, limit, symbol) in [(buy, "buy", buyLimit, "AAPL"), (sell, "sell", sellLimit, "MSFT")] {
            let ended = try await Self.waitForEnd(sim, try #require(order["id"]?.string))
            let submitted = try Self.submittedAt(ended)
            // The bars that have ended by now: through the fill (if it filled), through the close (if it expired).
            let bars = try await Self.bars(sim, symbol, from: Timestamp(submitted).adding(seconds: -60))
            #expect(!bars.isEmpty, "\(symbol): no bars since the order")
            let expected = Self.expectedFill(side: side, limit: limit, submitted: submitted, bars: bars)
            if let (price, minute) = expected {
                #expect(ended["status"]?.string == "filled", "\(side) \(ended)")
                let paid = try #require(Self.money(ended["filled_avg_price"]))
                #expect(paid == price, "\(side) at \(minute.text)")
                #expect(side == "buy" ? paid <= limit : paid >= limit)
                let filledAt = try #require(ended["filled_at"]?.string.flatMap { RFC3339.parse($0) })
                #expect(Timestamp(filledAt).secondsSinceEpoch / 60 == minute.secondsSinceEpoch / 60, "\(side) filled in its bar's minute")
            } else {
                // No bar reached the limit before the close: a day order expires with nothing filled.
                #expect(ended["status"]?.string == "expired" && ended["filled_qty"]?.string == "0", "\(side) \(ended)")
                #expect(bars.last?.t == Timestamp.at("2024-06-04T19:59:00Z"), "every bar to the close was looked at")
            }
        }
    }

    @Test func iocGetsOneBarGTCOutlivesTheSessionAndDayOrdersExpire() async throws {
        let sim = try await SimulatorProcess(Self.nearClose)
        let close = try await Self.lastClose(sim, "NVDA")
        let far = Money.rounded(close / 2, scale: 2) // half the price: no bar of the day reaches it
        let (_, ioc) = try await Self.submit(sim, [
            "symbol": "NVDA", "qty": "1", "side": "buy", "type": "limit", "limit_price": far.plainString, "time_in_force": "ioc",
        ])
        let (_, gtc) = try await Self.submit(sim, [
            "symbol": "NVDA", "qty": "1", "side": "buy", "type": "limit", "limit_price": far.plainString, "time_in_force": "gtc",
        ])
        let (_, day) = try await Self.submit(sim, [
            "symbol": "NVDA", "qty": "1", "side": "buy", "type": "limit", "limit_price": far.plainString, "time_in_force": "day",
        ])
        // IOC: canceled once its first bar has opened above the limit, long before the close.
        let iocEnded = try await Self.waitForEnd(sim, try #require(ioc["id"]?.string))
        #expect(iocEnded["status"]?.string == "canceled" && iocEnded["filled_qty"]?.string == "0", "\(iocEnded)")
        // Day: expired at the close; GTC: still working after it.
        let dayEnded = try await Self.waitForEnd(sim, try #require(day["id"]?.string))
        #expect(dayEnded["status"]?.string == "expired", "\(dayEnded)")
        #expect(dayEnded["expired_at"]?.string.flatMap { RFC3339.parse($0) } == Timestamp.at("2024-06-04T20:00:00Z").date)
        let gtcNow = try JSONAny.parse(try await sim.request("GET", "/v2/orders/\(try #require(gtc["id"]?.string))").body)
        #expect(gtcNow["status"]?.string == "new" && gtcNow["time_in_force"]?.string == "gtc", "\(gtcNow)")
        // The GTC buy still holds buying power at its limit: 4 × $100,000 (nothing held) less its price.
        let account = try JSONAny.parse(try await sim.request("GET", "/v2/account").body)
        #expect(Self.money(account["buying_power"]) == 400_000 - far, "\(account)")
    }

    @Test func whatAlpacaRefusesIsRefusedWithItsCodes() async throws {
        let sim = try await SimulatorProcess(Self.nearClose)
        let base: [String: Any] = ["symbol": "AAPL", "qty": "1", "side": "buy", "time_in_force": "day"]
        func with(_ extra: [String: Any]) -> [String: Any] { base.merging(extra) { $1 } }
        let cases: [([String: Any], Int, Int, String)] = [
            (with(["type": "limit", "limit_price": "190.123"]), 422, 42210000, "sub-penny increment"),
            (with(["type": "limit"]), 422, 40010001, "limit_price is required"),
            (with(["type": "limit", "limit_price": "-1"]), 422, 40010001, "limit_price"),
            (with(["type": "stop", "stop_price": "180"]), 422, 40010001, "not supported by this simulator"),
            (with(["type": "limit", "limit_price": "190", "time_in_force": "fok"]), 422, 40010001, "not supported by this simulator"),
            (with(["type": "limit", "limit_price": "190", "time_in_force": "forever"]), 422, 40010001, "invalid time_in_force"),
            (with(["type": "pegged"]), 422, 40010001, "invalid order type"),
            // Buying power is held at the limit: 50 × $10,000 is more than the 4 × $100,000 the account may buy.
            (with(["type": "limit", "limit_price": "10000", "qty": "50"]), 403, 40310000, "insufficient buying power"),
        ]
        for (body, status, code, message) in cases {
            let (got, answer) = try await Self.submit(sim, body)
            #expect(got == status, "\(body) → \(got) \(answer)")
            #expect(answer["code"]?.number == Double(code), "\(body) → \(answer)")
            #expect(answer["message"]?.string?.contains(message) == true, "\(body) → \(answer)")
        }
        let orders = try JSONAny.parse(try await sim.request("GET", "/v2/orders?status=all").body)
        #expect(orders.array?.isEmpty == true, "nothing refused was booked: \(orders)")
    }

    /// A margin account (the default, like a new paper account) opens a short from a flat position, never
    /// turns a long into a short with one order, covers with a buy, and counts day trades.
    @Test func aMarginAccountShortsFromFlatNeverFlipsALongAndCountsDayTrades() async throws {
        let sim = try await SimulatorProcess(["--start", "2024-06-04T14:00:00Z", "--speed", "1", "--seed", "7", "--fill-price", "last-close"])
        func order(_ symbol: String, _ qty: Int, _ side: String) async throws -> (Int, JSONAny) {
            try await Self.submit(sim, ["symbol": symbol, "qty": String(qty), "side": side, "type": "market", "time_in_force": "day"])
        }
        let before = try JSONAny.parse(try await sim.request("GET", "/v2/account").body)
        let (shortStatus, sent) = try await order("NVDA", 3, "sell")
        #expect(shortStatus == 200, "\(sent)")
        let short = try await Self.waitForEnd(sim, try #require(sent["id"]?.string))
        #expect(short["status"]?.string == "filled", "\(short)")
        let position = try JSONAny.parse(try await sim.request("GET", "/v2/positions/NVDA").body)
        #expect(position["qty"]?.string == "-3" && position["side"]?.string == "short", "\(position)")
        #expect(Self.money(position["market_value"]).map { $0 < 0 } == true)
        let shorted = try JSONAny.parse(try await sim.request("GET", "/v2/account").body)
        let proceeds = 3 * (try #require(Self.money(short["filled_avg_price"])))
        #expect(Self.money(shorted["cash"]) == Self.money(before["cash"]).map { $0 + proceeds }, "a short sale's proceeds are cash")
        #expect(Self.money(shorted["short_market_value"]).map { $0 < 0 } == true, "\(shorted)")

        _ = try await order("AAPL", 5, "buy")
        let (flipStatus, flip) = try await order("AAPL", 8, "sell")
        #expect(flipStatus == 403 && flip["message"]?.string?.contains("insufficient qty available") == true, "\(flip)")
        #expect(flip["available"]?.string == "5" && flip["existing_qty"]?.string == "5")

        // Covering the short and selling the long, both opened today: two day trades.
        #expect(try await order("NVDA", 3, "buy").0 == 200)
        #expect(try await sim.request("GET", "/v2/positions/NVDA").status == 404, "covered: no position left")
        #expect(try await order("AAPL", 5, "sell").0 == 200)
        let after = try JSONAny.parse(try await sim.request("GET", "/v2/account").body)
        #expect(after["daytrade_count"]?.number == 2, "\(after)")
        #expect(after["multiplier"]?.string == "4" && after["pattern_day_trader"]?.bool == false)
    }
}
