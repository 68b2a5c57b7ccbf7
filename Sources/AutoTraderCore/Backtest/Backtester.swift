import Foundation

/// A ticker's bars for a backtest: the warm-up before the range (what the algorithm looks back on at
/// the range's first minute, as live it would find in stocks.db) followed by the range's own bars.
public struct BacktestBars: Sendable {
    /// Oldest first, one ticker, regular-hours minutes only, held once: each decision gets a window over it.
    public let series: BarSeries
    /// The index of the range's first bar; the bars before it are the warm-up.
    public let firstIndex: Int
    // The columns the replay reads every minute, contiguous.
    let opens: ContiguousArray<Double>
    let lows: ContiguousArray<Double>
    let times: ContiguousArray<Timestamp>

    public init(bars: [MinuteBar], firstIndex: Int) {
        precondition(firstIndex >= 0 && firstIndex <= bars.count)
        series = BarSeries(bars)
        self.firstIndex = firstIndex
        opens = ContiguousArray(bars.lazy.map(\.open))
        lows = ContiguousArray(bars.lazy.map(\.low))
        times = ContiguousArray(bars.lazy.map(\.timestamp))
    }

    public var bars: ContiguousArray<MinuteBar> { series.bars }
    public var count: Int { series.count }
    public var rangeCount: Int { series.count - firstIndex }
}

/// Replays bars through an algorithm exactly as the executor runs it: the same `decide`, the same
/// input (the last `barsNeeded` bars, the card's whole transaction history, the minute), the same
/// decision-to-order mapping (`OrderPlan`) and guards (`OrderGuards`), one order at a time, filled
/// as the live order fills (`BacktestFillRule`). Money is exact: every amount has at most six decimals.
public struct Backtester: Sendable {
    public let calendar: MarketCalendar

    public init(calendar: MarketCalendar) {
        self.calendar = calendar
    }

    /// Runs `entry` over `bars`' range for `ticker`.
    public func run(_ entry: AlgorithmCatalog.Entry, ticker: String, bars series: BacktestBars, settings: BacktestSettings) -> BacktestResult {
        replay(entry.type.init(), barsNeeded: entry.barsNeeded, name: entry.name, ticker: ticker, bars: series, settings: settings)
    }

    /// One replay, whatever decides: a compiled algorithm, or a script's worker (`ScriptDecider`).
    func replay(
        _ algorithm: any TradingAlgorithm, barsNeeded: Int, name: String, ticker: String, bars series: BacktestBars, settings: BacktestSettings
    ) -> BacktestResult {
        var run = Run(
            algorithm: algorithm, barsNeeded: max(1, barsNeeded), ticker: ticker, settings: settings, calendar: calendar,
            series: series.series, batch: IndicatorBatch(series.series))
        return run.replay(series, name: name)
    }
}

/// The order in flight: the decision's bar index, what it asked for and a buy's limit (micro-dollars).
private struct Order {
    let index: Int
    let plan: OrderPlan
    let limit: Int64?
}

/// A fill recorded in the books whose bar the equity has not reached yet.
private struct Unvalued {
    let index: Int
    let shares: Int
    let cash: Int64
}

/// One backtest's state as it walks the bars: the card's books and the figures.
private struct Run {
    let algorithm: any TradingAlgorithm
    let barsNeeded: Int
    let ticker: String
    let settings: BacktestSettings
    let calendar: MarketCalendar
    /// The windows' indicators, computed a few hundred minutes at a time (the same values).
    let batch: IndicatorBatch

