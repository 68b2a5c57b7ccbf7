import AutoTraderCore
import Foundation
import Logging

/// One execution, as GET /sim/fills lists it.
public struct SimFill: Encodable, Sendable, Equatable {
    public var orderID: String
    public var clientOrderID: String
    public var symbol: String
    public var side: OrderSide
    /// Shares: whole, or up to nine decimals for a fractional or notional order.
    public var qty: Decimal
    public var price: Decimal
    public var time: Date

    enum CodingKeys: String, CodingKey {
        case orderID = "order_id", clientOrderID = "client_order_id", symbol, side, qty, price, time
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(orderID, forKey: .orderID)
        try c.encode(clientOrderID, forKey: .clientOrderID)
        try c.encode(symbol, forKey: .symbol)
        try c.encode(side.rawValue, forKey: .side)
        try c.encode(qty.plainString, forKey: .qty)
        try c.encode(price.plainString, forKey: .price)
        try c.encode(RFC3339.format(time), forKey: .time)
    }
}

/// The order types the simulator matches (Alpaca's stop, stop-limit and trailing-stop are refused).
public enum SimOrderType: String, Sendable { case market, limit }

/// The times in force the simulator honours: `day` ends with the session, `gtc` stays until filled or
/// canceled, `ioc` gets the first bar it may fill on and is canceled if that bar doesn't reach its limit.
public enum SimTimeInForce: String, Sendable { case day, gtc, ioc }

/// A POST /v2/orders body that passed validation: a market or limit order of whole shares, or a market
/// day order of a fractional quantity or a dollar amount (`notional`) of a fractionable asset.
public struct OrderSubmission: Sendable, Equatable {
    public var symbol: String
    /// Shares (ignored when `notional` is set).
    public var qty: Decimal
    /// A dollar amount to buy or sell instead of a quantity.
    public var notional: Decimal?
    public var side: OrderSide
    /// Nil when the client sent none (one is generated, as Alpaca does).
    public var clientOrderID: String?
    public var type: SimOrderType
    public var timeInForce: SimTimeInForce
    /// Set exactly when `type` is `.limit`.
    public var limitPrice: Decimal?

    public init(
        symbol: String, qty: Decimal, side: OrderSide, clientOrderID: String?, type: SimOrderType = .market,
        timeInForce: SimTimeInForce = .day, limitPrice: Decimal? = nil, notional: Decimal? = nil
    ) {
        self.symbol = symbol
        self.qty = qty
        self.notional = notional
        self.side = side
        self.clientOrderID = clientOrderID
        self.type = type
        self.timeInForce = timeInForce
        self.limitPrice = limitPrice
    }
}

/// A PATCH /v2/orders/{id} body that passed validation: what changes (nil: as before).
public struct OrderReplacement: Sendable, Equatable {
    public var qty: Decimal?
    public var limitPrice: Decimal?
    public var timeInForce: SimTimeInForce?
    public var clientOrderID: String?

    public init(qty: Decimal? = nil, limitPrice: Decimal? = nil, timeInForce: SimTimeInForce? = nil, clientOrderID: String? = nil) {
        self.qty = qty
        self.limitPrice = limitPrice
        self.timeInForce = timeInForce
        self.clientOrderID = clientOrderID
    }
}

/// An order as the book keeps it (`SimWire.Order` is how it goes on the wire): a whole-share market or
/// limit order of a US equity.
public struct SimOrder: Sendable, Equatable {
    public var id: String
    public var clientOrderID: String
    public var createdAt: Date
    public var updatedAt: Date
    public var submittedAt: Date
    public var filledAt: Date?
    public var expiredAt: Date?
    public var canceledAt: Date?
    public var failedAt: Date?
    public var assetID: String
    public var symbol: String
    /// Shares ordered; for a notional order the shares it bought or sold once filled (0 before).
    public var qty: Decimal
    public var filledQty: Decimal
    public var filledAvgPrice: Decimal?
    public var side: OrderSide
    public var status: OrderStatus
    public var type: SimOrderType = .market
    public var timeInForce: SimTimeInForce = .day
    public var limitPrice: Decimal?
    /// A dollar amount (a notional order); nil for an order of shares.
    public var notional: Decimal?
    /// Set on an order that a PATCH replaced, and on the order that replaced it.
    public var replacedAt: Date?
    public var replacedBy: String?
    public var replaces: String?

    /// Whether the quantity is not whole shares (a fractional or notional order).
    var isFractional: Bool { notional != nil || qty != Money.rounded(qty, scale: 0) }
}

/// GET /v2/orders filters.
public struct OrderFilter: Sendable {
    public enum Status: String, Sendable { case open, closed, all }
    public var status: Status = .open
    public var limit = 50
    /// Exclusive bounds on submission time.
    public var after: Date?
    public var until: Date?
    public var ascending = false
    public var symbols: Set<String>?
    public var side: OrderSide?

    public init() {}
}

