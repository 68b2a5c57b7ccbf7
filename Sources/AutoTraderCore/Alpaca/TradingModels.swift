import Foundation

/// GET /v2/account: the broker account's money and whether it may trade.
public struct AlpacaAccount: Decodable, Sendable, Equatable {
    public var id: String
    public var accountNumber: String
    public var status: String
    public var currency: String
    public var cash: Decimal
    public var buyingPower: Decimal
    public var equity: Decimal
    public var portfolioValue: Decimal?
    public var lastEquity: Decimal?
    public var longMarketValue: Decimal?
    public var shortMarketValue: Decimal?
    public var multiplier: Decimal?
    public var daytradeCount: Int?
    public var patternDayTrader: Bool
    public var tradingBlocked: Bool
    public var transfersBlocked: Bool
    public var accountBlocked: Bool
    public var tradeSuspendedByUser: Bool
    public var shortingEnabled: Bool
    public var createdAt: Date?

    /// Orders are accepted only by an active account that is not blocked.
    public var canTrade: Bool { status == "ACTIVE" && !tradingBlocked && !accountBlocked && !tradeSuspendedByUser }

    enum CodingKeys: String, CodingKey {
        case id, accountNumber = "account_number", status, currency, cash, buyingPower = "buying_power", equity
        case portfolioValue = "portfolio_value", lastEquity = "last_equity", longMarketValue = "long_market_value"
        case shortMarketValue = "short_market_value", multiplier, daytradeCount = "daytrade_count"
        case patternDayTrader = "pattern_day_trader", tradingBlocked = "trading_blocked"
        case transfersBlocked = "transfers_blocked", accountBlocked = "account_blocked"
        case tradeSuspendedByUser = "trade_suspended_by_user", shortingEnabled = "shorting_enabled", createdAt = "created_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        accountNumber = try c.decodeIfPresent(String.self, forKey: .accountNumber) ?? ""
        status = try c.decode(String.self, forKey: .status)
        currency = try c.decodeIfPresent(String.self, forKey: .currency) ?? "USD"
        cash = try c.decodeDecimal(.cash)
        buyingPower = try c.decodeDecimal(.buyingPower)
        equity = try c.decodeDecimal(.equity)
        portfolioValue = try c.decodeDecimalIfPresent(.portfolioValue)
        lastEquity = try c.decodeDecimalIfPresent(.lastEquity)
        longMarketValue = try c.decodeDecimalIfPresent(.longMarketValue)
        shortMarketValue = try c.decodeDecimalIfPresent(.shortMarketValue)
        multiplier = try c.decodeDecimalIfPresent(.multiplier)
        daytradeCount = (try? c.decodeIfPresent(Int.self, forKey: .daytradeCount))
            ?? (try? c.decodeIfPresent(String.self, forKey: .daytradeCount)).flatMap { $0.flatMap(Int.init) }
        patternDayTrader = try c.decodeIfPresent(Bool.self, forKey: .patternDayTrader) ?? false
        tradingBlocked = try c.decodeIfPresent(Bool.self, forKey: .tradingBlocked) ?? false
        transfersBlocked = try c.decodeIfPresent(Bool.self, forKey: .transfersBlocked) ?? false
        accountBlocked = try c.decodeIfPresent(Bool.self, forKey: .accountBlocked) ?? false
        tradeSuspendedByUser = try c.decodeIfPresent(Bool.self, forKey: .tradeSuspendedByUser) ?? false
        shortingEnabled = try c.decodeIfPresent(Bool.self, forKey: .shortingEnabled) ?? false
        createdAt = try c.decodeDateIfPresent(.createdAt)
    }
}

/// GET /v2/assets/{symbol}: whether a symbol exists and can be traded.
public struct AlpacaAsset: Decodable, Sendable, Equatable {
    public var id: String
    public var assetClass: String
    public var exchange: String
    public var symbol: String
    public var name: String?
    public var status: String
    public var tradable: Bool
    public var marginable: Bool
    public var shortable: Bool
    public var easyToBorrow: Bool
    public var fractionable: Bool
    public var attributes: [String]?