    /// What the algorithm is shown, moved from minute to minute; its `transactions` are the card's trades.
    var input: AlgorithmInput
    // The card's books, as system.db would hold them (what the algorithm and the guards see).
    var trades: [Trade] { input.transactions }
    var shares = 0
    /// Σ buys − Σ sells, in micro-dollars (exact: every amount has at most six decimals).
    var investedMicros: Int64 = 0
    /// capital − invested, kept as fills come (a Decimal subtraction every minute was a fifth of the time).
    var uninvested: Decimal = 0
    var bookCashMicros: Int64 = 0
    // What the account holds at a bar's close (the equity): a fill counts from its own bar on. Live, the
    // executor records a fill at M+2's open before the card decides M+1, so the books run a minute ahead.
    var heldShares = 0
    var cashMicros: Int64 = 0
    var commissionMicros: Int64 = 0
    /// Fills recorded in the books but not yet at their bar: (bar index, shares, cash), in order.
    var unvalued: [Unvalued] = []
    /// The first of `unvalued` not yet at its bar (a queue without moving the rest up).
    var unvaluedHead = 0
    let commissionEach: Int64
    let slippage: Decimal

    // The order in flight: the decision's bar index, what it asked for and a buy's limit.
    var pending: Order?
    /// The minute whose decision live skips: an order still open when its next minute begins is canceled then,
    /// and the card is skipped that minute ("the previous order is still open").
    var skipAt: Timestamp?

    var fills: [BacktestFill] = []
    var refused = 0
    var unfilled = 0
    var errors = 0
    var skipped = 0
    // Round trips: from flat to flat.
    var tripCostMicros: Int64 = 0
    var tripProceedsMicros: Int64 = 0
    var roundTrips = 0
    var wins = 0

    init(
        algorithm: any TradingAlgorithm, barsNeeded: Int, ticker: String, settings: BacktestSettings, calendar: MarketCalendar,
        series: BarSeries, batch: IndicatorBatch
    ) {
        self.batch = batch
        input = AlgorithmInput(
            ticker: ticker, initialCapital: settings.capital, window: series.window(endingAt: -1, count: 0, batch: batch),
            transactions: [], now: Timestamp(secondsSinceEpoch: 0))
        self.algorithm = algorithm
        self.barsNeeded = barsNeeded
        self.ticker = ticker
        self.settings = settings
        self.calendar = calendar
        cashMicros = Self.micros(settings.capital)
        uninvested = settings.capital
        bookCashMicros = cashMicros
        commissionEach = Self.micros(settings.commission)
        slippage = settings.slippageBps / 10_000
    }

    static func micros(_ value: Decimal) -> Int64 {
        NSDecimalNumber(decimal: value * Decimal(Money.microsPerDollar)).int64Value
    }

    static func micros(stored value: Double) -> Int64 {
        Int64((value * Double(Money.microsPerDollar)).rounded())
    }