/// The paper broker: orders, fills, cash and positions. An actor, so orders are handled one at a time, as a book would.
///
/// Every entry point first brings the book up to the simulated now (fills that are due happen before
/// the answer), so what a client reads never depends on how recently the matching loop ran.
public actor Exchange {
    /// A position: `quantity` below zero is a short, and `cost` is then what the shares were sold for.
    struct Holding {
        var quantity: Decimal
        var cost: Decimal
    }

    /// What the book needs to know about an order that can still change.
    struct Working {
        /// Simulated epoch seconds from which it may fill (submission, or the next open when sent while closed).
        var eligibleFrom: Double
        /// When a day order that is still open is canceled/expired; nil past the calendar's end.
        var sessionClose: Timestamp?
        var fate: FaultInjector.OrderFate
        /// `--fill-price last-close` during a session: the price fixed at submission.
        var lastClosePrice: Decimal?
        /// Price used to hold buying power for a buy.
        var reservePrice: Decimal
        /// The next bar the order may fill on, once found (bars are deterministic, so it never changes).
        var nextBar: SimBar?
        /// Where to look for the bar after `nextBar` (a limit order that a bar didn't reach waits for later ones).
        var searchFrom: Timestamp?
        /// An IOC order whose first bar didn't reach its limit: canceled.
        var missedImmediately = false
    }

    private let configuration: SimulatorConfiguration
    private let clock: SimClock
    private let generator: MarketDataGenerator
    private let hours: TradingHours
    private let faults: FaultInjector
    private let stats: SimStats
    private let logger: Logger

    private var orders: [SimOrder] = []
    private var indexByID: [String: Int] = [:]
    private var indexByClientID: [String: Int] = [:]
    private var working: [String: Working] = [:]
    /// Ids of open orders in submission order (so processing is deterministic).
    private var workingOrder: [String] = []
    private var cash: Decimal
    private var holdings: [String: Holding] = [:]
    private var fills: [SimFill] = []
    private var lastEquity: Decimal
    private var lastMaintenanceMargin: Decimal = 0
    private var lastEquityDate: CivilDate?
    /// Day trades (a position opened and closed, or partly closed, on the same day) by New York date.
    private var dayTrades: [CivilDate: Int] = [:]
    /// Shares of each symbol opened today (long > 0, short < 0), to recognise a day trade.
    private var openedToday: [String: Decimal] = [:]
    private let accountID: String
    private let accountNumber: String
    /// Every order state change (new, fill, partial_fill, canceled, expired, rejected, replaced) in the order it
    /// happens, for the trade-updates stream (`TradeUpdatesService` reads it; see OrderEvents.swift).
    public nonisolated let orderEvents = AsyncStream<OrderEvent>.makeStream()

    public init(
        configuration: SimulatorConfiguration, clock: SimClock, generator: MarketDataGenerator, faults: FaultInjector,
        stats: SimStats, logger: Logger
    ) {
        self.configuration = configuration
        self.clock = clock
        self.generator = generator
        self.hours = generator.hours
        self.faults = faults
        self.stats = stats
        self.logger = logger
        self.cash = configuration.cash
        self.lastEquity = configuration.cash
        self.accountID = StableHash.uuid(StableHash.mix(configuration.seed, 0xACC0))
        self.accountNumber = "PA" + String(StableHash.mix(configuration.seed, 0xACC1) % 10_000_000_000).padded(to: 10)
    }

    // MARK: - Orders

    public func submit(_ submission: OrderSubmission) throws -> SimOrder {
        let now = clock.now()
        process(now: now)
        return try place(submission, now: now)
    }

    /// Checks and books an order (a new one, a replacement or a position's closing order) at `now`.
    private func place(_ submission: OrderSubmission, now: Double, replaces: String? = nil) throws -> SimOrder {
        guard let asset = generator.universe.asset(submission.symbol) else {
            stats.add(.ordersRefused)
            throw AlpacaAPIError.unprocessable("asset \"\(submission.symbol)\" not found")
        }
        guard asset.isActive, asset.isTradable else {
            stats.add(.ordersRefused)
            throw AlpacaAPIError.unprocessable("asset \(asset.symbol) is not tradable")
        }
        if let clientID = submission.clientOrderID, indexByClientID[clientID] != nil {
            stats.add(.ordersRefused)
            throw AlpacaAPIError(.init(code: configuration.duplicateClientOrderIDStatus), code: 40010001,
                                 "client_order_id must be unique")
        }
        let fractional = submission.notional != nil || submission.qty != Money.rounded(submission.qty, scale: 0)
        if fractional {
            // Alpaca: fractional and notional orders are market day orders of a fractionable asset.
            guard asset.isFractionable else {
                stats.add(.ordersRefused)
                throw AlpacaAPIError.unprocessable("asset \(asset.symbol) is not fractionable")
            }
            guard submission.type == .market, submission.timeInForce == .day else {
                stats.add(.ordersRefused)
                throw AlpacaAPIError.unprocessable("fractional orders must be market orders with time_in_force day")
            }
        }
        let estimate = currentPrice(asset.symbol, now: now) ?? Self.decimal(asset.basePrice)
        // A limit buy holds buying power at its limit (it can't cost more); a market buy at the last price.
        let reserve = submission.side == .buy ? (submission.limitPrice ?? estimate) : estimate
        // A notional order's shares are known at its fill; until then they are estimated at the last price.
        let quantity = submission.notional.map { Self.shares($0, at: estimate) } ?? submission.qty
        switch submission.side {
        case .buy:
            let cost = submission.notional ?? quantity * reserve
            guard cost <= buyingPower(now: now) else {
                stats.add(.ordersRefused)
                throw AlpacaAPIError(.forbidden, code: 40310000, "insufficient buying power")
            }
        case .sell:
            let held = holdings[asset.symbol]?.quantity ?? 0
            let heldForOrders = openQuantity(symbol: asset.symbol, side: .sell)
            let available = max(0, held - heldForOrders)
            if quantity > available {
                // Beyond what is held is a short sale: a margin account may, from a flat or short position, for a
                // shortable asset, with the buying power. A long is never turned into a short by one order, and
                // a fractional order never sells short.
                if configuration.accountType == .cash, held <= 0, heldForOrders == 0 {
                    stats.add(.ordersRefused)
                    throw AlpacaAPIError(.forbidden, code: 40310000, "account is not allowed to short")
                }
                guard configuration.accountType == .margin, held <= 0, heldForOrders == 0, !fractional else {
                    stats.add(.ordersRefused)
                    throw AlpacaAPIError(
                        .forbidden, code: 40310000,
                        "insufficient qty available for order (requested: \(quantity.plainString), available: \(available.plainString))",
                        extra: ["available": available.plainString, "existing_qty": held.plainString,
                                "held_for_orders": heldForOrders.plainString, "symbol": asset.symbol])
                }
                guard asset.isTradable, !asset.isThin else {
                    stats.add(.ordersRefused)
                    throw AlpacaAPIError(.forbidden, code: 40310000, "asset \(asset.symbol) cannot be sold short")
                }
                let shortValue = (quantity - available) * (submission.limitPrice ?? estimate)
                guard shortValue <= buyingPower(now: now) else {
                    stats.add(.ordersRefused)
                    throw AlpacaAPIError(.forbidden, code: 40310000, "insufficient buying power")
                }
            }
        }

        // Injected partial fills are whole shares of whole-share orders.
        let wholeShares = fractional ? 0 : NSDecimalNumber(decimal: submission.qty).intValue
        let nowInstant = Timestamp(secondsSinceEpoch: Int64(now.rounded(.down)))
        let state: Working
        // A GTC order outlives sessions: no close ends it.
        let endsWithSession = submission.timeInForce != .gtc
        if let session = hours.regularSession(containing: nowInstant) {
            state = Working(eligibleFrom: now, sessionClose: endsWithSession ? session.close : nil,
                            fate: faults.orderFate(quantity: wholeShares),
                            lastClosePrice: configuration.fillPrice == .lastClose ? estimate : nil, reservePrice: reserve)
        } else {
            // Sent while the market is closed: waits (accepted) for the next session's first bar.
            let next = hours.nextSession(openingAtOrAfter: nowInstant)
            state = Working(eligibleFrom: next.map { Double($0.open.secondsSinceEpoch) } ?? .infinity,
                            sessionClose: endsWithSession ? next?.close : nil, fate: faults.orderFate(quantity: wholeShares),
                            lastClosePrice: nil, reservePrice: reserve)
        }
        let id = faults.nextOrderID()
        let submitted = Date(timeIntervalSince1970: now)
        var order = SimOrder(
            id: id, clientOrderID: submission.clientOrderID ?? faults.nextOrderID(), createdAt: submitted,
            updatedAt: submitted, submittedAt: submitted, assetID: asset.id, symbol: asset.symbol,
            qty: submission.notional == nil ? submission.qty : 0,
            filledQty: 0, side: submission.side, status: .accepted, type: submission.type,
            timeInForce: submission.timeInForce, limitPrice: submission.limitPrice)
        order.notional = submission.notional
        order.replaces = replaces
        indexByID[id] = orders.count
        indexByClientID[order.clientOrderID] = orders.count
        orders.append(order)
        working[id] = state
        workingOrder.append(id)
        stats.add(.ordersAccepted)
        logger.info("order accepted", metadata: [
            "id": "\(id)", "client_order_id": "\(order.clientOrderID)", "symbol": "\(asset.symbol)",
            "side": "\(submission.side.rawValue)", "qty": "\(submission.notional == nil ? submission.qty.plainString : "-")",
            "notional": "\(submission.notional?.plainString ?? "-")", "at": "\(RFC3339.format(submitted))",
            "type": "\(submission.type.rawValue)", "time_in_force": "\(submission.timeInForce.rawValue)",
            "limit_price": "\(submission.limitPrice?.plainString ?? "-")", "replaces": "\(replaces ?? "-")",
        ])
        return order
    }

    /// Shares a dollar amount buys at `price`: rounded down to nine decimals (Alpaca's finest fraction).
    static func shares(_ notional: Decimal, at price: Decimal) -> Decimal {
        guard price > 0 else { return 0 }
        var exact = notional / price, result = Decimal()
        NSDecimalRound(&result, &exact, 9, .down)
        return result
    }

    /// PATCH /v2/orders/{id}: the open order becomes `replaced` (with `replaced_by` and `replaced_at`) and a new
    /// order with the changed fields (`replaces` = the old id) takes its place, checked like a new order (the
    /// old one's hold released meanwhile). Refused (422) for an order that is no longer open, that has
    /// filled in part, or that is a notional order.
    public func replace(id: String, with change: OrderReplacement) throws -> SimOrder {
        let now = clock.now()
        process(now: now)
        guard let index = indexByID[id.lowercased()] else { throw AlpacaAPIError.orderNotFound }
        let old = orders[index]
        guard let oldState = working[old.id], let position = workingOrder.firstIndex(of: old.id) else {
            throw AlpacaAPIError.unprocessable("order is not replaceable (its status is \(old.status))")
        }
        guard old.filledQty == 0 else {
            throw AlpacaAPIError.unprocessable("order is partially filled: this simulator replaces only orders with nothing filled")
        }
        guard old.notional == nil else {
            throw AlpacaAPIError.unprocessable("notional orders cannot be replaced by this simulator")
        }
        if change.limitPrice != nil, old.type != .limit {
            throw AlpacaAPIError.unprocessable("limit_price is only for limit orders")
        }
        let submission = OrderSubmission(
            symbol: old.symbol, qty: change.qty ?? old.qty, side: old.side, clientOrderID: change.clientOrderID,
            type: old.type, timeInForce: change.timeInForce ?? old.timeInForce, limitPrice: change.limitPrice ?? old.limitPrice)
        working[old.id] = nil
        workingOrder.remove(at: position)
        let new: SimOrder
        do {
            new = try place(submission, now: now, replaces: old.id)
        } catch {
            working[old.id] = oldState
            workingOrder.insert(old.id, at: position)
            throw error
        }
        let at = Date(timeIntervalSince1970: now)
        var replaced = orders[index]
        replaced.status = .replaced
        replaced.replacedAt = at
        replaced.replacedBy = new.id
        replaced.updatedAt = at
        orders[index] = replaced
        emitOrderEvent(.replaced, replaced, at: at)
        logger.info("order replaced", metadata: ["id": "\(old.id)", "replaced_by": "\(new.id)"])
        return new
    }

    /// DELETE /v2/positions/{symbol}: a market day order for the whole position, `qty` shares of it, or
    /// `percentage` of it (whole shares of a whole-share position, else down to nine decimals).
    public func closePosition(symbol: String, qty: Decimal? = nil, percentage: Decimal? = nil) throws -> SimOrder {
        let now = clock.now()
        process(now: now)
        return try closingOrder(symbol: generator.universe.asset(symbol)?.symbol ?? symbol.uppercased(), qty: qty,
                                percentage: percentage, now: now)
    }

    private func closingOrder(symbol: String, qty: Decimal?, percentage: Decimal?, now: Double) throws -> SimOrder {
        guard let holding = holdings[symbol], holding.quantity != 0 else { throw AlpacaAPIError.positionNotFound }
        let size = abs(holding.quantity)
        var amount = size
        if let qty {
            guard qty <= size else {
                throw AlpacaAPIError(
                    .forbidden, code: 40310000,
                    "insufficient qty available for order (requested: \(qty.plainString), available: \(size.plainString))",
                    extra: ["available": size.plainString, "existing_qty": holding.quantity.plainString,
                            "held_for_orders": "0", "symbol": symbol])
            }
            amount = qty
        } else if let percentage {
            var exact = size * percentage / 100, rounded = Decimal()
            NSDecimalRound(&rounded, &exact, size == Money.rounded(size, scale: 0) ? 0 : 9, .down)
            guard rounded > 0 else {
                throw AlpacaAPIError.unprocessable("percentage \(percentage.plainString) of \(size.plainString) shares is less than one share")
            }
            amount = rounded
        }
        return try place(OrderSubmission(symbol: symbol, qty: amount, side: holding.quantity > 0 ? .sell : .buy,
                                         clientOrderID: nil), now: now)
    }

    /// DELETE /v2/positions: one closing order per position (by symbol), or the error that refused it;
    /// with `cancelOrders` every open order is canceled first.
    public func closeAll(cancelOrders: Bool) -> [(symbol: String, result: Result<SimOrder, AlpacaAPIError>)] {
        let now = clock.now()
        process(now: now)
        if cancelOrders { _ = cancelAll() }
        return holdings.keys.sorted().map { symbol in
            do {
                return (symbol, .success(try closingOrder(symbol: symbol, qty: nil, percentage: nil, now: now)))
            } catch let error as AlpacaAPIError {
                return (symbol, .failure(error))
            } catch {
                return (symbol, .failure(.internalError))
            }
        }
    }

    public func order(id: String) throws -> SimOrder {
        process(now: clock.now())
        guard let index = indexByID[id.lowercased()] else { throw AlpacaAPIError.orderNotFound }
        return orders[index]
    }

    public func order(clientOrderID: String) throws -> SimOrder {
        process(now: clock.now())
        guard let index = indexByClientID[clientOrderID] else { throw AlpacaAPIError.orderNotFound }
        return orders[index]
    }

    public func orders(matching filter: OrderFilter) -> [SimOrder] {
        process(now: clock.now())
        var result = orders.filter { order in
            switch filter.status {
            case .open: if order.status.isTerminal { return false }
            case .closed: if !order.status.isTerminal { return false }
            case .all: break
            }
            let submitted = order.submittedAt
            if let after = filter.after, submitted <= after { return false }
            if let until = filter.until, submitted >= until { return false }
            if let symbols = filter.symbols, !symbols.contains(order.symbol) { return false }
            if let side = filter.side, order.side != side { return false }
            return true
        }
        if !filter.ascending { result.reverse() }
        return Array(result.prefix(filter.limit))
    }

    /// Every order ever submitted, oldest first (GET /sim/orders).
    public func allOrders() -> [SimOrder] {
        process(now: clock.now())
        return orders
    }

    /// Every execution, oldest first (GET /sim/fills).
    public func allFills() -> [SimFill] {
        process(now: clock.now())
        return fills
    }

    /// Cancels what is left of an open order (DELETE /v2/orders/{id}).
    public func cancel(id: String) throws {
        let now = clock.now()
        process(now: now)
        guard let index = indexByID[id.lowercased()] else { throw AlpacaAPIError.orderNotFound }
        guard working[orders[index].id] != nil else {
            throw AlpacaAPIError.unprocessable("order is not cancelable (its status is \(orders[index].status))")
        }
        finish(index: index, status: .canceled, at: Date(timeIntervalSince1970: now))
    }

    /// Cancels every open order (DELETE /v2/orders): one entry per order, as Alpaca's 207 answer lists them.
    public func cancelAll() -> [(id: String, status: Int)] {
        let now = clock.now()
        process(now: now)
        return workingOrder.compactMap { id in
            guard let index = indexByID[id] else { return nil }
            finish(index: index, status: .canceled, at: Date(timeIntervalSince1970: now))
            return (id, 200)
        }
    }

    // MARK: - Account and positions

    /// GET /v2/account: a margin account like a new paper account (or a cash account with `--account cash`).
    public func account() -> SimWire.Account {
        let now = clock.now()
        process(now: now)
        let figures = marginFigures(now: now)
        let equity = figures.equity
        let power = SimWire.decimal(buyingPower(now: now))
        let zero = "0"
        let margin = configuration.accountType == .margin
        let today = hours.newYorkDate(of: Timestamp(secondsSinceEpoch: Int64(now.rounded(.down))))
        let dayTradeCount = margin ? dayTradeCount(endingOn: today) : 0
        return SimWire.Account(
            id: accountID, accountNumber: accountNumber, status: "ACTIVE", cryptoStatus: "INACTIVE", currency: "USD",
            cash: SimWire.decimal(cash), buyingPower: power,
            regtBuyingPower: margin ? SimWire.decimal(figures.regT) : power,
            daytradingBuyingPower: margin && figures.multiplier == 4 ? SimWire.decimal(figures.dayTrading) : zero,
            effectiveBuyingPower: power, nonMarginableBuyingPower: SimWire.decimal(max(0, cash)), optionsBuyingPower: power,
            bodDtbp: margin && figures.multiplier == 4 ? SimWire.decimal(max(0, 4 * (lastEquity - lastMaintenanceMargin))) : zero,
            accruedFees: zero, portfolioValue: SimWire.decimal(equity), equity: SimWire.decimal(equity),
            lastEquity: SimWire.decimal(lastEquity), longMarketValue: SimWire.decimal(figures.long),
            shortMarketValue: SimWire.decimal(figures.short),
            positionMarketValue: SimWire.decimal(figures.long - figures.short),
            initialMargin: SimWire.decimal(margin ? figures.initial : 0),
            maintenanceMargin: SimWire.decimal(margin ? figures.maintenance : 0),
            lastMaintenanceMargin: SimWire.decimal(margin ? lastMaintenanceMargin : 0), sma: zero,
            multiplier: String(figures.multiplier), daytradeCount: dayTradeCount, optionsApprovedLevel: 0,
            optionsTradingLevel: 0, patternDayTrader: margin && dayTradeCount >= 4 && equity < 25_000,
            shortingEnabled: margin, tradingBlocked: false, transfersBlocked: false,
            accountBlocked: false, tradeSuspendedByUser: false,
            createdAt: SimWire.time(Date(timeIntervalSince1970: 1_514_764_800)))
    }

    /// GET /v2/positions: every symbol held, by symbol.
    public func positions() -> [SimWire.Position] {
        let now = clock.now()
        process(now: now)
        return holdings.keys.sorted().compactMap { position(symbol: $0, now: now) }
    }

    public func position(symbol: String) throws -> SimWire.Position {
        let now = clock.now()
        process(now: now)
        let key = generator.universe.asset(symbol)?.symbol ?? symbol.uppercased()
        guard let result = position(symbol: key, now: now) else { throw AlpacaAPIError.positionNotFound }
        return result
    }

    private func position(symbol: String, now: Double) -> SimWire.Position? {
        guard let holding = holdings[symbol], holding.quantity != 0, let asset = generator.universe.asset(symbol: symbol)
        else { return nil }
        // Alpaca writes a short as a negative qty and market value, with side "short".
        let quantity = holding.quantity
        let average = Money.rounded(holding.cost / abs(quantity), scale: 6)
        let price = currentPrice(symbol, now: now) ?? average
        let lastDay = previousClose(symbol, now: now) ?? price
        let value = quantity * price
        let profit = holding.quantity > 0 ? value - holding.cost : holding.cost + value
        let intraday = (price - lastDay) * quantity
        func ratio(_ part: Decimal, _ whole: Decimal) -> String {
            whole == 0 ? "0" : Money.rounded(part / whole, scale: 6).plainString
        }
        // Shares held for open sell orders are not available to sell again.
        let available = holding.quantity > 0
            ? max(0, holding.quantity - openQuantity(symbol: symbol, side: .sell))
            : min(0, holding.quantity + openQuantity(symbol: symbol, side: .buy))
        return SimWire.Position(
            assetID: asset.id, symbol: symbol, exchange: asset.exchange, assetClass: "us_equity",
            assetMarginable: asset.isTradable, qty: SimWire.decimal(quantity), qtyAvailable: SimWire.decimal(available),
            avgEntryPrice: SimWire.decimal(average), side: holding.quantity > 0 ? "long" : "short",
            marketValue: SimWire.decimal(value),
            costBasis: SimWire.decimal(holding.cost), unrealizedPl: SimWire.decimal(profit),
            unrealizedPlpc: ratio(profit, holding.cost), unrealizedIntradayPl: SimWire.decimal(intraday),
            unrealizedIntradayPlpc: ratio(intraday, lastDay * abs(quantity)), currentPrice: SimWire.decimal(price),
            lastdayPrice: SimWire.decimal(lastDay), changeToday: ratio(price - lastDay, lastDay))
    }

    // MARK: - Matching

    /// Brings every open order up to `now`: accepted → new at the open, fills on the due bar, rejection,
    /// and the end of the day (canceled with what filled, or expired with nothing).
    public func process(now: Double) {
        let today = hours.newYorkDate(of: Timestamp(secondsSinceEpoch: Int64(now.rounded(.down))))
        if today != lastEquityDate {
            // Yesterday's closing equity: the first look at a new day still sees yesterday's prices.
            let figures = marginFigures(now: now)
            lastEquity = figures.equity
            lastMaintenanceMargin = figures.maintenance
            lastEquityDate = today
            openedToday = [:]
        }
        for id in workingOrder { advance(id: id, now: now) }
    }

    private func advance(id: String, now: Double) {
        guard var state = working[id], let index = indexByID[id] else { return }
        var order = orders[index]
        let submitted = order.submittedAt.timeIntervalSince1970
        if state.fate.reject {
            order.status = .rejected
            let failed = Date(timeIntervalSince1970: max(now, submitted))
            order.failedAt = failed
            order.updatedAt = failed
            orders[index] = order
            close(id: id)
            stats.add(.ordersRejected)
            emitOrderEvent(.rejected, order, at: failed)
            logger.info("order rejected (injected)", metadata: ["id": "\(id)", "symbol": "\(order.symbol)"])
            return
        }
        guard now >= state.eligibleFrom else { return }
        if order.status == .accepted {
            order.status = .new
            order.updatedAt = Date(timeIntervalSince1970: max(state.eligibleFrom, submitted))
            emitOrderEvent(.new, order, at: order.updatedAt)
        }
        if order.filledQty == 0, let (price, time) = fillPoint(order: order, state: &state, now: now) {
            if let notional = order.notional {
                // A notional order's shares: the amount at the fill price, down to nine decimals (a sell
                // never more than is held).
                var shares = Self.shares(notional, at: price)
                if order.side == .sell { shares = min(shares, max(0, holdings[order.symbol]?.quantity ?? 0)) }
                order.qty = shares
            }
            let quantity = state.fate.partialQuantity.map { Decimal($0) } ?? order.qty
            order.filledQty = quantity
            order.filledAvgPrice = price
            order.filledAt = time
            order.updatedAt = time
            order.status = state.fate.partialQuantity == nil ? .filled : .partiallyFilled
            settle(symbol: order.symbol, side: order.side, quantity: quantity, price: price,
                   on: hours.newYorkDate(of: Timestamp(time)))
            fills.append(SimFill(orderID: order.id, clientOrderID: order.clientOrderID, symbol: order.symbol,
                                 side: order.side, qty: quantity, price: price, time: time))
            stats.add(.fills)
            if order.status == .partiallyFilled { stats.add(.partialFills) }
            emitOrderEvent(order.status == .filled ? .fill : .partialFill, order, at: time, price: price, qty: quantity,
                           position: holdings[order.symbol]?.quantity ?? 0)
            logger.info("order \(order.status)", metadata: [
                "id": "\(id)", "symbol": "\(order.symbol)", "side": "\(order.side.rawValue)", "qty": "\(quantity)",
                "price": "\(price.plainString)", "at": "\(RFC3339.format(time))",
            ])
        }
        orders[index] = order
        working[id] = state
        if order.status == .filled {
            close(id: id)
            return
        }
        if state.missedImmediately {
            // Immediate-or-cancel: the first bar it could trade on didn't reach its limit.
            finish(index: index, status: .canceled, at: Date(timeIntervalSince1970: max(now, submitted)))
            return
        }
        if let end = state.sessionClose, now >= Double(end.secondsSinceEpoch) {
            // A day order's life ends with the session: what filled stays filled.
            finish(index: index, status: order.filledQty > 0 ? .canceled : .expired, at: end.date)
        }
    }

    /// Where and when an order fills, if it does by `now`. A market order fills at the open of the first
    /// bar it may trade on. A limit order fills at that open when the open is within its limit (a
    /// marketable limit); otherwise it rests, and fills at its limit on the first later bar whose low (buy)
    /// or high (sell) reaches it — stamped mid-minute, once that minute's bar is complete. So a buy never
    /// pays more than its limit and a sell never gets less.
    private func fillPoint(order: SimOrder, state: inout Working, now: Double) -> (Decimal, Date)? {
        if let price = state.lastClosePrice {
            if order.limitPrice.map({ Self.reaches(price, limit: $0, side: order.side) }) ?? true {
                return (price, order.submittedAt)
            }
            state.lastClosePrice = nil // a limit the last close doesn't meet waits for the bars that follow
        }
        let end = state.sessionClose ?? Timestamp(secondsSinceEpoch: Int64(MarketDataGenerator.farFuture))
        while true {
            if state.nextBar == nil {
                let from = state.searchFrom ?? Timestamp(secondsSinceEpoch: Int64(state.eligibleFrom.rounded(.up)))
                state.nextBar = generator.firstRegularBar(symbol: order.symbol, atOrAfter: from, before: end)
            }
            // The open is the first trade of the bar's minute: known once the minute has begun.
            guard let bar = state.nextBar, Double(bar.start.secondsSinceEpoch) <= now else { return nil }
            let open = Self.decimal(bar.open)
            guard let limit = order.limitPrice else { return (open, bar.start.date) }
            if Self.reaches(open, limit: limit, side: order.side) { return (open, bar.start.date) }
            if order.timeInForce == .ioc {
                state.missedImmediately = true
                return nil
            }
            // The bar's low and high are known only once its minute is over.
            guard Double(bar.start.secondsSinceEpoch + 60) <= now else { return nil }
            let extreme = Self.decimal(order.side == .buy ? bar.low : bar.high)
            if Self.reaches(extreme, limit: limit, side: order.side) { return (limit, bar.start.adding(seconds: 30).date) }
            state.searchFrom = bar.start.adding(minutes: 1)
            state.nextBar = nil
        }
    }

    /// Whether a trade at `price` is within a limit: at or below it for a buy, at or above it for a sell.
    static func reaches(_ price: Decimal, limit: Decimal, side: OrderSide) -> Bool {
        side == .buy ? price <= limit : price >= limit
    }

    /// Books a fill: a buy covers a short before it adds to a long, a sell closes a long before it opens a
    /// short; the part that closes carries its share of the cost away, the part that opens adds its own.
    private func settle(symbol: String, side: OrderSide, quantity: Decimal, price: Decimal, on day: CivilDate) {
        let amount = quantity * price
        cash += side == .buy ? -amount : amount
        var holding = holdings[symbol] ?? Holding(quantity: 0, cost: 0)
        let direction: Decimal = side == .buy ? 1 : -1
        // Shares that close (part of) the opposite position.
        let closing = holding.quantity * direction < 0 ? min(quantity, abs(holding.quantity)) : 0
        if closing > 0 {
            let average = holding.cost / abs(holding.quantity)
            holding.quantity += closing * direction
            holding.cost = holding.quantity == 0 ? 0 : Money.rounded(average * abs(holding.quantity), scale: 6)
            // Closing what was opened today is a day trade.
            let openedHere = openedToday[symbol] ?? 0
            if openedHere * direction < 0 {
                dayTrades[day, default: 0] += 1
                let left = abs(openedHere) - min(closing, abs(openedHere))
                openedToday[symbol] = left == 0 ? nil : left * (openedHere > 0 ? 1 : -1)
            }
        }
        let opening = quantity - closing
        if opening > 0 {
            holding.quantity += opening * direction
            holding.cost += opening * price
            openedToday[symbol, default: 0] += opening * direction
        }
        holdings[symbol] = holding.quantity != 0 ? holding : nil
    }

    /// Day trades in the last five sessions up to `day` (the pattern-day-trader window).
    private func dayTradeCount(endingOn day: CivilDate) -> Int {
        guard let last = hours.lastIndex(onOrBefore: day) else { return 0 }
        let window = hours.sessions[max(0, last - 4)...last].map { hours.newYorkDate(of: $0.open) }
        return window.reduce(0) { $0 + (dayTrades[$1] ?? 0) }
    }

    private func finish(index: Int, status: OrderStatus, at time: Date) {
        var order = orders[index]
        order.status = status
        order.updatedAt = time
        if status == .canceled { order.canceledAt = time; stats.add(.ordersCanceled) }
        if status == .expired { order.expiredAt = time; stats.add(.ordersExpired) }
        orders[index] = order
        close(id: order.id)
        emitOrderEvent(status == .expired ? .expired : .canceled, order, at: time)
        logger.info("order \(status)", metadata: ["id": "\(order.id)", "symbol": "\(order.symbol)",
                                                 "filled_qty": "\(order.filledQty)"])
    }

    private func close(id: String) {
        working[id] = nil
        workingOrder.removeAll { $0 == id }
    }

    // MARK: - Money

    /// Shares open orders of a side still want (a notional order's estimated at its reserve price).
    private func openQuantity(symbol: String, side: OrderSide) -> Decimal {
        workingOrder.reduce(Decimal(0)) { total, id in
            guard let index = indexByID[id], orders[index].symbol == symbol, orders[index].side == side else { return total }
            let order = orders[index]
            if let notional = order.notional, order.filledQty == 0 {
                return total + Self.shares(notional, at: working[id]?.reservePrice ?? 0)
            }
            return total + order.qty - order.filledQty
        }
    }

    /// What the account's positions come to, and the margin they need (the simulator's model of Alpaca's
    /// figures, see the README: initial margin 50 %, maintenance 25 % of longs and 30 % of shorts).
    struct MarginFigures {
        var long: Decimal = 0
        /// Negative, as Alpaca writes it.
        var short: Decimal = 0
        var equity: Decimal = 0
        var initial: Decimal = 0
        var maintenance: Decimal = 0
        var multiplier = 1
        var regT: Decimal = 0
        var dayTrading: Decimal = 0
    }

    private func marginFigures(now: Double) -> MarginFigures {
        var figures = MarginFigures()
        for (symbol, holding) in holdings {
            let average = holding.cost / abs(holding.quantity)
            let value = holding.quantity * (currentPrice(symbol, now: now) ?? average)
            if value >= 0 { figures.long += value } else { figures.short += value }
        }
        let gross = figures.long - figures.short
        figures.equity = cash + figures.long + figures.short
        figures.initial = gross / 2
        figures.maintenance = Money.rounded(figures.long / 4 - figures.short * Decimal(string: "0.3")!, scale: 2)
        guard configuration.accountType == .margin else { return figures }
        figures.multiplier = figures.equity >= 25_000 ? 4 : 2
        figures.regT = max(0, 2 * (figures.equity - figures.initial))
        figures.dayTrading = max(0, 4 * (lastEquity - lastMaintenanceMargin) - gross)
        return figures
    }

    /// What may still be bought: for a cash account the cash, for a margin account Alpaca's day-trading
    /// buying power (multiplier 4) or Reg T buying power (multiplier 2), less what open buys hold.
    private func buyingPower(now: Double) -> Decimal {
        let held = workingOrder.reduce(Decimal(0)) { total, id in
            guard let index = indexByID[id], orders[index].side == .buy, let state = working[id] else { return total }
            if let notional = orders[index].notional, orders[index].filledQty == 0 { return total + notional }
            return total + (orders[index].qty - orders[index].filledQty) * state.reservePrice
        }
        let figures = marginFigures(now: now)
        let base: Decimal
        switch configuration.accountType {
        case .cash: base = cash
        case .margin: base = figures.multiplier == 4 ? figures.dayTrading : figures.regT
        }
        return max(0, base - held)
    }

    private func currentPrice(_ symbol: String, now: Double) -> Decimal? {
        generator.latestBar(symbol: symbol, asOf: now).map { Self.decimal($0.close) }
    }

    /// The close of the last session before today's.
    private func previousClose(_ symbol: String, now: Double) -> Decimal? {
        let today = hours.newYorkDate(of: Timestamp(secondsSinceEpoch: Int64(now.rounded(.down))))
        guard let index = hours.lastIndex(onOrBefore: today.adding(days: -1)) else { return nil }
        return generator.closingBar(symbol: symbol, session: hours.sessions[index], asOf: now).map { Self.decimal($0.close) }
    }

    /// A bar price as money: cents, or four decimals below $1.
    static func decimal(_ price: Double) -> Decimal {
        let text = price >= 1 ? String(format: "%.2f", price) : String(format: "%.4f", price)
        return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) ?? Decimal(price)
    }
}

extension String {
    func padded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
