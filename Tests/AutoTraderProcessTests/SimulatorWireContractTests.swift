import Foundation
import Logging
import Testing
import WSClient
@testable import AutoTraderCore

/// The simulator's own wire contract: every kind of answer `autotrader-sim` gives (account, clock, calendar,
/// assets, orders, the 207 of cancel-all, positions, bars pages, latest bars, errors, stream frames) has the key
/// set and the JSON types of Alpaca's real payloads in `../shared/alpaca-fixtures`, recursively.
///
/// The client's models decode and the simulator encodes with its own `SimWire` types, so a key misspelt on
/// either side shows up here (a loopback test can't see a mistake both sides share). What is compared:
/// - keys: every key the fixtures of a kind all have must be there, and no key may appear that none of them
///   has — except the few in the kind's allow-list below, each with its reason;
/// - JSON types (string/number/bool/null/object/array) of every value, against the types the fixtures show
///   for that key (e.g. `filled_at` is null in one fixture and a string in another: both are fine);
/// - the form of strings the fixtures write in a recognisable form: RFC 3339 times (`Z` or an offset, with
///   or without a fraction), dates, `HH:MM`, and decimals written as strings (money, quantities);
/// - objects keyed by symbol (`bars`) by their values, arrays by their elements, stream messages by `T`.
@Suite struct SimulatorWireContractTests {
    static let fixtures = Repository.root.deletingLastPathComponent().appendingPathComponent("shared/alpaca-fixtures")
    static let present = FileManager.default.fileExists(atPath: fixtures.path)
    static let absent = "../shared/alpaca-fixtures is absent: the simulator's answers cannot be compared with Alpaca's real payloads"

    // MARK: - Allow-lists: where the simulator and the fixtures legitimately differ. Keep them small.

    /// GET /v2/account.
    static let accountRules = WireRules(
        // Documented account fields (ALPACA_PROTOCOL.md §4, and present in live paper answers) that alpaca-py's
        // mock in account.json leaves out.
        mayAdd: ["": ["crypto_status", "effective_buying_power", "bod_dtbp", "position_market_value"]],
        // Alpaca's live answers write the options levels as numbers (`"options_approved_level": 3`); alpaca-py's
        // mock writes "1". The client reads neither.
        alsoTypes: ["options_approved_level": [.number], "options_trading_level": [.number]])

    /// GET /v2/assets/{symbol} and the elements of GET /v2/assets.
    static let assetRules = WireRules(
        // A documented asset field (ALPACA_PROTOCOL.md §4: an integer percent) neither fixture carries.
        mayAdd: ["": ["maintenance_margin_requirement"]])

    /// GET /v2/positions elements and GET /v2/positions/{symbol}.
    static let positionRules = WireRules(
        // Documented position fields (ALPACA_PROTOCOL.md §4) that alpaca-py's mock in positions.json leaves out.
        mayAdd: ["": ["qty_available", "asset_marginable"]],
        // `usd` repeats the values in dollars for accounts in another currency (local currency trading);
        // the simulated account is in dollars.
        mayOmit: ["": ["usd"]])

    /// The stream's `subscription` frame.
    static let streamRules = WireRules(
        // The simulator confirms the full set of every channel, as the SDKs parse and the JS SDK's mock server
        // sends it (ALPACA_PROTOCOL.md §7.5); the documented examples only list trades, quotes and bars.
        mayAdd: ["[T=subscription]": ["updatedBars", "dailyBars", "statuses", "lulds", "corrections", "cancelErrors", "imbalances"]])

    // MARK: - The REST answers

    /// No fixture is of a replaced order: ALPACA_PROTOCOL.md §5 has `replaced_at` a nullable timestamp and
    /// `replaced_by` / `replaces` nullable UUIDs, strings once set.
    static let replaceRules = WireRules(alsoTypes: ["replaced_at": [.string], "replaced_by": [.string], "replaces": [.string]])

