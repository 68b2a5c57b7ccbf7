import AutoTraderCore
import Foundation
import Hummingbird
import NIOFoundationCompat

/// Alpaca's trading REST endpoints: account, assets, orders, positions, clock, calendar.
struct TradingRoutes {
    let exchange: Exchange
    let clock: SimClock
    let hours: TradingHours
    let universe: Universe

    func add(to group: RouterGroup<SimRequestContext>) {
        group.get("account") { _, _ in
            try JSONBody.response(await exchange.account())
        }
        group.get("assets") { request, _ in
            let query = QueryValues(request)
            let status = query["status"]
            // Every simulated asset is a US equity: another class lists nothing.
            let assetClass = query["asset_class"]
            let exchangeName = query["exchange"]?.uppercased()
            let assets = universe.assets.filter { asset in
                if let assetClass, assetClass != "us_equity" { return false }
                if let exchangeName, asset.exchange != exchangeName { return false }
                switch status {
                case "active": return asset.isActive
                case "inactive": return !asset.isActive
                default: return true
                }
            }
            return try JSONBody.response(assets.map(SimWire.Asset.init))
        }
        group.get("assets/{symbol}") { _, context in
            let symbol = try context.parameters.require("symbol")
            guard let asset = universe.asset(symbol) else { throw AlpacaAPIError.assetNotFound }
            return try JSONBody.response(SimWire.Asset(asset))
        }
        group.post("orders") { request, context in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 16)
            let submission = try OrderRequestParser.parse(Data(buffer: body))
            return try JSONBody.response(SimWire.Order(try await exchange.submit(submission)))
        }
        group.get("orders") { request, _ in
            try JSONBody.response(await exchange.orders(matching: try Self.filter(QueryValues(request))).map(SimWire.Order.init))
        }
        group.delete("orders") { _, _ in
            let results = await exchange.cancelAll()
            return try JSONBody.response(results.map { SimWire.CancelResult(id: $0.id, status: $0.status) },
                                         status: .init(code: 207, reasonPhrase: "Multi-Status"))
        }
        for path in ["orders:by_client_order_id", "orders%3Aby_client_order_id", "orders%3aby_client_order_id"] {
            group.get(RouterPath(path)) { request, _ in
                guard let clientID = QueryValues(request)["client_order_id"] else {
                    throw AlpacaAPIError.unprocessable("client_order_id is required")
                }
                return try JSONBody.response(SimWire.Order(try await exchange.order(clientOrderID: clientID)))
            }
        }
        group.get("orders/{id}") { _, context in
            let id = try Self.orderID(context)
            return try JSONBody.response(SimWire.Order(try await exchange.order(id: id)))
        }
        group.delete("orders/{id}") { _, context in
            let id = try Self.orderID(context)
            try await exchange.cancel(id: id)
            return Response(status: .noContent)
        }
        group.patch("orders/{id}") { request, context in
            let id = try Self.orderID(context)
            var request = request
            let body = try await request.collectBody(upTo: 1 << 16)
            let change = try OrderRequestParser.parseReplacement(Data(buffer: body))
            return try JSONBody.response(SimWire.Order(try await exchange.replace(id: id, with: change)))
        }
        group.get("positions") { _, _ in
            try JSONBody.response(await exchange.positions())
        }
        group.delete("positions") { request, _ in
            let cancelOrders = try Self.flag(QueryValues(request)["cancel_orders"], name: "cancel_orders")
            let results = await exchange.closeAll(cancelOrders: cancelOrders).map { entry in
                switch entry.result {
                case .success(let order):
                    return SimWire.ClosePositionResult(symbol: entry.symbol, status: 200, order: SimWire.Order(order))
                case .failure(let error):
                    return SimWire.ClosePositionResult(
                        symbol: entry.symbol, status: Int(error.status.code),
                        error: SimWire.Error(code: error.code, message: error.message, extra: error.extra))
                }
            }
            return try JSONBody.response(results, status: .init(code: 207, reasonPhrase: "Multi-Status"))
        }
        group.get("positions/{symbol}") { _, context in
            try JSONBody.response(try await exchange.position(symbol: try context.parameters.require("symbol")))
        }
        group.delete("positions/{symbol}") { request, context in
            let symbol = try context.parameters.require("symbol")
            let query = QueryValues(request)
            var qty: Decimal?, percentage: Decimal?
            if let text = query["qty"] {
                guard let value = Money.parse(text), value > 0 else { throw AlpacaAPIError.unprocessable("qty must be a number > 0") }
                qty = value
            }
            if let text = query["percentage"] {
                guard let value = Money.parse(text), value > 0, value <= 100 else {
                    throw AlpacaAPIError.unprocessable("percentage must be a number > 0 and <= 100")
                }
                percentage = value
            }
            if qty != nil, percentage != nil { throw AlpacaAPIError.unprocessable("only one of qty or percentage is accepted") }
            return try JSONBody.response(SimWire.Order(try await exchange.closePosition(symbol: symbol, qty: qty, percentage: percentage)))
        }
        group.get("clock") { _, _ in
            try JSONBody.response(Self.clockBody(clock: clock, hours: hours))
        }
        group.get("calendar") { request, _ in
            try JSONBody.response(try Self.calendar(QueryValues(request), hours: hours))
        }
    }

    /// A malformed id is Alpaca's 422 (its message is odd, but it is what Alpaca says).
    static func orderID(_ context: SimRequestContext) throws -> String {
        let id = try context.parameters.require("id")
        guard UUID(uuidString: id) != nil else { throw AlpacaAPIError.unprocessable("order_id is missing") }
        return id.lowercased()
    }

    /// A boolean query value (`true`/`false`); absent is false.
    static func flag(_ text: String?, name: String) throws -> Bool {
        switch text?.lowercased() {
        case nil, "false": return false
        case "true": return true
        default: throw AlpacaAPIError.unprocessable("invalid \(name): use true or false")
        }
    }

    static func filter(_ query: QueryValues) throws -> OrderFilter {
        var filter = OrderFilter()
        if let status = query["status"] {
            guard let value = OrderFilter.Status(rawValue: status) else {
                throw AlpacaAPIError.unprocessable("invalid status \"\(status)\": use open, closed or all")
            }
            filter.status = value
        }
        if let limit = query["limit"] {
            guard let value = Int(limit), value > 0 else { throw AlpacaAPIError.unprocessable("invalid limit \"\(limit)\"") }
            filter.limit = min(value, 500)
        }
        filter.after = try query.time("after", invalid: .unprocessable("invalid after: use RFC 3339 or YYYY-MM-DD"))
        filter.until = try query.time("until", invalid: .unprocessable("invalid until: use RFC 3339 or YYYY-MM-DD"))
        if let direction = query["direction"] {
            guard direction == "asc" || direction == "desc" else {
                throw AlpacaAPIError.unprocessable("invalid direction \"\(direction)\": use asc or desc")
            }
            filter.ascending = direction == "asc"
        }
        if let symbols = query.list("symbols") { filter.symbols = Set(symbols.map { $0.uppercased() }) }
        if let side = query["side"] {
            guard let value = OrderSide(rawValue: side) else { throw AlpacaAPIError.unprocessable("invalid side \"\(side)\"") }
            filter.side = value
        }
        return filter
    }

    static func clockBody(clock: SimClock, hours: TradingHours) -> SimWire.Clock {
        let nowDate = clock.nowDate
        let now = Timestamp(nowDate)
        let far = Date(timeIntervalSince1970: 4_102_444_800)
        if let session = hours.regularSession(containing: now) {
            let next = hours.nextSession(openingAtOrAfter: now.adding(seconds: 1))
            return SimWire.Clock(timestamp: nowDate, isOpen: true, nextOpen: next?.open.date ?? far, nextClose: session.close.date)
        }
        let next = hours.nextSession(openingAtOrAfter: now)
        return SimWire.Clock(timestamp: nowDate, isOpen: false, nextOpen: next?.open.date ?? far, nextClose: next?.close.date ?? far)
    }

    static func calendar(_ query: QueryValues, hours: TradingHours) throws -> [SimWire.CalendarDay] {
        func day(_ name: String) throws -> CivilDate? {
            guard let text = query[name] else { return nil }
            guard let date = CivilDate(String(text.prefix(10))) else {
                throw AlpacaAPIError.badParameter("invalid \(name): use YYYY-MM-DD")
            }
            return date
        }
        let start = try day("start") ?? hours.calendar.firstDay
        let end = try day("end") ?? hours.calendar.lastDay
        return hours.calendar.sessions(from: start, through: end).map { session in
            let early = session.isEarlyClose
            return SimWire.CalendarDay(date: session.date.text, open: "09:30", close: early ? "13:00" : "16:00",
                                     sessionOpen: "0400", sessionClose: early ? "1700" : "2000")
        }
    }
}