    /// What AutoTrader needs of a ticker: an active, tradable US equity.
    public var isTradableEquity: Bool { status == "active" && tradable && assetClass == "us_equity" }

    enum CodingKeys: String, CodingKey {
        case id, assetClass = "class", exchange, symbol, name, status, tradable, marginable, shortable
        case easyToBorrow = "easy_to_borrow", fractionable, attributes
    }
}

/// Order side as on the wire.
public enum OrderSide: String, Codable, Sendable {
    case buy, sell
}

/// An order status as on the wire; unknown future statuses are kept, not rejected.
public struct OrderStatus: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public static let new = OrderStatus("new")
    public static let accepted = OrderStatus("accepted")
    public static let pendingNew = OrderStatus("pending_new")
    public static let partiallyFilled = OrderStatus("partially_filled")
    public static let filled = OrderStatus("filled")
    public static let doneForDay = OrderStatus("done_for_day")
    public static let canceled = OrderStatus("canceled")
    public static let expired = OrderStatus("expired")
    public static let replaced = OrderStatus("replaced")
    public static let pendingCancel = OrderStatus("pending_cancel")
    public static let rejected = OrderStatus("rejected")

    /// No further fill can happen.
    public var isTerminal: Bool { [Self.filled, .canceled, .expired, .replaced, .rejected].contains(self) }

    /// Counts as "open" for GET /v2/orders?status=open.
    public var isOpen: Bool { !isTerminal }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// An order as Alpaca returns it (POST/GET /v2/orders…). Decoded only: the simulator writes its own `SimWire.Order`.
public struct AlpacaOrder: Decodable, Sendable, Equatable {
    public var id: String
    public var clientOrderId: String
    public var createdAt: Date
    public var updatedAt: Date?
    public var submittedAt: Date?
    public var filledAt: Date?
    public var expiredAt: Date?
    public var canceledAt: Date?
    public var failedAt: Date?
    public var assetId: String
    public var symbol: String
    public var assetClass: String
    public var qty: Decimal?
    public var notional: Decimal?
    public var filledQty: Decimal
    public var filledAvgPrice: Decimal?
    public var orderClass: String
    public var type: String
    public var side: OrderSide
    public var timeInForce: String
    public var limitPrice: Decimal?
    public var stopPrice: Decimal?
    public var status: OrderStatus
    public var extendedHours: Bool

    enum CodingKeys: String, CodingKey {
        case id, clientOrderId = "client_order_id", createdAt = "created_at", updatedAt = "updated_at"
        case submittedAt = "submitted_at", filledAt = "filled_at", expiredAt = "expired_at", canceledAt = "canceled_at"
        case failedAt = "failed_at", replacedAt = "replaced_at", replacedBy = "replaced_by", replaces
        case assetId = "asset_id", symbol, assetClass = "asset_class", qty, notional, filledQty = "filled_qty"
        case filledAvgPrice = "filled_avg_price", orderClass = "order_class", orderType = "order_type", type, side
        case timeInForce = "time_in_force", limitPrice = "limit_price", stopPrice = "stop_price", status
        case extendedHours = "extended_hours", legs, trailPercent = "trail_percent", trailPrice = "trail_price", hwm
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        clientOrderId = try c.decode(String.self, forKey: .clientOrderId)
        createdAt = try c.decodeDate(.createdAt)
        updatedAt = try c.decodeDateIfPresent(.updatedAt)
        submittedAt = try c.decodeDateIfPresent(.submittedAt)
        filledAt = try c.decodeDateIfPresent(.filledAt)
        expiredAt = try c.decodeDateIfPresent(.expiredAt)
        canceledAt = try c.decodeDateIfPresent(.canceledAt)
        failedAt = try c.decodeDateIfPresent(.failedAt)
        assetId = try c.decodeIfPresent(String.self, forKey: .assetId) ?? ""
        symbol = try c.decode(String.self, forKey: .symbol)
        assetClass = try c.decodeIfPresent(String.self, forKey: .assetClass) ?? "us_equity"
        qty = try c.decodeDecimalIfPresent(.qty)
        notional = try c.decodeDecimalIfPresent(.notional)
        filledQty = try c.decodeDecimalIfPresent(.filledQty) ?? 0
        filledAvgPrice = try c.decodeDecimalIfPresent(.filledAvgPrice)
        orderClass = try c.decodeIfPresent(String.self, forKey: .orderClass) ?? ""
        type = try c.decodeIfPresent(String.self, forKey: .type)
            ?? c.decodeIfPresent(String.self, forKey: .orderType) ?? "market"
        side = try c.decode(OrderSide.self, forKey: .side)
        timeInForce = try c.decodeIfPresent(String.self, forKey: .timeInForce) ?? "day"
        limitPrice = try c.decodeDecimalIfPresent(.limitPrice)
        stopPrice = try c.decodeDecimalIfPresent(.stopPrice)
        status = try c.decode(OrderStatus.self, forKey: .status)
        extendedHours = try c.decodeIfPresent(Bool.self, forKey: .extendedHours) ?? false
    }
}

