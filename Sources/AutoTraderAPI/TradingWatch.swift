import AutoTraderCore
import Foundation
import Logging
import ServiceLifecycle

/// Tells the owner's phone when trading halts and resumes during market hours, and sends the day's summary
/// at the close. Runs in the api (the executor may be the one that is down) and judges "halted" exactly as
/// `/api/health`'s `trading.state` does, by calling it. It only writes outbox rows; `NotificationService`
/// delivers them.
struct TradingWatch: Service {
    let routes: APIRoutes
    let interval: Duration
    let logger: Logger

    /// Two judgements in a row, `interval` apart, before a halt is announced: one odd reading is not a halt.
    static let haltConfirmations = 2
    /// After a restart, a session that closed less than this long ago (broker time) still gets its summary.
    static let lateSummaryWindow: Int64 = 6 * 3600

    /// What the watch remembers between looks.
    struct Memory {
        var haltedJudgements = 0
        /// The session last seen open: its summary is due once the broker's clock passes its close.
        var openSession: MarketSession?
        var firstLook = true
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var memory = Memory()
            while !Task.isCancelled {
                do {
                    try await look(&memory)
                } catch {
                    logger.warning("trading watch: could not judge or write", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: interval)
            }
        }
    }

    func look(_ memory: inout Memory) async throws {
        let snapshot = await routes.broker.snapshot()
        guard snapshot.clock != nil else { return } // without the broker's clock there is no "market hours" to judge
        let moment = routes.dashboardMoment(snapshot)
        let report = await HealthReport.build(
            system: routes.system, stocks: routes.stocks, mode: routes.mode, broker: snapshot, moment: moment,
            pinPolicy: routes.pins.policy, defaultHeartbeatInterval: routes.heartbeatInterval)
        try summarizeClose(&memory, moment: moment)
        try alert(&memory, trading: report.trading, brokerNow: moment.brokerNow)
    }

    /// Halted → one "halted" message; ok again → one "resumed". The outbox's newest such row says which was
    /// last told, so a restarted api neither repeats a halt nor forgets to say it ended.
    func alert(_ memory: inout Memory, trading: HealthReport.Trading, brokerNow: Timestamp) throws {
        let last = try routes.system.lastTradingAlert()
        let toldHalted = last?.notification.kind == .halted
        switch trading.state {
        case .halted:
            memory.haltedJudgements += 1
            guard !toldHalted, memory.haltedJudgements >= Self.haltConfirmations else { return }
            let since = trading.since ?? brokerNow
            let message = OwnerNotification.halted(reason: trading.reasons.joined(separator: "; "), brokerTime: since, at: .now())
            if try routes.system.enqueueNotification(message) {
                logger.notice("trading halted: the owner is told", metadata: ["reasons": "\(trading.reasons.joined(separator: "; "))"])
            }
        case .ok:
            memory.haltedJudgements = 0
            guard toldHalted else { return }
            let since = last.flatMap { $0.notification.data["broker_time"] }.flatMap { Timestamp($0) }
            if try routes.system.enqueueNotification(.resumed(haltedSince: since, brokerTime: brokerNow, at: .now())) {
                logger.notice("trading resumed: the owner is told")
            }
        case .closed:
            // Outside market hours nothing trades, so nothing halts or resumes: the next open judges again.
            memory.haltedJudgements = 0
        }
    }

    /// Once the broker's clock passes the close of the session last seen open, each card's P&L and the total.
    func summarizeClose(_ memory: inout Memory, moment: DashboardMoment) throws {
        var due = memory.openSession
        if memory.firstLook, due == nil, !moment.marketOpen, let session = moment.session, session.close <= moment.brokerNow,
           moment.brokerNow.secondsSinceEpoch - session.close.secondsSinceEpoch < Self.lateSummaryWindow
        {
            due = session // started after a close: that evening's summary may not have been written yet
        }
        memory.firstLook = false
        if let session = due, moment.brokerNow >= session.close {
            try writeSummary(session)
            memory.openSession = nil
        }
        if moment.marketOpen, let session = moment.session, session.close > moment.brokerNow { memory.openSession = session }
    }

    func writeSummary(_ session: MarketSession) throws {
        let eventID = "close-\(session.date)"
        guard try !routes.system.hasNotification(eventID: eventID) else { return }
        let (rows, _) = try routes.system.cardStates(status: nil)
        var results: [OwnerNotification.CardResult] = []
        for (card, position) in rows {
            // The cards that traded that day: running ones, and those stopped during it.
            guard card.status == .running || (card.stoppedAt.map { $0 >= session.open } ?? false) else { continue }
            let close = try routes.stocks.bars(ticker: card.ticker, before: session.close, count: 1).last
            let valuation = CardValuation(
                initialCapital: card.initialCapital, position: position,
                currentPrice: close.map { Money.rounded(Decimal($0.close), scale: Money.priceScale) })
            results.append(.init(card: card, value: valuation.currentValue, pnl: valuation.pnl))
        }
        guard !results.isEmpty else { return }
        if try routes.system.enqueueNotification(.closeSummary(session: session, cards: results, at: .now())) {
            logger.info("close summary written", metadata: ["session": "\(session.date)", "cards": "\(results.count)"])
        }
    }
}
