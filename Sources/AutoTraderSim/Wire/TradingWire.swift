import AutoTraderCore
import Foundation

// The trading API's answers: account, assets, orders, positions, clock, calendar.
// Shapes from ../shared/alpaca-fixtures: account.json, asset*.json, order_*.json, positions.json, clock.json,
// calendar_day*.json, cancel_all_orders_207.json (and ALPACA_PROTOCOL.md §4–5 for the fields noted there).

extension SimWire {
    /// GET /v2/account. Every amount is a string; `daytrade_count` and the options levels are numbers
    /// (Alpaca's live answers write the levels as numbers; alpaca-py's mock in account.json has strings).
    public struct Account: Encodable, Sendable, Equatable {
        public var id: String
        public var accountNumber: String
        public var status: String
        public var cryptoStatus: String
        public var currency: String
        public var cash: String
        public var buyingPower: String
        public var regtBuyingPower: String
        public var daytradingBuyingPower: String
        public var effectiveBuyingPower: String
        public var nonMarginableBuyingPower: String
        public var optionsBuyingPower: String
        public var bodDtbp: String
        public var accruedFees: String
        public var portfolioValue: String
        public var equity: String
        public var lastEquity: String
        public var longMarketValue: String
        public var shortMarketValue: String
        public var positionMarketValue: String
        public var initialMargin: String
        public var maintenanceMargin: String
        public var lastMaintenanceMargin: String
        public var sma: String
        public var multiplier: String
        public var daytradeCount: Int
        public var optionsApprovedLevel: Int
        public var optionsTradingLevel: Int
        /// Flagged by the day-trade rule of `Exchange.account()` (margin accounts only).
        public var patternDayTrader: Bool
        /// A margin account may sell short, a cash account may not.
        public var shortingEnabled: Bool
        /// The four blocks are always false here (the simulator never blocks its account); Alpaca always sends them.
        public var tradingBlocked: Bool
        public var transfersBlocked: Bool
        public var accountBlocked: Bool
        public var tradeSuspendedByUser: Bool
        public var createdAt: String

        enum CodingKeys: String, CodingKey {
            case id, accountNumber = "account_number", status, cryptoStatus = "crypto_status", currency, cash
            case buyingPower = "buying_power", regtBuyingPower = "regt_buying_power"
            case daytradingBuyingPower = "daytrading_buying_power", effectiveBuyingPower = "effective_buying_power"
            case nonMarginableBuyingPower = "non_marginable_buying_power", optionsBuyingPower = "options_buying_power"
            case bodDtbp = "bod_dtbp", accruedFees = "accrued_fees", portfolioValue = "portfolio_value", equity
            case lastEquity = "last_equity", longMarketValue = "long_market_value", shortMarketValue = "short_market_value"
            case positionMarketValue = "position_market_value", initialMargin = "initial_margin"
            case maintenanceMargin = "maintenance_margin", lastMaintenanceMargin = "last_maintenance_margin", sma
            case multiplier, daytradeCount = "daytrade_count", optionsApprovedLevel = "options_approved_level"
            case optionsTradingLevel = "options_trading_level", patternDayTrader = "pattern_day_trader"
            case tradingBlocked = "trading_blocked", transfersBlocked = "transfers_blocked"
            case accountBlocked = "account_blocked", tradeSuspendedByUser = "trade_suspended_by_user"
            case shortingEnabled = "shorting_enabled", createdAt = "created_at"
        }
    }

    /// GET /v2/assets/{symbol} and each element of GET /v2/assets. The asset class's key is `class`.
    public struct Asset: Encodable, Sendable, Equatable {
        public var id: String
        public var assetClass: String
        public var exchange: String
        public var symbol: String
        public var name: String
        public var status: String
        public var tradable: Bool
        public var fractionable: Bool
        /// Follow from `tradable` and thinness (see `init`): marginable when tradable, shortable and easy to
        /// borrow when tradable and not thin.
        public var marginable: Bool
        public var shortable: Bool
        public var easyToBorrow: Bool
        /// A whole percent (ALPACA_PROTOCOL.md §4).
        public var maintenanceMarginRequirement: Int
        public var attributes: [String]

        enum CodingKeys: String, CodingKey {
            case id, assetClass = "class", exchange, symbol, name, status, tradable, marginable, shortable
            case easyToBorrow = "easy_to_borrow", fractionable
            case maintenanceMarginRequirement = "maintenance_margin_requirement", attributes
        }

        init(_ asset: SimAsset) {
            id = asset.id
            assetClass = "us_equity"
            exchange = asset.exchange
            symbol = asset.symbol
            name = asset.name
            status = asset.isActive ? "active" : "inactive"
            tradable = asset.isTradable
            marginable = asset.isTradable
            shortable = asset.isTradable && !asset.isThin
            easyToBorrow = asset.isTradable && !asset.isThin
            fractionable = asset.isFractionable
            maintenanceMarginRequirement = asset.isThin ? 100 : 30
            attributes = []
        }
    }