    mutating func replay(_ series: BacktestBars, name: String) -> BacktestResult {
        let count = series.count
        let closes = series.series.closes
        let times = series.times
        let first = series.firstIndex
        var equity = MinuteEquity()
        equity.times.reserveCapacity(series.rangeCount)
        equity.micros.reserveCapacity(series.rangeCount)
        let startMicros = cashMicros
        var peak = startMicros
        var deepest = 0.0
        var drawdown: (peak: Int64, trough: Int64) = (startMicros, startMicros)
        var holding = 0
        var curve: [EquityPoint] = []
        if first < count {
            curve.append(EquityPoint(time: times[first], equity: settings.capital))
        }
        var session: MarketSession?

        for index in first..<count {
            let time = times[index]
            // Live, an order is over (filled, or canceled as the next minute begins) before the card decides again.
            if let order = pending {
                pending = nil
                settle(order, before: index, in: series)
            }
            if let skip = skipAt {
                skipAt = nil
                if skip == time { skipped += 1 } else { decide(at: index, in: series) }
            } else {
                decide(at: index, in: series)
            }
            while unvaluedHead < unvalued.count, unvalued[unvaluedHead].index <= index {
                heldShares += unvalued[unvaluedHead].shares
                cashMicros += unvalued[unvaluedHead].cash
                unvaluedHead += 1
            }
            if unvaluedHead > 0, unvaluedHead == unvalued.count {
                unvalued.removeAll(keepingCapacity: true)
                unvaluedHead = 0
            }

            let value = cashMicros + Int64(heldShares) * Self.micros(stored: closes[index]) - commissionMicros
            equity.times.append(time.secondsSinceEpoch)
            equity.micros.append(value)
            if heldShares > 0 { holding += 1 }
            if value > peak { peak = value }
            if peak > 0 {
                let fall = Double(peak - value) / Double(peak)
                if fall > deepest {
                    deepest = fall
                    drawdown = (peak, value)
                }
            }
            // The summary curve: the equity at each session's last bar.
            if session.map({ !$0.contains(time) }) ?? true { session = calendar.session(containing: time) }
            if index + 1 == count || !(session?.contains(times[index + 1]) ?? false) {
                curve.append(EquityPoint(time: time, equity: Money.exactDecimal(micros: value)))
            }
        }
        if pending != nil { unfilled += 1 } // still waiting for a bar when the range ended

        let lastClose = closes.last.map { Money.decimal(fromStored: $0) } ?? 0
        let firstOpen = first < count ? Money.decimal(fromStored: series.opens[first]) : 0
        let final = equity.micros.last.map { Money.decimal(micros: $0) } ?? settings.capital
        return BacktestResult(
            algorithm: name, ticker: ticker, settings: settings,
            firstBar: first < count ? times[first] : nil, lastBar: first < count ? times.last : nil,
            bars: count - first, fills: fills, refused: refused, unfilled: unfilled, errors: errors,
            finalEquity: final, sharesHeld: shares, roundTrips: roundTrips, wins: wins,
            maxDrawdown: BacktestResult.ratio(Decimal(drawdown.peak - drawdown.trough), Decimal(drawdown.peak)),
            buyAndHoldReturn: BacktestResult.ratio(lastClose - firstOpen, firstOpen),
            barsHolding: holding, equityCurve: curve, minuteEquity: equity)
    }

    /// Runs the algorithm on the bar at `index` as the executor would at that minute, and writes down the order the guards allow.
    mutating func decide(at index: Int, in bars: BacktestBars) {
        input.bars.move(endingAt: index, count: barsNeeded)
        input.now = bars.times[index]
        input.held = (shares, uninvested, bookCashMicros)
        let decision: AlgorithmDecision
        do {
            decision = try algorithm.decide(input)
        } catch {
            errors += 1
            return
        }
        // A hold costs nothing more: no price, no Decimal.
        if case .hold = decision.action { return }
        guard let plan = OrderPlan(decision, lastPrice: input.lastPrice) else { return }
        let position = Position(
            tradeCount: trades.count, shares: shares, invested: Money.exactDecimal(micros: investedMicros),
            lastTradeAt: trades.last?.timestamp, lastTradePrice: trades.last?.price)
        if plan.refusal(initialCapital: settings.capital, position: position) != nil {
            refused += 1
            return
        }
        // Buys go out as limit orders, as live: the sized price plus the cushion, never more than the cash allows.
        // In micro-dollars: the same limit as `OrderGuards.buyLimit`'s, without its Decimal division.
        let limit = plan.side == .buy
            ? OrderGuards.buyLimitMicros(shares: plan.shares, priceMicros: Self.micros(stored: bars.series.closes[index]), cashMicros: bookCashMicros)
                ?? Self.micros(OrderGuards.buyLimit(shares: plan.shares, price: plan.price, cash: uninvested))
            : nil
        switch settings.fill {
        case .close:
            if let limit, Self.micros(stored: bars.series.closes[index]) > limit {
                unfilled += 1
                return
            }
            fill(plan, decidedAt: bars.times[index], at: index, in: bars, base: bars.series.closes[index])
        case .nextOpen:
            pending = Order(index: index, plan: plan, limit: limit)
        }
    }