/// Reads and checks a POST /v2/orders body, with Alpaca's messages where they are known.
enum OrderRequestParser {
    /// A body's fields as Alpaca reads them: a body that is not a JSON object is a 400 (40010000), and a field
    /// sent as null counts as left out. Returns the reader of one field.
    private static func fields(_ data: Data) throws -> (String) -> Any? {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw AlpacaAPIError(.badRequest, code: 40010000, "request body format is invalid")
        }
        return { key in
            guard let value = object[key], !(value is NSNull) else { return nil }
            return value
        }
    }

    static func parse(_ data: Data) throws -> OrderSubmission {
        let value = try fields(data)
        guard let symbol = value("symbol") as? String, !symbol.isEmpty else {
            throw AlpacaAPIError.unprocessable("symbol is required")
        }
        let qty = value("qty"), notionalValue = value("notional")
        if qty != nil, notionalValue != nil { throw AlpacaAPIError.unprocessable("only one of qty or notional is accepted") }
        var quantity: Decimal = 0, notional: Decimal?
        if let notionalValue {
            let amount = try number(notionalValue, name: "notional")
            guard amount >= 1 else { throw AlpacaAPIError.unprocessable("notional must be at least 1") }
            guard Money.rounded(amount, scale: 2) == amount else {
                throw AlpacaAPIError.unprocessable("notional must be in whole cents")
            }
            guard amount <= 1_000_000_000 else { throw AlpacaAPIError.unprocessable("notional is too large") }
            notional = amount
        } else {
            guard let qty else { throw AlpacaAPIError.unprocessable("qty or notional is required") }
            quantity = try Self.quantity(qty)
        }
        guard let sideText = value("side") as? String else { throw AlpacaAPIError.unprocessable("side is required") }
        guard let side = OrderSide(rawValue: sideText) else {
            throw AlpacaAPIError.unprocessable("invalid side \"\(sideText)\": use buy or sell")
        }
        guard let type = (value("type") ?? value("order_type")) as? String else {
            throw AlpacaAPIError.unprocessable("type is required")
        }
        guard let orderType = SimOrderType(rawValue: type) else {
            if ["stop", "stop_limit", "trailing_stop"].contains(type) {
                throw AlpacaAPIError.unprocessable("order type \"\(type)\" is not supported by this simulator (market and limit orders)")
            }
            throw AlpacaAPIError.unprocessable("invalid order type \"\(type)\"")
        }
        var limitPrice: Decimal?
        if orderType == .limit {
            guard let raw = value("limit_price") else { throw AlpacaAPIError.unprocessable("limit_price is required") }
            limitPrice = try price(raw, name: "limit_price")
        }
        if value("stop_price") != nil { throw AlpacaAPIError.unprocessable("stop_price is only for stop orders, which this simulator does not take") }
        guard let timeInForceText = value("time_in_force") as? String else {
            throw AlpacaAPIError.unprocessable("time_in_force is required")
        }
        guard let timeInForce = SimTimeInForce(rawValue: timeInForceText) else {
            if ["opg", "cls", "fok"].contains(timeInForceText) {
                throw AlpacaAPIError.unprocessable("time_in_force \"\(timeInForceText)\" is not supported by this simulator (day, gtc, ioc)")
            }
            throw AlpacaAPIError.unprocessable("invalid time_in_force \"\(timeInForceText)\"")
        }
        if let extended = value("extended_hours") as? Bool, extended {
            throw AlpacaAPIError.unprocessable("extended hours order must be DAY limit orders")
        }
        if let orderClass = value("order_class") as? String, !["", "simple"].contains(orderClass) {
            throw AlpacaAPIError.unprocessable("order class \"\(orderClass)\" is not supported by this simulator")
        }
        var clientOrderID: String?
        if let raw = value("client_order_id") {
            guard let text = raw as? String else { throw AlpacaAPIError.unprocessable("client_order_id must be a string") }
            guard text.count <= 48 else {
                throw AlpacaAPIError.unprocessable("client_order_id must be no more than 48 characters")
            }
            clientOrderID = text.isEmpty ? nil : text
        }
        return OrderSubmission(symbol: symbol, qty: quantity, side: side, clientOrderID: clientOrderID, type: orderType,
                               timeInForce: timeInForce, limitPrice: limitPrice, notional: notional)
    }

    /// A decimal from a JSON string or number.
    static func number(_ raw: Any, name: String) throws -> Decimal {
        if let text = raw as? String, let parsed = Money.parse(text) { return parsed }
        if let number = raw as? NSNumber { return decimal(number) }
        throw AlpacaAPIError.unprocessable("\(name) must be a number")
    }

    /// A JSON number as the client wrote it: `190.37` stays 190.37 (a binary double's own expansion would
    /// not be whole cents). Swift's description of a double is the shortest text that reads back as it.
    static func decimal(_ number: NSNumber) -> Decimal {
        let double = number.doubleValue
        if double.isFinite, double.rounded() != double, let parsed = Decimal(string: "\(double)", locale: Locale(identifier: "en_US_POSIX")) {
            return parsed
        }
        return number.decimalValue
    }

    /// A share quantity: positive, at most nine decimals (whole shares unless the asset is fractionable,
    /// which the exchange checks).
    static func quantity(_ raw: Any) throws -> Decimal {
        let quantity = try number(raw, name: "qty")
        guard quantity > 0 else { throw AlpacaAPIError.unprocessable("qty must be > 0") }
        guard Money.rounded(quantity, scale: 9) == quantity else {
            throw AlpacaAPIError.unprocessable("qty must have at most 9 decimal places")
        }
        guard quantity <= 10_000_000 else { throw AlpacaAPIError.unprocessable("qty is too large") }
        return quantity
    }

    /// A PATCH /v2/orders/{id} body: `qty` (whole shares), `limit_price`, `time_in_force`, `client_order_id`;
    /// at least one. `stop_price` and `trail` are refused (no stop orders here).
    static func parseReplacement(_ data: Data) throws -> OrderReplacement {
        let value = try fields(data)
        var change = OrderReplacement()
        if let raw = value("qty") {
            let quantity = try quantity(raw)
            // Alpaca's answer to a fractional qty in a replace (error_422_qty_must_be_integer.json).
            guard Money.rounded(quantity, scale: 0) == quantity else { throw AlpacaAPIError.unprocessable("qty must be integer") }
            change.qty = quantity
        }
        if let raw = value("limit_price") { change.limitPrice = try price(raw, name: "limit_price") }
        if value("stop_price") != nil || value("trail") != nil {
            throw AlpacaAPIError.unprocessable("stop_price and trail are only for stop orders, which this simulator does not take")
        }
        if let raw = value("time_in_force") {
            guard let text = raw as? String, let timeInForce = SimTimeInForce(rawValue: text) else {
                throw AlpacaAPIError.unprocessable("invalid time_in_force \"\(raw)\": this simulator takes day, gtc, ioc")
            }
            change.timeInForce = timeInForce
        }
        if let raw = value("client_order_id") {
            guard let text = raw as? String, text.count <= 48 else {
                throw AlpacaAPIError.unprocessable("client_order_id must be a string of no more than 48 characters")
            }
            change.clientOrderID = text.isEmpty ? nil : text
        }
        guard change != OrderReplacement() else {
            throw AlpacaAPIError.unprocessable("qty, limit_price, time_in_force or client_order_id is required")
        }
        return change
    }

    /// A limit price: a positive number (string or JSON number) in whole cents from $1, at most four decimals below.
    static func price(_ raw: Any, name: String) throws -> Decimal {
        let parsed: Decimal?
        if let text = raw as? String { parsed = Money.parse(text) } else { parsed = (raw as? NSNumber).map(decimal) }
        guard let price = parsed, price > 0 else { throw AlpacaAPIError.unprocessable("\(name) must be a number > 0") }
        let places = price >= 1 ? 2 : 4
        guard Money.rounded(price, scale: places) == price else {
            throw AlpacaAPIError(
                .unprocessableContent, code: 42210000,
                "invalid \(name) \(price.plainString). sub-penny increment does not fulfill minimum pricing criteria")
        }
        return price
    }
}