    /// An order (POST /v2/orders, GET /v2/orders[/{id}], by client order id, /sim/orders). Every key Alpaca
    /// sends is written, null when it has no value; quantities and prices are strings; `order_type`
    /// repeats `type` (deprecated, still sent).
    public struct Order: Encodable, Sendable, Equatable {
        public var id: String
        public var clientOrderID: String
        public var createdAt: String
        public var updatedAt: String?
        public var submittedAt: String?
        public var filledAt: String?
        public var expiredAt: String?
        public var canceledAt: String?
        public var failedAt: String?
        public var replacedAt: String?
        public var replacedBy: String?
        public var replaces: String?
        public var assetID: String
        public var symbol: String
        public var assetClass: String
        public var notional: String?
        public var qty: String?
        public var filledQty: String
        public var filledAvgPrice: String?
        /// `""` for a simple order, as Alpaca writes it.
        public var orderClass: String
        public var type: String
        public var side: String
        public var timeInForce: String
        public var limitPrice: String?
        public var stopPrice: String?
        public var status: String
        public var extendedHours: Bool

        init(_ order: SimOrder) {
            id = order.id
            clientOrderID = order.clientOrderID
            createdAt = SimWire.time(order.createdAt)
            updatedAt = SimWire.time(order.updatedAt)
            submittedAt = SimWire.time(order.submittedAt)
            filledAt = SimWire.time(order.filledAt)
            expiredAt = SimWire.time(order.expiredAt)
            canceledAt = SimWire.time(order.canceledAt)
            failedAt = SimWire.time(order.failedAt)
            replacedAt = SimWire.time(order.replacedAt)
            replacedBy = order.replacedBy
            replaces = order.replaces
            assetID = order.assetID
            symbol = order.symbol
            assetClass = "us_equity"
            // A notional order has a dollar amount and no qty (Alpaca's order_accepted_market_notional.json);
            // its shares show in filled_qty.
            notional = order.notional.map(SimWire.decimal)
            qty = order.notional == nil ? SimWire.decimal(order.qty) : nil
            filledQty = SimWire.decimal(order.filledQty)
            filledAvgPrice = order.filledAvgPrice.map(SimWire.decimal)
            orderClass = ""
            type = order.type.rawValue
            side = order.side.rawValue
            timeInForce = order.timeInForce.rawValue
            limitPrice = order.limitPrice.map(SimWire.decimal)
            stopPrice = nil
            status = order.status.rawValue
            extendedHours = false
        }