    /// The order decided on bar `order.index` meets the market: at the open of the bar that begins after
    /// it reached the broker, if the ticker has one before the executor would cancel it.
    mutating func settle(_ order: Order, before next: Int, in bars: BacktestBars) {
        let times = bars.times
        let decided = times[order.index]
        guard let session = calendar.session(containing: decided) else {
            unfilled += 1
            return
        }
        let sent = decided.adding(minutes: 1)
        var fillAt: Int?
        var overnight = false
        if sent < session.close {
            // Sent during minute M+1: the bar of M+2, in this session, or nothing (canceled as M+1 begins).
            let target = decided.adding(minutes: 2)
            var probe = order.index + 1
            while probe < times.count, times[probe] < target { probe += 1 }
            if probe < times.count, times[probe] == target, target < session.close { fillAt = probe }
            // No bar to fill at before the close: it expires with the session (closed, nothing skipped); without a
            // bar at M+2 it is still open as M+1 begins: canceled, and the card skipped at M+1.
            if fillAt == nil, target < session.close { skipAt = sent }
        } else if next < times.count, let following = try? calendar.nextMarketMinute(after: decided),
            let nextSession = calendar.session(containing: following), nextSession.contains(times[next])
        {
            // Sent after the close: it waits for the next session's first bar.
            fillAt = next
            overnight = true
        }
        guard let fillAt else {
            unfilled += 1
            return
        }
        if let limit = order.limit, Self.micros(stored: bars.opens[fillAt]) > limit {
            // The open gapped past the buy's limit. Live, the executor cancels it as the next minute begins, before
            // that bar is over; only an order that waited overnight is looked at after its first bar ended, and
            // fills at its limit when the bar's low reached it.
            if overnight, Self.micros(stored: bars.lows[fillAt]) <= limit {
                fill(order.plan, decidedAt: decided, at: fillAt, in: bars, base: Money.stored(Money.exactDecimal(micros: limit)))
            } else {
                unfilled += 1
                skipAt = overnight ? times[fillAt] : sent
            }
            return
        }
        fill(order.plan, decidedAt: decided, at: fillAt, in: bars, base: bars.opens[fillAt])
    }

    mutating func fill(_ plan: OrderPlan, decidedAt: Timestamp, at fillIndex: Int, in bars: BacktestBars, base stored: Double) {
        let time = bars.times[fillIndex]
        var price = Money.exactDecimal(fromStored: stored)
        var priceMicros = Self.micros(stored: stored)
        if slippage > 0 {
            price = Money.rounded(price * (plan.side == .buy ? 1 + slippage : 1 - slippage), scale: Money.priceScale)
            priceMicros = Self.micros(price)
        }
        let amount = Int64(plan.shares) * priceMicros
        if shares == 0 {
            tripCostMicros = 0
            tripProceedsMicros = 0
        }
        switch plan.side {
        case .buy:
            unvalued.append(Unvalued(index: fillIndex, shares: plan.shares, cash: -amount))
            shares += plan.shares
            investedMicros += amount
            bookCashMicros += plan.side == .buy ? -amount : amount
            tripCostMicros += amount
        case .sell:
            unvalued.append(Unvalued(index: fillIndex, shares: -plan.shares, cash: amount))
            shares -= plan.shares
            investedMicros -= amount
            bookCashMicros += plan.side == .buy ? -amount : amount
            tripProceedsMicros += amount
        }
        // The same amount as capital − invested, without Decimal arithmetic (an algorithm sees it as its cash).
        uninvested = Money.exactDecimal(micros: bookCashMicros)
        commissionMicros += commissionEach
        tripCostMicros += commissionEach
        if shares == 0, plan.side == .sell {
            roundTrips += 1
            if tripProceedsMicros > tripCostMicros { wins += 1 }
        }
        input.transactions.append(Trade(
            id: Int64(trades.count + 1), algorithmId: 0, side: plan.side, shares: plan.shares, price: price, timestamp: time))
        fills.append(BacktestFill(
            time: time, decidedAt: decidedAt, side: plan.side, shares: plan.shares, price: price,
            commission: settings.commission, explanation: plan.decision.explanation))
    }
}
