import AutoTraderCore
import Foundation

/// What "now" means for the dashboard's cards: the broker's clock (the simulator's in simulated mode)
/// and the sessions around it.
struct DashboardMoment: Hashable, Sendable {
    /// The broker's clock now, to the second.
    let brokerNow: Timestamp
    let marketOpen: Bool
    /// Today's session: the one open now, else the last one begun before now (nil outside the calendar).
    let session: MarketSession?
    /// The close of the session before `session`.
    let previousClose: Timestamp?
    /// Simulated mode: a card's `created_at` is on the wall clock, not the broker's (see `EquityHistory.Life`).
    let simulated: Bool

    init(brokerNow: Timestamp, marketOpen: Bool, session: MarketSession?, previousClose: Timestamp?, simulated: Bool) {
        self.brokerNow = brokerNow
        self.marketOpen = marketOpen
        self.session = session
        self.previousClose = previousClose
        self.simulated = simulated
    }

    init(brokerNow: Timestamp, marketOpen: Bool, calendar: MarketCalendar, simulated: Bool) {
        self.brokerNow = brokerNow
        self.marketOpen = marketOpen
        self.simulated = simulated
        var today: MarketSession?, previous: MarketSession?
        var day = calendar.newYorkDate(of: brokerNow)
        // Two sessions back at most a fortnight (the longest closure since 2001 was four weekdays).
        for _ in 0..<15 {
            if let session = calendar.session(on: day), session.open <= brokerNow {
                if today == nil { today = session } else { previous = session; break }
            }
            day = day.adding(days: -1)
        }
        session = today
        previousClose = previous?.close
    }

    /// What a cached build depends on besides the databases: the broker's minute and the sessions.
    var cacheKey: [Int64] {
        [brokerNow.minuteStart.secondsSinceEpoch, marketOpen ? 1 : 0, session?.open.secondsSinceEpoch ?? 0, previousClose?.secondsSinceEpoch ?? 0]
    }
}

/// A running card as GET /api/algorithms lists it: the card, its P&L since the previous session's close,
/// and since when it has not been current.
struct ListedCard: Encodable {
    let card: Card
    let pnlToday: Decimal
    let staleSince: Timestamp?

    enum CodingKeys: String, CodingKey { case pnlToday = "pnl_today", staleSince = "stale_since" }

    func encode(to encoder: any Encoder) throws {
        try card.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Money.rounded(pnlToday), forKey: .pnlToday)
        try container.encode(staleSince, forKey: .staleSince) // null, not absent
    }
}

/// The running cards' totals (exact sums, rounded to cents once, written as decimal strings).
struct CardsSummary: Encodable {
    var pnl: Decimal = 0
    var pnlToday: Decimal = 0
    var value: Decimal = 0
    var allocation: Decimal = 0
    var up = 0
    var down = 0
    var flat = 0

    enum CodingKeys: String, CodingKey { case pnl, pnlToday = "pnl_today", value, allocation, up, down, flat }

    mutating func add(_ card: ListedCard) {
        pnl += card.card.valuation.pnl
        pnlToday += card.pnlToday
        value += card.card.valuation.currentValue
        allocation += card.card.valuation.initialCapital
        let cents = Money.rounded(card.card.valuation.pnl)
        if cents > 0 { up += 1 } else if cents < 0 { down += 1 } else { flat += 1 }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Money.centsText(pnl), forKey: .pnl)
        try container.encode(Money.centsText(pnlToday), forKey: .pnlToday)
        try container.encode(Money.centsText(value), forKey: .value)
        try container.encode(Money.centsText(allocation), forKey: .allocation)
        try container.encode(up, forKey: .up)
        try container.encode(down, forKey: .down)
        try container.encode(flat, forKey: .flat)
    }
}