/// POST /v2/orders: a whole-share day order — a market order, or a limit order when `limitPrice` is set
/// (a buy that can never cost more than its limit).
public struct OrderRequest: Codable, Sendable, Equatable {
    public var symbol: String
    public var qty: Int
    public var side: OrderSide
    /// Unique per account (≤ 48 characters); resubmitting with the same id can never make a second order.
    public var clientOrderId: String
    public var limitPrice: Decimal?

    public init(symbol: String, qty: Int, side: OrderSide, clientOrderId: String, limitPrice: Decimal? = nil) {
        self.symbol = symbol
        self.qty = qty
        self.side = side
        self.clientOrderId = clientOrderId
        self.limitPrice = limitPrice
    }

    enum CodingKeys: String, CodingKey {
        case symbol, qty, side, type, timeInForce = "time_in_force", clientOrderId = "client_order_id", limitPrice = "limit_price"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        symbol = try c.decode(String.self, forKey: .symbol)
        let quantity = try c.decodeDecimal(.qty)
        guard quantity > 0, quantity == Decimal(NSDecimalNumber(decimal: quantity).intValue) else {
            throw DecodingError.dataCorruptedError(forKey: .qty, in: c, debugDescription: "qty must be a whole number above 0")
        }
        qty = NSDecimalNumber(decimal: quantity).intValue
        side = try c.decode(OrderSide.self, forKey: .side)
        clientOrderId = try c.decodeIfPresent(String.self, forKey: .clientOrderId) ?? UUID().uuidString.lowercased()
        limitPrice = try c.decodeDecimalIfPresent(.limitPrice)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(symbol, forKey: .symbol)
        try c.encode(String(qty), forKey: .qty)
        try c.encode(side, forKey: .side)
        try c.encode(limitPrice == nil ? "market" : "limit", forKey: .type)
        try c.encode("day", forKey: .timeInForce)
        if let limitPrice { try c.encode(limitPrice.plainString, forKey: .limitPrice) }
        try c.encode(clientOrderId, forKey: .clientOrderId)
    }
}

/// GET /v2/positions: what the broker account holds of one symbol.
public struct AlpacaPosition: Decodable, Sendable, Equatable {
    public var assetId: String
    public var symbol: String
    public var exchange: String
    public var assetClass: String
    public var qty: Decimal
    public var side: String
    public var avgEntryPrice: Decimal
    public var marketValue: Decimal?
    public var costBasis: Decimal?
    public var unrealizedPl: Decimal?
    public var currentPrice: Decimal?
    public var lastdayPrice: Decimal?