    @Test(.enabled(if: present, Comment(rawValue: absent)))
    func everyRestAnswerHasAlpacasKeysAndTypes() async throws {
        var contract = WireContract(directory: Self.fixtures)
        let open = try await SimulatorProcess(["--start", "2024-06-04T13:30:00Z", "--speed", "60", "--seed", "7"])
        // A Saturday: orders stay open, so cancel-all has something to cancel.
        let closed = try await SimulatorProcess(["--start", "2024-06-08T15:00:00Z", "--speed", "1", "--seed", "7"])

        func answer(_ sim: SimulatorProcess, _ method: String, _ path: String, json: Any? = nil, authorized: Bool = true,
                    status expected: Int = 200) async throws -> WireJSON {
            let reply = try await sim.request(method, path, json: json, authorized: authorized)
            #expect(reply.status == expected, "\(method) \(path): \(reply.status) \(reply.text)")
            return try WireJSON.parse(reply.body)
        }
        let orderFixtures = ["order_accepted_limit.json", "order_accepted_market_notional.json", "order_filled.json",
                             "order_pending_new_crypto.json"]
        let errorFixtures = ["error_401_request_not_authorized.json", "error_403_insufficient_qty.json",
                             "error_403_not_allowed_to_short.json", "error_404_order_not_found.json",
                             "error_422_only_one_of_qty_or_notional.json", "error_422_qty_must_be_integer.json",
                             "error_422_qty_or_notional_required.json", "error_422_subpenny_limit_price.json"]

        // Account, clock (open and closed), calendar.
        try contract.check("account", "GET /v2/account", await answer(open, "GET", "/v2/account"),
                           against: ["account.json"], rules: Self.accountRules)
        try contract.check("clock (open)", "GET /v2/clock", await answer(open, "GET", "/v2/clock"), against: ["clock.json"])
        try contract.check("clock (closed)", "GET /v2/clock", await answer(closed, "GET", "/v2/clock"), against: ["clock.json"])
        let calendar = try await answer(open, "GET", "/v2/calendar?start=2024-06-03&end=2024-07-05")
        try contract.checkEach("calendar day", "GET /v2/calendar", calendar,
                               against: ["calendar_day.json", "calendar_day_with_session.json"])

        // Assets: one, the list.
        try contract.check("asset", "GET /v2/assets/AAPL", await answer(open, "GET", "/v2/assets/AAPL"),
                           against: ["asset.json", "asset_aapl_with_attributes.json"], rules: Self.assetRules)
        try contract.checkEach("asset (list element)", "GET /v2/assets", await answer(open, "GET", "/v2/assets"),
                               against: ["asset.json", "asset_aapl_with_attributes.json"], rules: Self.assetRules)

        // Orders: submitted (accepted), read back filled, by client order id, listed; the 207 of cancel-all.
        let submitted = try await answer(open, "POST", "/v2/orders", json: [
            "symbol": "AAPL", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "contract-1",
        ])
        try contract.check("order (accepted)", "POST /v2/orders", submitted, against: orderFixtures)
        let id = try #require(submitted["id"]?.string)
        let filled = try await open.waitFor {
            let order = try WireJSON.parse(try await open.request("GET", "/v2/orders/\(id)").body)
            return order["status"]?.string == "filled" ? order : nil
        }
        try contract.check("order (filled)", "GET /v2/orders/{id}", filled, against: orderFixtures)
        try contract.check("order (by client order id)", "GET /v2/orders:by_client_order_id",
                           await answer(open, "GET", "/v2/orders:by_client_order_id?client_order_id=contract-1"),
                           against: orderFixtures)
        let listed = try await answer(open, "GET", "/v2/orders?status=all")
        try contract.checkEach("order (list element)", "GET /v2/orders?status=all", listed, against: orderFixtures)
        _ = try await answer(closed, "POST", "/v2/orders", json: [
            "symbol": "MSFT", "qty": 1, "side": "buy", "type": "market", "time_in_force": "day",
        ])
        let canceled = try await answer(closed, "DELETE", "/v2/orders", status: 207)
        try contract.checkEach("cancel-all entry", "DELETE /v2/orders (207)", canceled,
                               against: ["cancel_all_orders_207.json"], elementsOfFixtures: true)

        // Positions (after the fill).
        try contract.checkEach("position (list element)", "GET /v2/positions", await answer(open, "GET", "/v2/positions"),
                               against: ["positions.json"], elementsOfFixtures: true, rules: Self.positionRules)
        try contract.check("position", "GET /v2/positions/AAPL", await answer(open, "GET", "/v2/positions/AAPL"),
                           against: ["positions.json"], elementsOfFixtures: true, rules: Self.positionRules)

        // A notional order, a replacement and the order it replaced, a position's closing order, close-all's 207.
        try contract.check("order (notional)", "POST /v2/orders with notional", await answer(closed, "POST", "/v2/orders", json: [
            "symbol": "AAPL", "notional": "500", "side": "buy", "type": "market", "time_in_force": "day",
        ]), against: orderFixtures)
        let resting = try await answer(closed, "POST", "/v2/orders", json: [
            "symbol": "MSFT", "qty": "2", "side": "buy", "type": "limit", "limit_price": "100", "time_in_force": "gtc",
        ])
        let restingID = try #require(resting["id"]?.string)
        try contract.check("order (replacement)", "PATCH /v2/orders/{id}",
                           await answer(closed, "PATCH", "/v2/orders/\(restingID)", json: ["qty": "3", "limit_price": "101"]),
                           against: orderFixtures, rules: Self.replaceRules)
        try contract.check("order (replaced)", "GET /v2/orders/{replaced id}",
                           await answer(closed, "GET", "/v2/orders/\(restingID)"), against: orderFixtures, rules: Self.replaceRules)
        try contract.check("order (closing a position)", "DELETE /v2/positions/AAPL?qty=1",
                           await answer(open, "DELETE", "/v2/positions/AAPL?qty=1"), against: orderFixtures)
        try contract.checkEach("close-all entry", "DELETE /v2/positions (207)", await answer(open, "DELETE", "/v2/positions", status: 207),
                               against: ["close_all_positions_207.json"], elementsOfFixtures: true)

        // Bars: a page with a next_page_token, the last page, an empty answer, daily bars, one symbol's page, latest.
        let range = "start=2024-06-03T13:30:00Z&end=2024-06-03T19:59:00Z"
        let firstPage = try await answer(open, "GET", "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&\(range)&limit=5")
        #expect(firstPage["next_page_token"]?.string != nil, "a 5-bar page of a 780-bar range has a next page")
        let pageFixtures = ["bars_page1.json", "bars_multi_page1_meta_daily.json", "bars_multi_page2_meta_daily.json",
                            "bars_multi_page_docs.json"]
        try contract.check("bars page (more to come)", "GET /v2/stocks/bars", firstPage, against: pageFixtures,
                           rules: WireRules(maps: ["bars"]))
        let token = try #require(firstPage["next_page_token"]?.string)
        let secondPage = try await answer(
            open, "GET", "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&\(range)&limit=5&page_token=\(token)")
        try contract.check("bars page (with page_token)", "GET /v2/stocks/bars", secondPage, against: pageFixtures,
                           rules: WireRules(maps: ["bars"]))
        let lastPage = try await answer(open, "GET", "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&\(range)&limit=10000")
        #expect(lastPage["next_page_token"] == .null)
        try contract.check("bars page (last)", "GET /v2/stocks/bars", lastPage,
                           against: ["bars_multi_last_page.json", "bars_multi_15min_last_page.json"], rules: WireRules(maps: ["bars"]))
        let daily = try await answer(open, "GET", "/v2/stocks/bars?symbols=AAPL,TSLA&timeframe=1Day&start=2024-05-28&end=2024-06-03")
        try contract.check("bars page (daily)", "GET /v2/stocks/bars?timeframe=1Day", daily,
                           against: ["bars_multi_last_page.json", "bars_multi_15min_last_page.json"], rules: WireRules(maps: ["bars"]))
        let empty = try await answer(open, "GET", "/v2/stocks/bars?symbols=TWTR&timeframe=1Min&\(range)")
        try contract.check("bars page (empty)", "GET /v2/stocks/bars", empty, against: ["bars_empty.json"])
        let symbolPage = try await answer(open, "GET", "/v2/stocks/AAPL/bars?timeframe=1Min&\(range)&limit=3")
        try contract.check("one symbol's bars page", "GET /v2/stocks/AAPL/bars", symbolPage,
                           against: ["bars_single_symbol_page_docs.json"])
        try contract.check("latest bars", "GET /v2/stocks/bars/latest",
                           await answer(open, "GET", "/v2/stocks/bars/latest?symbols=AAPL,MSFT"),
                           against: ["bars_latest_multi.json", "bars_latest_multi_docs.json", "bars_latest_multi_spy.json"],
                           rules: WireRules(maps: ["bars"]))
        try contract.check("latest bar", "GET /v2/stocks/AAPL/bars/latest", await answer(open, "GET", "/v2/stocks/AAPL/bars/latest"),
                           against: ["bar_latest_single_docs.json"])

        // Errors: unauthorized, not found, refused orders (with the insufficient-qty extras), bad requests.
        try contract.check("error 401", "GET /v2/account without keys",
                           await answer(open, "GET", "/v2/account", authorized: false, status: 401),
                           against: ["error_401_request_not_authorized.json"])
        try contract.check("error 404 (order)", "GET /v2/orders/{unknown id}",
                           await answer(open, "GET", "/v2/orders/\(UUID().uuidString.lowercased())", status: 404),
                           against: ["error_404_order_not_found.json"])
        // A cash account filling at the last close: 2 MSFT held at once, so selling 5 is short of 3, and
        // selling NVDA (not held) would be a short sale, which a cash account may not make.
        let cashAccount = try await SimulatorProcess([
            "--start", "2024-06-04T14:00:00Z", "--speed", "1", "--seed", "7", "--account", "cash", "--fill-price", "last-close",
        ])
        _ = try await answer(cashAccount, "POST", "/v2/orders", json: [
            "symbol": "MSFT", "qty": "2", "side": "buy", "type": "market", "time_in_force": "day",
        ])
        try contract.check("error 403 (insufficient qty)", "POST /v2/orders selling more than is held",
                           await answer(cashAccount, "POST", "/v2/orders", json: [
                               "symbol": "MSFT", "qty": "5", "side": "sell", "type": "market", "time_in_force": "day",
                           ], status: 403),
                           against: ["error_403_insufficient_qty.json"])
        try contract.check("error 403 (no shorting)", "POST /v2/orders selling what is not held from a cash account",
                           await answer(cashAccount, "POST", "/v2/orders", json: [
                               "symbol": "NVDA", "qty": "1", "side": "sell", "type": "market", "time_in_force": "day",
                           ], status: 403),
                           against: ["error_403_not_allowed_to_short.json"])
        try contract.check("error 403 (buying power)", "POST /v2/orders beyond the buying power",
                           await answer(open, "POST", "/v2/orders", json: [
                               "symbol": "AAPL", "qty": "1000000", "side": "buy", "type": "market", "time_in_force": "day",
                           ], status: 403),
                           against: ["error_403_not_allowed_to_short.json"])
        try contract.check("error 422 (no qty)", "POST /v2/orders without qty",
                           await answer(open, "POST", "/v2/orders", json: [
                               "symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day",
                           ], status: 422),
                           against: ["error_422_qty_or_notional_required.json"])
        try contract.check("error 422 (qty and notional)", "POST /v2/orders with qty and notional",
                           await answer(open, "POST", "/v2/orders", json: [
                               "symbol": "AAPL", "qty": "1", "notional": "100", "side": "buy", "type": "market", "time_in_force": "day",
                           ], status: 422),
                           against: ["error_422_only_one_of_qty_or_notional.json"])
        // AEHR, a thin small cap, is not fractionable.
        try contract.check("error 422 (fractional qty)", "POST /v2/orders with qty 1.5 of an asset that is not fractionable",
                           await answer(open, "POST", "/v2/orders", json: [
                               "symbol": "AEHR", "qty": "1.5", "side": "buy", "type": "market", "time_in_force": "day",
                           ], status: 422),
                           against: ["error_422_qty_must_be_integer.json"])
        try contract.check("error 422 (data: bad timeframe)", "GET /v2/stocks/bars?timeframe=60Min",
                           await answer(open, "GET", "/v2/stocks/bars?symbols=AAPL&timeframe=60Min", status: 422),
                           against: errorFixtures)
        try contract.check("error 400 (data: bad parameter)", "GET /v2/stocks/bars without symbols",
                           await answer(open, "GET", "/v2/stocks/bars?timeframe=1Min", status: 400),
                           against: errorFixtures)
        try contract.check("error 404 (asset)", "GET /v2/assets/NOSUCH",
                           await answer(open, "GET", "/v2/assets/NOSUCH", status: 404), against: errorFixtures)

        try contract.finish()
    }