/// The running cards as JSON, rebuilt only when system.db or stocks.db changed since the last build,
/// or the broker's minute or session did: every answer reflects everything committed before the
/// request, yet a burst of requests between two commits reads SQLite only for the two change checks.
actor CardsCache {
    /// A card is stale when the market is open and its newest bar or newest decision is of a minute
    /// that began more than this many seconds ago (broker clock): health's `dataStaleAfter`.
    static let staleAfter: Int64 = 180

    private let reader: CardReader
    private let equity: EquityHistory
    private let systemWatch: ChangeWatch
    private let stocksWatch: ChangeWatch
    private var versions: (Int64, Int64)?
    private var key: [Int64] = []
    private var json: String = "[]"
    private var summaryJSON: String = "{}"
    /// Each card's value at a previous session's close (it no longer changes once that close has passed).
    private var baselines: [Int64: (close: Timestamp, value: Decimal)] = [:]
    /// When this process first listed each card, on the broker's clock: a card with no decision or bar
    /// yet is not stale before it has had its chance.
    private var firstSeen: [Int64: Timestamp] = [:]
    private(set) var builds = 0

    init(reader: CardReader, equity: EquityHistory) throws {
        self.reader = reader
        self.equity = equity
        systemWatch = try ChangeWatch(path: reader.system.path)
        stocksWatch = try ChangeWatch(path: reader.stocks.path)
    }

    /// The JSON array of the running cards, oldest first, and the summary object.
    func runningCardsJSON(at moment: DashboardMoment) throws -> (cards: String, summary: String) {
        // Read the versions before the cards: a commit that lands in between changes the version
        // again, so the next request rebuilds (never a stale answer kept as fresh).
        let current = (try systemWatch.version(), try stocksWatch.version())
        if let versions, versions == current, key == moment.cacheKey { return (json, summaryJSON) }
        let cards = try reader.cards(status: .running)
        let spans = try reader.system.decisionSpans(algorithmIds: cards.map(\.algorithm.id))
        var summary = CardsSummary()
        let listed = try cards.map { card -> ListedCard in
            let id = card.algorithm.id
            let seen = firstSeen[id] ?? moment.brokerNow
            firstSeen[id] = seen
            // (The fills' span from SQL, not the equity's prefix sums: those are kept for a few cards only.)
            let life = EquityHistory.life(
                of: card.algorithm, firstFill: spans[id]?.firstFill?.secondsSinceEpoch, lastFill: spans[id]?.lastFill?.secondsSinceEpoch,
                span: spans[id], brokerNow: moment.brokerNow, simulated: moment.simulated)
            let listed = ListedCard(
                card: card, pnlToday: card.valuation.currentValue - (try baseline(card, life: life, moment: moment)),
                staleSince: staleSince(card, span: spans[id], seen: seen, moment: moment))
            summary.add(listed)
            return listed
        }
        let live = Set(cards.map(\.algorithm.id))
        baselines = baselines.filter { live.contains($0.key) }
        firstSeen = firstSeen.filter { live.contains($0.key) }
        json = try JSONOutput.encode(listed)
        summaryJSON = try JSONOutput.encode(summary)
        versions = current
        key = moment.cacheKey
        builds += 1
        return (json, summaryJSON)
    }

    /// What today's P&L is measured from: the card's value at the previous session's close, or its
    /// allocation when it began during today's session (or no previous session is known).
    private func baseline(_ card: Card, life: EquityHistory.Life, moment: DashboardMoment) throws -> Decimal {
        let capital = card.valuation.initialCapital
        guard let session = moment.session, let close = moment.previousClose, life.start < session.open else { return capital }
        if let cached = baselines[card.algorithm.id], cached.close == close { return cached.value }
        let value = try equity.values(of: card.algorithm, at: [close.secondsSinceEpoch - 1]).first ?? capital
        baselines[card.algorithm.id] = (close, value)
        return value
    }

    /// While the market is open: the end of the last minute for which the card had both a bar and a
    /// decision, once that minute began more than `staleAfter` ago; else nil.
    private func staleSince(_ card: Card, span: SystemDatabase.DecisionSpan?, seen: Timestamp, moment: DashboardMoment) -> Timestamp? {
        guard moment.marketOpen, let session = moment.session else { return nil }
        let never = Timestamp(secondsSinceEpoch: .min / 2)
        // Nothing is owed from before the open; nor, outside simulation, from before the card was created;
        // nor, until its first decision, from before this process first listed it (its ticker may only
        // now be subscribed).
        var floor = session.open.adding(minutes: -1)
        if span == nil { floor = max(floor, seen.minuteStart.adding(minutes: -1)) }
        if !moment.simulated { floor = max(floor, card.algorithm.createdAt.minuteStart.adding(minutes: -1)) }
        let minute = max(min(card.latestBarTime ?? never, span?.last ?? never), floor)
        guard moment.brokerNow.secondsSinceEpoch - minute.secondsSinceEpoch > Self.staleAfter else { return nil }
        return minute.adding(minutes: 1)
    }

    /// Forces the next call to rebuild (this process's own writes are seen by data_version too; belt and braces).
    func invalidate() { versions = nil }
}