        // Each value is written beside its wire key (the encoding is hand-written anyway, for the nulls), so a
        // key is read where its value is; the client's decoder names the same keys its own way.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: SimWireKey.self)
            try c.encode(id, forKey: "id")
            try c.encode(clientOrderID, forKey: "client_order_id")
            try c.encode(createdAt, forKey: "created_at")
            try c.encodeOrNull(updatedAt, forKey: "updated_at")
            try c.encodeOrNull(submittedAt, forKey: "submitted_at")
            try c.encodeOrNull(filledAt, forKey: "filled_at")
            try c.encodeOrNull(expiredAt, forKey: "expired_at")
            try c.encodeOrNull(canceledAt, forKey: "canceled_at")
            try c.encodeOrNull(failedAt, forKey: "failed_at")
            try c.encodeOrNull(replacedAt, forKey: "replaced_at")
            try c.encodeOrNull(replacedBy, forKey: "replaced_by")
            try c.encodeOrNull(replaces, forKey: "replaces")
            try c.encode(assetID, forKey: "asset_id")
            try c.encode(symbol, forKey: "symbol")
            try c.encode(assetClass, forKey: "asset_class")
            try c.encodeOrNull(notional, forKey: "notional")
            try c.encodeOrNull(qty, forKey: "qty")
            try c.encode(filledQty, forKey: "filled_qty")
            try c.encodeOrNull(filledAvgPrice, forKey: "filled_avg_price")
            try c.encode(orderClass, forKey: "order_class")
            try c.encode(type, forKey: "order_type")
            try c.encode(type, forKey: "type")
            try c.encode(side, forKey: "side")
            try c.encode(timeInForce, forKey: "time_in_force")
            try c.encodeOrNull(limitPrice, forKey: "limit_price")
            try c.encodeOrNull(stopPrice, forKey: "stop_price")
            try c.encode(status, forKey: "status")
            try c.encode(extendedHours, forKey: "extended_hours")
            // Only multi-leg orders read with nested=true have legs; market orders have no trail or high-water mark.
            try c.encodeNil(forKey: "legs")
            try c.encodeNil(forKey: "trail_percent")
            try c.encodeNil(forKey: "trail_price")
            try c.encodeNil(forKey: "hwm")
        }
    }

    /// One entry of DELETE /v2/positions' 207 answer (close_all_positions_207.json): the symbol, the HTTP
    /// status of its closing order, and the order (200) or the error that refused it.
    public struct ClosePositionResult: Encodable, Sendable {
        public var symbol: String
        public var status: Int
        public var order: Order?
        public var error: Error?

        enum CodingKeys: String, CodingKey { case symbol, status, body }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(symbol, forKey: .symbol)
            try c.encode(status, forKey: .status)
            if let order { try c.encode(order, forKey: .body) } else if let error { try c.encode(error, forKey: .body) }
        }
    }

    /// One entry of DELETE /v2/orders' 207 answer: the order and the HTTP status of its cancel.
    public struct CancelResult: Encodable, Sendable, Equatable {
        public var id: String
        public var status: Int
    }

    /// GET /v2/positions (each element) and GET /v2/positions/{symbol}. Every amount and ratio is a string;
    /// `asset_marginable` is a boolean. (No `usd` block: that repeats the values in dollars for accounts in
    /// another currency, and the simulated account is in dollars.)
    public struct Position: Encodable, Sendable, Equatable {
        public var assetID: String
        public var symbol: String
        public var exchange: String
        public var assetClass: String
        public var assetMarginable: Bool
        public var qty: String
        public var qtyAvailable: String
        public var avgEntryPrice: String
        public var side: String
        public var marketValue: String
        public var costBasis: String
        public var unrealizedPl: String
        public var unrealizedPlpc: String
        public var unrealizedIntradayPl: String
        public var unrealizedIntradayPlpc: String
        public var currentPrice: String
        public var lastdayPrice: String
        public var changeToday: String

        enum CodingKeys: String, CodingKey {
            case assetID = "asset_id", symbol, exchange, assetClass = "asset_class", assetMarginable = "asset_marginable"
            case qty, qtyAvailable = "qty_available", avgEntryPrice = "avg_entry_price", side, marketValue = "market_value"
            case costBasis = "cost_basis", unrealizedPl = "unrealized_pl", unrealizedPlpc = "unrealized_plpc"
            case unrealizedIntradayPl = "unrealized_intraday_pl", unrealizedIntradayPlpc = "unrealized_intraday_plpc"
            case currentPrice = "current_price", lastdayPrice = "lastday_price", changeToday = "change_today"
        }
    }

    /// GET /v2/clock, in New York's offset as Alpaca writes it: `timestamp` with a fraction,
    /// `next_open` / `next_close` in whole seconds.
    public struct Clock: Encodable, Sendable, Equatable {
        public var timestamp: String
        public var isOpen: Bool
        public var nextOpen: String
        public var nextClose: String

        enum CodingKeys: String, CodingKey {
            case timestamp, isOpen = "is_open", nextOpen = "next_open", nextClose = "next_close"
        }

        init(timestamp: Date, isOpen: Bool, nextOpen: Date, nextClose: Date) {
            self.timestamp = SimWire.newYorkTime(timestamp)
            self.isOpen = isOpen
            self.nextOpen = SimWire.newYorkWholeSeconds(nextOpen)
            self.nextClose = SimWire.newYorkWholeSeconds(nextClose)
        }
    }

    /// GET /sim/clock (not Alpaca's): the clock as GET /v2/clock writes it, plus the speed, the simulated
    /// epoch seconds and the seed.
    public struct InspectionClock: Encodable, Sendable {
        public var timestamp: String
        public var isOpen: Bool
        public var nextOpen: String
        public var nextClose: String
        public var speed: Double
        public var epoch: Double
        public var seed: String

        enum CodingKeys: String, CodingKey {
            case timestamp, isOpen = "is_open", nextOpen = "next_open", nextClose = "next_close", speed, epoch, seed
        }

        init(_ clock: Clock, speed: Double, epoch: Double, seed: String) {
            timestamp = clock.timestamp
            isOpen = clock.isOpen
            nextOpen = clock.nextOpen
            nextClose = clock.nextClose
            self.speed = speed
            self.epoch = epoch
            self.seed = seed
        }
    }

    /// One element of GET /v2/calendar: `date` "2018-01-03", `open` "09:30", `close` "16:00", and the
    /// extended session as "HHMM" (`session_open` "0400", `session_close` "2000").
    public struct CalendarDay: Encodable, Sendable, Equatable {
        public var date: String
        public var open: String
        public var close: String
        public var sessionOpen: String
        public var sessionClose: String

        enum CodingKeys: String, CodingKey {
            case date, open, close, sessionOpen = "session_open", sessionClose = "session_close"
        }
    }
}