    enum CodingKeys: String, CodingKey {
        case assetId = "asset_id", symbol, exchange, assetClass = "asset_class", qty, qtyAvailable = "qty_available", side
        case avgEntryPrice = "avg_entry_price", marketValue = "market_value", costBasis = "cost_basis"
        case unrealizedPl = "unrealized_pl", currentPrice = "current_price", lastdayPrice = "lastday_price"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        assetId = try c.decodeIfPresent(String.self, forKey: .assetId) ?? ""
        symbol = try c.decode(String.self, forKey: .symbol)
        exchange = try c.decodeIfPresent(String.self, forKey: .exchange) ?? ""
        assetClass = try c.decodeIfPresent(String.self, forKey: .assetClass) ?? "us_equity"
        qty = try c.decodeDecimal(.qty)
        side = try c.decodeIfPresent(String.self, forKey: .side) ?? "long"
        avgEntryPrice = try c.decodeDecimal(.avgEntryPrice)
        marketValue = try c.decodeDecimalIfPresent(.marketValue)
        costBasis = try c.decodeDecimalIfPresent(.costBasis)
        unrealizedPl = try c.decodeDecimalIfPresent(.unrealizedPl)
        currentPrice = try c.decodeDecimalIfPresent(.currentPrice)
        lastdayPrice = try c.decodeDecimalIfPresent(.lastdayPrice)
    }
}

/// GET /v2/clock: the broker's time and whether its market is open — the clock the services follow.
public struct AlpacaClock: Decodable, Sendable, Equatable {
    public var timestamp: Date
    public var isOpen: Bool
    public var nextOpen: Date
    public var nextClose: Date

    enum CodingKeys: String, CodingKey {
        case timestamp, isOpen = "is_open", nextOpen = "next_open", nextClose = "next_close"
    }
}

extension AlpacaClock {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        timestamp = try c.decodeDate(.timestamp)
        isOpen = try c.decode(Bool.self, forKey: .isOpen)
        nextOpen = try c.decodeDate(.nextOpen)
        nextClose = try c.decodeDate(.nextClose)
    }
}

/// One element of GET /v2/calendar.
public struct AlpacaCalendarDay: Decodable, Sendable, Equatable {
    public var date: String
    public var open: String
    public var close: String
    public var sessionOpen: String?
    public var sessionClose: String?

    enum CodingKeys: String, CodingKey {
        case date, open, close, sessionOpen = "session_open", sessionClose = "session_close"
    }
}

/// Alpaca's error body: `{"code": 40410000, "message": "order not found"}` (extra fields ignored).
public struct AlpacaErrorBody: Decodable, Sendable, Equatable {
    public var code: Int?
    public var message: String
}

/// One entry of a 207 multi-status answer (cancel all orders, close all positions).
public struct AlpacaMultiStatusEntry: Decodable, Sendable {
    public enum Body: Sendable {
        case order(AlpacaOrder)
        case error(AlpacaErrorBody)
    }

    public var id: String?
    public var symbol: String?
    public var status: Int
    public var body: Body?

    enum CodingKeys: String, CodingKey { case id, symbol, status, body }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        symbol = try c.decodeIfPresent(String.self, forKey: .symbol)
        status = try c.decode(Int.self, forKey: .status)
        if let order = try? c.decodeIfPresent(AlpacaOrder.self, forKey: .body) {
            body = .order(order)
        } else if let error = try c.decodeIfPresent(AlpacaErrorBody.self, forKey: .body) {
            body = .error(error)
        }
    }
}

/// A trade_updates event (the orders stream, or the Broker API's SSE feed).
public struct AlpacaTradeUpdate: Decodable, Sendable {
    public var event: String
    public var executionId: String?
    public var order: AlpacaOrder
    public var price: Decimal?
    public var qty: Decimal?
    public var positionQty: Decimal?
    public var timestamp: Date?

    enum CodingKeys: String, CodingKey {
        case event, executionId = "execution_id", order, price, qty, positionQty = "position_qty", timestamp, at
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        event = try c.decode(String.self, forKey: .event)
        executionId = try c.decodeIfPresent(String.self, forKey: .executionId)
        order = try c.decode(AlpacaOrder.self, forKey: .order)
        price = try c.decodeDecimalIfPresent(.price)
        qty = try c.decodeDecimalIfPresent(.qty)
        positionQty = try c.decodeDecimalIfPresent(.positionQty)
        timestamp = try c.decodeDateIfPresent(.timestamp) ?? c.decodeDateIfPresent(.at)
    }
}
