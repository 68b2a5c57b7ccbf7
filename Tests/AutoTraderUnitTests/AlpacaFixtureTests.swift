import Foundation
import Testing
@testable import AutoTraderCore

/// Every real Alpaca payload in ../shared/alpaca-fixtures decodes with the client's models.
@Suite struct AlpacaFixtureTests {
    static let directory = Repository.root.deletingLastPathComponent().appendingPathComponent("shared/alpaca-fixtures")
    static let present = FileManager.default.fileExists(atPath: directory.path)

    func data(_ name: String) throws -> Data { try Data(contentsOf: Self.directory.appendingPathComponent(name)) }
    func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T { try JSONDecoder().decode(type, from: data(name)) }
    func d(_ text: String) -> Decimal { Decimal(string: text)! }

    /// Each fixture and what decoding it must show. A fixture with no entry fails the test below.
    var checks: [String: () throws -> Void] {
        [
            "account.json": { () throws in
                let account = try decode(AlpacaAccount.self, "account.json")
                #expect(account.cash == d("-23140.2"))
                #expect(account.buyingPower == d("262113.632"))
                #expect(account.equity == d("103820.56"))
                #expect(account.status == "ACTIVE" && account.canTrade)
                #expect(account.daytradeCount == 0)
                #expect(account.createdAt == RFC3339.parse("2019-06-12T22:47:07.99658Z"))
            },
            "asset.json": { () throws in
                let asset = try decode(AlpacaAsset.self, "asset.json")
                #expect(asset.symbol == "APCA" && asset.assetClass == "us_equity" && asset.isTradableEquity && asset.name == nil)
            },
            "asset_aapl_with_attributes.json": { () throws in
                let asset = try decode(AlpacaAsset.self, "asset_aapl_with_attributes.json")
                #expect(asset.name == "Apple Inc. Common Stock" && asset.attributes == ["attribute1", "attribute2"])
            },
            "bar_latest_single_docs.json": { () throws in
                let latest = try decode(AlpacaLatestBar.self, "bar_latest_single_docs.json")
                #expect(latest.symbol == "AAPL" && latest.bar.t == .at("2022-04-11T16:59:00Z") && latest.bar.c == 167.005)
            },
            "bars_empty.json": { () throws in
                let page = try decode(AlpacaMultiBarsPage.self, "bars_empty.json")
                #expect(page.bars.isEmpty && page.nextPageToken == nil)
            },
            "bars_latest_multi.json": { () throws in
                let latest = try decode(AlpacaLatestBars.self, "bars_latest_multi.json")
                #expect(Set(latest.bars.keys) == ["NIO", "AAPL"] && latest.bars["AAPL"]?.vw == 142.589071)
            },
            "bars_latest_multi_docs.json": { () throws in
                #expect(try decode(AlpacaLatestBars.self, "bars_latest_multi_docs.json").bars.count == 2)
            },
            "bars_latest_multi_spy.json": { () throws in
                #expect(try decode(AlpacaLatestBars.self, "bars_latest_multi_spy.json").bars["SPY"] != nil)
            },
            "bars_multi_15min_last_page.json": { () throws in
                let page = try decode(AlpacaMultiBarsPage.self, "bars_multi_15min_last_page.json")
                #expect(page.nextPageToken == nil && !(page.bars["AMZN"] ?? []).isEmpty)
            },
            "bars_multi_last_page.json": { () throws in
                let page = try decode(AlpacaMultiBarsPage.self, "bars_multi_last_page.json")
                #expect(page.nextPageToken == nil && Set(page.bars.keys).isSuperset(of: ["AAPL"]))
            },
            "bars_multi_page1_meta_daily.json": { () throws in
                let page = try decode(AlpacaMultiBarsPage.self, "bars_multi_page1_meta_daily.json")
                #expect(page.nextPageToken != nil && !(page.bars["META"] ?? []).isEmpty)
            },
            "bars_multi_page2_meta_daily.json": { () throws in
                let page = try decode(AlpacaMultiBarsPage.self, "bars_multi_page2_meta_daily.json")
                #expect(page.nextPageToken != nil && !(page.bars["META"] ?? []).isEmpty)
            },
            "bars_multi_page_docs.json": { () throws in
                let page = try decode(AlpacaMultiBarsPage.self, "bars_multi_page_docs.json")
                #expect(page.bars["TSLA"]?.first?.h == 1008.4681 && page.nextPageToken != nil)
            },
            "bars_page1.json": { () throws in
                let page = try decode(AlpacaMultiBarsPage.self, "bars_page1.json")
                let first = try #require(page.bars["AAPL"]?.first)
                #expect(first.t == .at("2022-02-01T05:00:00Z") && first.o == 174 && first.v == 85_998_033 && first.n == 732_412)
                #expect(page.nextPageToken == "QUFQTHxEfDIwMjItMDItMDJUMDU6MDA6MDAuMDAwMDAwMDAwWg==")
            },
            "bars_single_symbol_page_docs.json": { () throws in
                let page = try decode(AlpacaBarsPage.self, "bars_single_symbol_page_docs.json")
                #expect(page.symbol == "AAPL" && page.bars.count == 1 && page.bars[0].t == .at("2022-04-11T08:00:00Z"))
            },
            "calendar_day.json": { () throws in
                #expect(try decode(AlpacaCalendarDay.self, "calendar_day.json") == AlpacaCalendarDay(date: "2018-01-03", open: "09:30", close: "16:00"))
            },
            "calendar_day_with_session.json": { () throws in
                #expect(try decode(AlpacaCalendarDay.self, "calendar_day_with_session.json").sessionOpen == "0700")
            },
            "cancel_all_orders_207.json": { () throws in
                let entries = try decode([AlpacaMultiStatusEntry].self, "cancel_all_orders_207.json")
                #expect(entries.map(\.status) == [200, 404])
                guard case .error(let error) = entries[1].body else { Issue.record("expected an error body"); return }
                #expect(error.code == 40_410_000)
            },
            "clock.json": { () throws in
                let clock = try decode(AlpacaClock.self, "clock.json")
                #expect(clock.isOpen)
                #expect(Timestamp(clock.nextOpen) == .at("2022-04-29T13:30:00Z"))  // 09:30-04:00
                #expect(Timestamp(clock.nextClose) == .at("2022-04-28T20:00:00Z"))
                #expect(Timestamp(clock.timestamp) == .at("2022-04-28T18:07:04Z"))
            },
            "close_all_positions_207.json": { () throws in
                let entries = try decode([AlpacaMultiStatusEntry].self, "close_all_positions_207.json")
                guard case .order(let order) = entries[0].body else { Issue.record("expected an order body"); return }
                #expect(order.status == .pendingNew && order.qty == d("0.0283"))
            },
            "error_401_request_not_authorized.json": { () throws in
                #expect(try decode(AlpacaErrorBody.self, "error_401_request_not_authorized.json") == AlpacaErrorBody(code: 40_110_000, message: "request is not authorized"))
            },
            "error_403_insufficient_qty.json": { () throws in
                #expect(try decode(AlpacaErrorBody.self, "error_403_insufficient_qty.json").code == 40_310_000)
            },
            "error_403_not_allowed_to_short.json": { () throws in
                #expect(try decode(AlpacaErrorBody.self, "error_403_not_allowed_to_short.json").code == 40_310_000)
            },
            "error_404_order_not_found.json": { () throws in
                #expect(try decode(AlpacaErrorBody.self, "error_404_order_not_found.json") == AlpacaErrorBody(code: 40_410_000, message: "order not found"))
            },
            "error_422_only_one_of_qty_or_notional.json": { () throws in
                #expect(try decode(AlpacaErrorBody.self, "error_422_only_one_of_qty_or_notional.json").message.contains("notional"))
            },
            "error_422_qty_must_be_integer.json": { () throws in
                #expect(try !decode(AlpacaErrorBody.self, "error_422_qty_must_be_integer.json").message.isEmpty)
            },
            "error_422_qty_or_notional_required.json": { () throws in
                #expect(try decode(AlpacaErrorBody.self, "error_422_qty_or_notional_required.json").message.contains("qty"))
            },
            "error_422_subpenny_limit_price.json": { () throws in
                #expect(try decode(AlpacaErrorBody.self, "error_422_subpenny_limit_price.json").code == 42_210_000)
            },
            "order_accepted_limit.json": { () throws in
                let order = try decode(AlpacaOrder.self, "order_accepted_limit.json")
                #expect(order.status == .accepted && order.qty == 1 && order.limitPrice == 400 && order.filledAvgPrice == nil)
                #expect(order.type == "limit" && order.side == .buy && order.filledQty == 0)
            },
            "order_accepted_market_notional.json": { () throws in
                let order = try decode(AlpacaOrder.self, "order_accepted_market_notional.json")
                #expect(order.qty == nil && order.notional == 500)
            },
            "order_filled.json": { () throws in
                let order = try decode(AlpacaOrder.self, "order_filled.json")
                #expect(order.status == .filled && order.status.isTerminal)
                #expect(order.filledAvgPrice == d("131.355") && order.filledQty == d("0.1"))
                #expect(order.filledAt == RFC3339.parse("2021-04-21T13:43:12.476511Z"))
            },
            "order_pending_new_crypto.json": { () throws in
                #expect(try decode(AlpacaOrder.self, "order_pending_new_crypto.json").status == .pendingNew)
            },
            "positions.json": { () throws in
                let positions = try decode([AlpacaPosition].self, "positions.json")
                #expect(positions.count == 1 && positions[0].qty == 5 && positions[0].avgEntryPrice == 100 && positions[0].currentPrice == 120)
            },
            "stream_authenticated.json": { () throws in
                #expect(try StreamMessage.decodeFrame(data("stream_authenticated.json")) == [.success("authenticated")])
            },
            "stream_client_messages.json": { () throws in
                let messages = try decode([StreamClientMessage].self, "stream_client_messages.json")
                #expect(messages.map(\.action) == ["auth", "auth", "subscribe", "unsubscribe"])
                #expect(messages[2].bars == ["AAPL", "VOO"])
            },
            "stream_data_examples.json": { () throws in
                // Documented as bare points; on the wire they come inside an array, as decoded here.
                let messages = try StreamMessage.decodeFrame(data("stream_data_examples.json"))
                #expect(messages.count == 5)
                guard case .bar(let symbol, let bar) = messages[2] else { Issue.record("expected a bar"); return }
                #expect(symbol == "SPY" && bar.t == .at("2021-02-22T19:15:00Z") && bar.c == 389.12 && bar.n == nil)
                guard case .dailyBar = messages[3] else { Issue.record("expected a daily bar"); return }
                #expect(messages[0] == .other(type: "t") && messages[4] == .other(type: "s"))
            },
            "stream_errors.json": { () throws in
                let frames = try JSONSerialization.jsonObject(with: data("stream_errors.json")) as! [Any]
                let decoded = try frames.map { try StreamMessage.decodeFrame(JSONSerialization.data(withJSONObject: $0)) }
                #expect(decoded.map { $0.first } == [
                    .error(code: 400, message: "invalid syntax"), .error(code: 401, message: "not authenticated"),
                    .error(code: 402, message: "auth failed"), .error(code: 403, message: "already authenticated"),
                    .error(code: 404, message: "auth timeout"), .error(code: 405, message: "symbol limit exceeded"),
                    .error(code: 406, message: "connection limit exceeded"), .error(code: 407, message: "slow client"),
                    .error(code: 408, message: "v2 not enabled"), .error(code: 409, message: "insufficient subscription"),
                    .error(code: 500, message: "internal error"),
                ])
                #expect(decoded.map { $0.first.map(StreamError.init) ?? nil }.compactMap { $0 }.map(\.reaction) == [
                    .reconnect, .reconnect, .stop, .keepGoing, .reconnect, .keepGoing, .backOff, .reconnect, .stop, .stop, .reconnect,
                ])
            },
            "stream_js_mock_data_messages.json": { () throws in
                let messages = try StreamMessage.decodeFrame(data("stream_js_mock_data_messages.json"))
                guard case .updatedBar(let symbol, let bar) = messages[3] else { Issue.record("expected an updated bar"); return }
                #expect(symbol == "AAPL" && bar.c == 101.3)
            },
            "stream_session_transcript_sip.json": { () throws in
                let steps = try JSONSerialization.jsonObject(with: data("stream_session_transcript_sip.json")) as! [[String: Any]]
                var serverMessages: [StreamMessage] = []
                for step in steps {
                    if let frame = step["server"] {
                        serverMessages += try StreamMessage.decodeFrame(JSONSerialization.data(withJSONObject: frame))
                    } else if let client = step["client"] {
                        _ = try JSONDecoder().decode(StreamClientMessage.self, from: JSONSerialization.data(withJSONObject: client))
                    }
                }
                #expect(serverMessages.prefix(2) == [.success("connected"), .success("authenticated")])
            },
            "stream_subscribe_unsubscribe_exchange.json": { () throws in
                let steps = try JSONSerialization.jsonObject(with: data("stream_subscribe_unsubscribe_exchange.json")) as! [[String: Any]]
                let frames = try steps.compactMap { $0["server"] }.map { try StreamMessage.decodeFrame(JSONSerialization.data(withJSONObject: $0)) }
                #expect(frames.last == [.subscription(StreamSubscription(trades: ["AAPL"], quotes: ["AMD", "CLDR"], bars: []))])
            },
            "stream_subscription_ack.json": { () throws in
                #expect(try StreamMessage.decodeFrame(data("stream_subscription_ack.json")) == [
                    .subscription(StreamSubscription(trades: ["AAPL"], quotes: ["AMD", "CLDR"], bars: ["IBM", "AAPL", "VOO"])),
                ])
            },
            "stream_trade_updates_fill.json": { () throws in
                struct Envelope: Decodable { let stream: String; let data: AlpacaTradeUpdate }
                let envelope = try decode(Envelope.self, "stream_trade_updates_fill.json")
                #expect(envelope.stream == "trade_updates" && envelope.data.event == "fill" && envelope.data.order.status == .filled)
                #expect(envelope.data.order.filledAvgPrice == d("105.8988475"))
            },
            "stream_trade_updates_session.json": { () throws in
                struct Message: Decodable { let action: String?; let stream: String? }
                let messages = try decode([Message].self, "stream_trade_updates_session.json")
                #expect(messages.count == 8 && messages.allSatisfy { ($0.action == nil) != ($0.stream == nil) })
            },
            "stream_updated_bar_u.json": { () throws in
                let messages = try StreamMessage.decodeFrame(data("stream_updated_bar_u.json"))
                #expect(messages == [.updatedBar(symbol: "AAPL", AlpacaBar(t: .at("2021-03-05T16:00:30Z"), o: 100, h: 101.2, l: 98.67, c: 101.3, v: 2570, n: 1235, vw: 100.123457))])
            },
            "stream_welcome.json": { () throws in
                #expect(try StreamMessage.decodeFrame(data("stream_welcome.json")) == [.success("connected")])
            },
            "trade_event_fill_broker_sse.json": { () throws in
                let events = try decode([AlpacaTradeUpdate].self, "trade_event_fill_broker_sse.json")
                #expect(events.first?.event == "fill" && events.first?.order.filledAvgPrice == d("131.355"))
            },
        ]
    }

    @Test(.enabled(if: present, "../shared/alpaca-fixtures is absent: the real Alpaca payloads cannot be decoded here"))
    func everyFixtureDecodes() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 40)
        let checks = checks
        for file in files {
            guard let check = checks[file] else {
                Issue.record("fixture \(file) has no decoding check: add one")
                continue
            }
            do { try check() } catch { Issue.record("\(file): \(error)") }
        }
    }

    @Test func rfc3339AcceptsAlpacasFormsAndRejectsOthers() {
        #expect(RFC3339.parse("2022-04-28T14:07:04.451420928-04:00")!.timeIntervalSince1970 == 1_651_169_224.451420928)
        #expect(RFC3339.parse("2021-04-21T13:43:12.476511Z") != nil)
        #expect(RFC3339.parse("2021-04-21T13:43:12Z") == RFC3339.parse("2021-04-21T09:43:12-04:00"))
        for bad in ["2021-04-21 13:43:12Z", "2021-04-21T13:43:12", "2021-04-21T13:43:12.Z", "2021-02-30T00:00:00Z", "2021-04-21T13:43:12+0400", "yesterday"] {
            #expect(RFC3339.parse(bad) == nil, "\(bad)")
        }
        let instant = RFC3339.parse("2024-01-05T14:30:00.250000Z")!
        #expect(RFC3339.format(instant) == "2024-01-05T14:30:00.250000Z")
        #expect(RFC3339.format(instant, offsetSeconds: -5 * 3600) == "2024-01-05T09:30:00.250000-05:00")
    }
}