    // MARK: - The stream

    @Test(.enabled(if: present, Comment(rawValue: absent)))
    func everyStreamFrameHasAlpacasKeysAndTypes() async throws {
        var contract = WireContract(directory: Self.fixtures)
        let sim = try await SimulatorProcess([
            "--start", "2024-06-04T14:00:00Z", "--speed", "60", "--seed", "7", "--updated-bar-rate", "1",
            "--symbol-limit", "3", "--auth-timeout", "8", "--feeds", "iex",
        ])
        let auth = #"{"action":"auth","key":"\#(sim.keyID)","secret":"\#(sim.secretKey)"}"#
        let frames = FrameLog()

        // (--auth-timeout 8: the unauthenticated steps below must fit in it on a loaded machine; 2 s did not always.)
        // One connection through the whole protocol: welcome, 400, 401, 402, authenticated, 403, subscription,
        // 405, bars (b), corrections (u), and the subscription echo of an unsubscribe.
        try await WireSocket.session(sim.streamURL(feed: "iex"), log: frames) { socket in
            try await socket.expect("success")
            try await socket.send("this is not json")
            try await socket.expect("error")
            try await socket.send(#"{"action":"subscribe","bars":["AAPL"]}"#)
            try await socket.expect("error")
            try await socket.send(#"{"action":"auth","key":"\#(sim.keyID)","secret":"wrong"}"#)
            try await socket.expect("error")
            try await socket.send(auth)
            try await socket.expect("success")
            try await socket.send(auth)
            try await socket.expect("error")
            try await socket.send(#"{"action":"subscribe","bars":["AAPL","MSFT"],"updatedBars":["AAPL","MSFT"]}"#)
            try await socket.expect("subscription")
            try await socket.send(#"{"action":"subscribe","bars":["SPY","QQQ"]}"#)
            try await socket.expect("error")
            try await socket.expect("b")
            try await socket.expect("u")
            try await socket.send(#"{"action":"unsubscribe","updatedBars":["AAPL","MSFT"]}"#)
            try await socket.expect("subscription")

            // While it is authenticated: a second session on the same feed is refused (406).
            try await WireSocket.session(sim.streamURL(feed: "iex"), log: frames) { second in
                try await second.expect("success")
                try await second.send(auth)
                try await second.expect("error")
            }
        }
        // A feed outside --feeds (409), and no auth within --auth-timeout (404).
        try await WireSocket.session(sim.streamURL(feed: "sip"), log: frames) { socket in
            try await socket.expect("success")
            try await socket.send(auth)
            try await socket.expect("error")
        }
        try await WireSocket.session(sim.streamURL(feed: "iex"), log: frames) { socket in
            try await socket.expect("success")
            try await socket.expect("error", within: 30)
        }

        let received = await frames.frames
        let errorCodes = Set(received.flatMap { $0.array ?? [] }.filter { $0["T"]?.string == "error" }.compactMap { $0["code"]?.number })
        #expect(errorCodes == [400, 401, 402, 403, 404, 405, 406, 409], "every stream error the simulator sends was produced")

        // Fixture messages by type: control frames, errors, subscriptions, bars and corrections.
        var samples: [String: [WireJSON]] = [:]
        var used: [String] = []
        for name in ["stream_welcome.json", "stream_authenticated.json", "stream_errors.json", "stream_subscription_ack.json",
                     "stream_subscribe_unsubscribe_exchange.json", "stream_data_examples.json", "stream_updated_bar_u.json",
                     "stream_js_mock_data_messages.json"] {
            guard let fixture = try contract.fixture(name) else { continue }
            used.append(name)
            for message in WireJSON.streamMessages(in: fixture) {
                if let type = message["T"]?.string { samples[type, default: []].append(message) }
            }
        }
        var seen: Set<String> = []
        for frame in received {
            guard let messages = frame.array else {
                contract.problem("stream frame is not a JSON array: \(frame)")
                continue
            }
            for message in messages {
                guard let type = message["T"]?.string else {
                    contract.problem("stream message without a string T: \(message)")
                    continue
                }
                if ["success", "error", "subscription"].contains(type), messages.count != 1 {
                    contract.problem("a \(type) message shares its frame with \(messages.count - 1) other(s); control frames hold one")
                }
                guard let examples = samples[type], !examples.isEmpty else {
                    contract.problem("stream message T=\(type) has no counterpart in the fixtures")
                    continue
                }
                seen.insert(type)
                contract.compare(message, examples, path: "[T=\(type)]", rules: Self.streamRules, kind: "stream \(type)")
            }
        }
        #expect(seen.isSuperset(of: ["success", "error", "subscription", "b", "u"]), "kinds seen: \(seen.sorted())")
        contract.report("stream frames", "WebSocket /v2/iex, /v2/sip (\(received.count) frames: \(seen.sorted().joined(separator: ", ")))",
                        fixtures: used)
        try contract.finish()
    }

    // MARK: - The comparison itself

    /// The checker finds what it is there to find: a misspelt key, a missing key, a wrong type, a time in
    /// the wrong form, money as a number; and it accepts optional keys and null-or-string fields.
    @Test func theComparisonCatchesMisspeltKeysAndWrongTypes() throws {
        let fixtures = try [
            WireJSON.parse(Data(#"{"id":"a","qty":"1","filled_at":null,"created_at":"2021-04-07T18:25:30.812371Z","extra":1}"#.utf8)),
            WireJSON.parse(Data(#"{"id":"b","qty":null,"filled_at":"2021-04-07T18:25:30.812371Z","created_at":"2021-04-07T18:25:30.8Z"}"#.utf8)),
        ]
        func problems(_ text: String, rules: WireRules = WireRules()) throws -> [String] {
            var contract = WireContract(directory: URL(fileURLWithPath: "/nonexistent"))
            contract.compare(try WireJSON.parse(Data(text.utf8)), fixtures, path: "", rules: rules, kind: "order")
            return contract.problems
        }
        #expect(try problems(#"{"id":"c","qty":"2","filled_at":null,"created_at":"2024-06-04T13:30:00.000000Z"}"#).isEmpty)
        #expect(try problems(#"{"id":"c","qty":null,"filled_at":"2024-06-04T13:31:00.000000Z","created_at":"2024-06-04T13:30:00.000000Z","extra":2}"#).isEmpty)
        let misspelt = try problems(#"{"id":"c","qyt":"2","filled_at":null,"created_at":"2024-06-04T13:30:00.000000Z"}"#)
        #expect(misspelt.contains { $0.contains("\"qyt\"") } && misspelt.contains { $0.contains("\"qty\"") })
        #expect(try problems(#"{"id":"c","qty":2,"filled_at":null,"created_at":"2024-06-04T13:30:00.000000Z"}"#).count == 1)
        #expect(try problems(#"{"id":"c","qty":"two","filled_at":null,"created_at":"2024-06-04T13:30:00.000000Z"}"#).count == 1)
        #expect(try problems(#"{"id":"c","qty":"2","filled_at":null,"created_at":"2024-06-04 13:30:00"}"#).count == 1)
        #expect(try problems(#"{"id":"c","qty":"2","filled_at":false,"created_at":"2024-06-04T13:30:00.000000Z"}"#).count == 1)
        #expect(try problems(#"{"id":"c","qty":"2","filled_at":null,"created_at":"2024-06-04T13:30:00.000000Z","mine":true}"#,
                             rules: WireRules(mayAdd: ["": ["mine"]])).isEmpty)
        #expect(try WireJSON.parse(Data(#"[true,1,"1",null,{},[]]"#.utf8)).array?.map(\.type) == [.bool, .number, .string, .null, .object, .array])
    }
}

// MARK: - JSON as the comparison sees it

/// A JSON value with booleans and numbers kept apart (JSONSerialization on Linux merges them).
enum WireJSON: Decodable, Equatable, Sendable, CustomStringConvertible {
    case null, bool(Bool), number(Double), string(String), array([WireJSON]), object([String: WireJSON])

    enum Kind: String, Hashable, Comparable {
        case string, number, bool, null, object, array
        static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let value = try? c.decode(Bool.self) { self = .bool(value) }
        else if let value = try? c.decode(Double.self) { self = .number(value) }
        else if let value = try? c.decode(String.self) { self = .string(value) }
        else if let value = try? c.decode([WireJSON].self) { self = .array(value) }
        else { self = .object(try c.decode([String: WireJSON].self)) }
    }

    static func parse(_ data: Data) throws -> WireJSON { try JSONDecoder().decode(WireJSON.self, from: data) }

    var type: Kind {
        switch self {
        case .null: .null
        case .bool: .bool
        case .number: .number
        case .string: .string
        case .array: .array
        case .object: .object
        }
    }

    subscript(_ key: String) -> WireJSON? { if case .object(let fields) = self { fields[key] } else { nil } }
    var string: String? { if case .string(let value) = self { value } else { nil } }
    var number: Double? { if case .number(let value) = self { value } else { nil } }
    var array: [WireJSON]? { if case .array(let values) = self { values } else { nil } }
    var object: [String: WireJSON]? { if case .object(let fields) = self { fields } else { nil } }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let values): "[" + values.map(\.description).joined(separator: ",") + "]"
        case .object(let fields): "{" + fields.keys.sorted().map { "\"\($0)\":\(fields[$0]!)" }.joined(separator: ",") + "}"
        }
    }

    /// The server messages in a stream fixture: frames are arrays of messages; transcripts wrap them in
    /// `{"server": …}` steps (the `{"client": …}` ones are left out); a few files list bare messages.
    static func streamMessages(in fixture: WireJSON) -> [WireJSON] {
        switch fixture {
        case .array(let values): return values.flatMap { streamMessages(in: $0) }
        case .object(let fields):
            if fields["T"] != nil { return [fixture] }
            if let server = fields["server"] { return streamMessages(in: server) }
            return []
        default: return []
        }
    }

    /// The recognisable forms a string can take on Alpaca's wire; `.other` is anything else (ids, names, tokens).
    enum Form: String, Hashable, Comparable {
        case utcTime = "RFC 3339 with Z"
        case utcTimeWithFraction = "RFC 3339 with a fraction and Z"
        case offsetTime = "RFC 3339 with an offset"
        case offsetTimeWithFraction = "RFC 3339 with a fraction and an offset"
        case date = "YYYY-MM-DD"
        case hourMinute = "HH:MM"
        case decimal = "a decimal number"
        case other = "free text"
        static func < (lhs: Form, rhs: Form) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Whether `text` has exactly `pattern`'s shape: `9` stands for any digit, anything else for itself.
    static func matches(_ text: Substring, _ pattern: String) -> Bool {
        text.count == pattern.count && zip(text, pattern).allSatisfy { $1 == "9" ? $0.isASCII && $0.isNumber : $0 == $1 }
    }

    static func form(_ text: String) -> Form {
        if text.count >= 20, matches(text.prefix(19), "9999-99-99T99:99:99") {
            var rest = text.dropFirst(19)
            let fraction = rest.first == "."
            if fraction {
                rest = rest.dropFirst()
                let digits = rest.prefix { $0.isASCII && $0.isNumber }
                guard !digits.isEmpty else { return .other }
                rest = rest.dropFirst(digits.count)
            }
            if rest == "Z" { return fraction ? .utcTimeWithFraction : .utcTime }
            if matches(rest, "+99:99") || matches(rest, "-99:99") { return fraction ? .offsetTimeWithFraction : .offsetTime }
            return .other
        }
        if matches(text[...], "9999-99-99") { return .date }
        if matches(text[...], "99:99") { return .hourMinute }
        let unsigned = text.hasPrefix("-") ? text.dropFirst() : text[...]
        let parts = unsigned.split(separator: ".", omittingEmptySubsequences: false)
        if (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) {
            return .decimal
        }
        return .other
    }
}

/// Where a kind of answer may differ from the fixtures, by path (`""` is the top level, `[T=b]` a stream
/// message, `bars.*` the values of the `bars` object).
struct WireRules {
    /// Keys the simulator sends that no fixture of the kind has.
    var mayAdd: [String: Set<String>] = [:]
    /// Keys every fixture of the kind has that the simulator leaves out.
    var mayOmit: [String: Set<String>] = [:]
    /// JSON types accepted for a key (by name, at any depth) beside the fixtures' own.
    var alsoTypes: [String: Set<WireJSON.Kind>] = [:]
    /// Objects whose keys are data (symbols), compared by their values.
    var maps: Set<String> = []
}

/// Compares answers with fixtures, collecting every difference (reported as test issues at the end).
struct WireContract {
    let directory: URL
    var problems: [String] = []
    var missingFixtures: [String] = []
    var compared: [String] = []

    init(directory: URL) { self.directory = directory }

    /// A fixture, or nil (remembered, so the test ends skipped rather than passed) when the file is absent.
    mutating func fixture(_ name: String) throws -> WireJSON? {
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            if !missingFixtures.contains(name) { missingFixtures.append(name) }
            return nil
        }
        return try WireJSON.parse(Data(contentsOf: url))
    }

    mutating func problem(_ text: String) { problems.append(text) }

    /// One answer against the fixtures of its kind (`elementsOfFixtures`: the fixtures are arrays of examples).
    mutating func check(_ kind: String, _ request: String, _ answer: WireJSON, against names: [String],
                        elementsOfFixtures: Bool = false, rules: WireRules = WireRules()) throws {
        let (samples, used) = try load(names, elements: elementsOfFixtures)
        guard !samples.isEmpty else { return report(kind, request, fixtures: [], skipped: true) }
        let before = problems.count
        compare(answer, samples, path: "", rules: rules, kind: kind)
        report(kind, request, fixtures: used, failed: problems.count > before)
    }

    /// Every element of an array answer against the fixtures of its kind.
    mutating func checkEach(_ kind: String, _ request: String, _ answer: WireJSON, against names: [String],
                            elementsOfFixtures: Bool = false, rules: WireRules = WireRules()) throws {
        guard let elements = answer.array else {
            problems.append("\(kind) (\(request)): expected a JSON array, got \(answer.type.rawValue)")
            return
        }
        if elements.isEmpty { problems.append("\(kind) (\(request)): the array is empty, nothing to compare") }
        let (samples, used) = try load(names, elements: elementsOfFixtures)
        guard !samples.isEmpty else { return report(kind, request, fixtures: [], skipped: true) }
        let before = problems.count
        for element in elements { compare(element, samples, path: "", rules: rules, kind: kind) }
        report(kind, request + " (\(elements.count) elements)", fixtures: used, failed: problems.count > before)
    }

    private mutating func load(_ names: [String], elements: Bool) throws -> ([WireJSON], [String]) {
        var samples: [WireJSON] = [], used: [String] = []
        for name in names {
            guard let fixture = try fixture(name) else { continue }
            used.append(name)
            if elements, let values = fixture.array { samples += values } else { samples.append(fixture) }
        }
        return (samples, used)
    }

    mutating func report(_ kind: String, _ request: String, fixtures: [String], skipped: Bool = false, failed: Bool = false) {
        let line = skipped
            ? "\(kind) (\(request)): SKIPPED, no fixture present"
            : "\(kind) (\(request)) vs \(fixtures.joined(separator: ", ")): \(failed ? "DIFFERS" : "same keys and types")"
        compared.append(line)
        print("wire contract: " + line)
    }

    /// `actual` against the union of `samples` (all values of one key, or one kind of message), recursively.
    mutating func compare(_ actual: WireJSON, _ samples: [WireJSON], path: String, rules: WireRules, kind: String) {
        let location = path.isEmpty ? kind : "\(kind) at \(path)"
        let key = path.split(separator: ".").last.map(String.init) ?? ""
        let types = Set(samples.map(\.type))
        if !types.contains(actual.type), !(rules.alsoTypes[key] ?? []).contains(actual.type) {
            problems.append("\(location): JSON type \(actual.type.rawValue), Alpaca's is \(types.sorted().map(\.rawValue).joined(separator: " or ")): \(actual)")
            return
        }
        switch actual {
        case .string(let text):
            let forms = Set(samples.compactMap(\.string).map(WireJSON.form))
            let form = WireJSON.form(text)
            if forms.contains(where: { $0 != .other }), !forms.contains(form) {
                problems.append("\(location): \"\(text)\" is \(form.rawValue), Alpaca writes \(forms.sorted().map(\.rawValue).joined(separator: " or "))")
            }
        case .array(let elements):
            let examples = samples.compactMap(\.array).flatMap { $0 }
            guard !examples.isEmpty else { return }
            for element in elements { compare(element, examples, path: path + "[]", rules: rules, kind: kind) }
        case .object(let fields):
            let objects = samples.compactMap(\.object)
            guard !objects.isEmpty else { return }
            if rules.maps.contains(path) {
                let values = objects.flatMap(\.values)
                guard !values.isEmpty else { return }
                for (name, value) in fields { compare(value, values, path: path + ".*", rules: rules, kind: kind + " (\(name))") }
                return
            }
            let required = objects.dropFirst().reduce(Set(objects[0].keys)) { $0.intersection($1.keys) }
            let allowed = objects.reduce(Set<String>()) { $0.union($1.keys) }
            for name in required.subtracting(fields.keys).subtracting(rules.mayOmit[path] ?? []).sorted() {
                problems.append("\(location): key \"\(name)\" is missing (every Alpaca payload of this kind has it)")
            }
            for name in Set(fields.keys).subtracting(allowed).subtracting(rules.mayAdd[path] ?? []).sorted() {
                problems.append("\(location): key \"\(name)\" is not in Alpaca's payloads")
            }
            for (name, value) in fields where allowed.contains(name) {
                compare(value, objects.compactMap { $0[name] }, path: path.isEmpty ? name : path + "." + name, rules: rules, kind: kind)
            }
        default:
            break
        }
    }

    /// Every difference becomes an issue; then, if a fixture was missing, the test ends skipped (not passed).
    func finish(sourceLocation: SourceLocation = #_sourceLocation) throws {
        for problem in problems { Issue.record(Comment(rawValue: problem), sourceLocation: sourceLocation) }
        if !missingFixtures.isEmpty {
            try Test.cancel(Comment(rawValue:
                "skipped in part: fixture(s) absent from ../shared/alpaca-fixtures: \(missingFixtures.joined(separator: ", "))"),
                sourceLocation: sourceLocation)
        }
    }
}

/// Every frame a test's stream sessions received, in order.
actor FrameLog {
    var frames: [WireJSON] = []
    func add(_ frame: WireJSON) { frames.append(frame) }
}

/// A raw WebSocket to the simulator's stream (swift-websocket's client), read frame by frame.
struct WireSocket: Sendable {
    let outbound: WebSocketOutboundWriter
    let next: @Sendable () async throws -> WireJSON?
    let log: FrameLog

    func send(_ text: String) async throws { try await outbound.write(.text(text)) }

    /// Reads frames (all logged) until one holds a message of type `T`; fails after `within` seconds.
    func expect(_ type: String, within seconds: Double = 15) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            guard let frame = try await next() else { throw SimulatorProcessError("the stream closed before a \(type) message") }
            await log.add(frame)
            if (frame.array ?? []).contains(where: { $0["T"]?.string == type }) { return }
        }
        throw SimulatorProcessError("no \(type) message within \(seconds) s")
    }

    /// Connects, runs `body`, closes; the whole session is bounded so a silent server fails the test.
    static func session(_ url: URL, log: FrameLog, timeout: Double = 40, _ body: @escaping @Sendable (WireSocket) async throws -> Void) async throws {
        let logger = Logger(label: "wire-contract")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await WebSocketClient.connect(url: url.absoluteString, logger: logger) { inbound, outbound, _ in
                    let iterator = FrameIterator(inbound.messages(maxSize: 1 << 22).makeAsyncIterator())
                    try await body(WireSocket(outbound: outbound, next: { try await iterator.next() }, log: log))
                    try? await outbound.close(.normalClosure, reason: nil)
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                throw SimulatorProcessError("stream session to \(url) did not finish within \(timeout) s")
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }
}

/// Hands out one frame at a time from a connection's inbound messages.
final class FrameIterator: @unchecked Sendable {
    private var iterator: WebSocketInboundMessageStream.AsyncIterator

    init(_ iterator: WebSocketInboundMessageStream.AsyncIterator) { self.iterator = iterator }

    func next() async throws -> WireJSON? {
        guard let message = try await iterator.next() else { return nil }
        switch message {
        case .text(let text): return try WireJSON.parse(Data(text.utf8))
        case .binary(let buffer): return try WireJSON.parse(Data(buffer.readableBytesView))
        }
    }
}
