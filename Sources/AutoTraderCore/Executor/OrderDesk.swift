import Foundation
import Logging

/// Sends order intents to the broker and follows them until they close, crash-safely.
///
/// The intent is in system.db before anything is sent. Submits use the intent's client order id,
/// so a retry or a restart can never make a second order. Open intents are read back from the
/// broker by client order id until they end; the fill is recorded as a transaction in the same
/// SQLite transaction that closes the intent. An intent the broker never received is closed
/// unsent (never sent late); an order still open when its minute has passed is canceled and
/// what filled is recorded. An intent closed unsent stays watched for about a session: a request a
/// dying process had already written to its socket can still arrive, and its fill is then recorded.
///
/// Fills are learned two ways, both ending in the same idempotent `closeIntent`: from Alpaca's
/// trade-updates stream (`record(_:)`) as the event arrives, and by asking the broker (`follow`).
/// While the stream listens, the periodic look at an open order comes only every `streamedLook`
/// (a safety net); at each (re)connect and each new minute every open order is still asked about.
public actor OrderDesk {
    private let client: AlpacaClient
    private let system: SystemDatabase
    private let logger: Logger
    /// How long after its send an intent unknown to the broker is taken as never received.
    private let notFoundGrace: Duration
    /// Submits under way in this process: the broker may not know them yet.
    private var inFlight: Set<String> = []
    private var cancelRequested: Set<String> = []
    /// The last look for intents closed unsent whose order arrived after all (at most one list request a minute).
    private var lastLateLook: ContinuousClock.Instant?
    /// How long (wall time) an intent closed unsent is watched: longer than a session.
    static let lateWatch: Int64 = 7 * 3600
    /// Paced looks at an order that stays open: 0.2 s, then twice as long each time up to 5 s. A market
    /// order normally ends before the first look; one that doesn't (a halted or thin stock) must not
    /// spend the account's 200 requests a minute, which the other services share.
    private var nextLook: [String: (at: ContinuousClock.Instant, wait: Duration)] = [:]
    static let firstWait: Duration = .milliseconds(200)
    static let longestWait: Duration = .seconds(5)
    /// The paced look while the trade-updates stream listens: its events close orders; this only catches one it lost.
    private let streamedLook: Duration
    /// The trade-updates stream is listening (and the open orders were asked about since it began).
    public private(set) var streamListening = false
    public private(set) var lastError: String?

    /// Where a fill was learned, for the intent's detail and the log.
    enum Source: String {
        case poll
        case tradeUpdate = "trade update"
    }

    public init(
        client: AlpacaClient, system: SystemDatabase, logger: Logger, notFoundGrace: Duration = .seconds(5),
        streamedLook: Duration = .seconds(30)
    ) {
        self.client = client
        self.system = system
        self.logger = logger
        self.notFoundGrace = notFoundGrace
        self.streamedLook = streamedLook
    }

    /// The stream listens again: its events are expected from now on, so the paced looks slow down. The
    /// caller then asks about every open order once (`follow`), for the events sent while nobody listened.
    public func streamStarted() {
        streamListening = true
        nextLook.removeAll()
    }

    /// The stream is down: events may be lost, so open orders are asked about at the usual pace at once.
    public func streamStopped() {
        guard streamListening else { return }
        streamListening = false
        nextLook.removeAll()
    }

    /// Sends a written intent. Returns a short outcome for the decision log.
    public func submit(_ intent: OrderIntent, symbol: String) async -> String {
        inFlight.insert(intent.clientOrderId)
        defer { inFlight.remove(intent.clientOrderId) }
        let request = OrderRequest(
            symbol: symbol, qty: intent.shares, side: intent.side == .buy ? .buy : .sell, clientOrderId: intent.clientOrderId,
            limitPrice: intent.limitPrice)
        var metadata: Logger.Metadata = [
            "card": "\(intent.algorithmId)", "ticker": "\(symbol)", "client_order_id": "\(intent.clientOrderId)",
            "side": "\(intent.side.rawValue)", "shares": "\(intent.shares)", "limit": "\(intent.limitPrice?.plainString ?? "market")",
        ]
        do {
            let order = try await client.submitOrder(request)
            metadata["order_id"] = "\(order.id)"
            try system.markIntentSent(id: intent.id, brokerOrderId: order.id)
            logger.info("order sent", metadata: metadata)
            if order.status.isTerminal { try close(intent, with: order) }
            return "sent as order \(order.id) (\(order.status))"
        } catch let error as AlpacaError where Self.isRefusal(error) {
            // The broker looked at it and said no: nothing was ordered, nothing is recorded.
            metadata["error"] = "\(error)"
            logger.warning("order refused by the broker", metadata: metadata)
            do {
                _ = try system.closeIntent(
                    id: intent.id, state: .rejected, filledShares: 0, fillPrice: nil, filledAt: nil, brokerOrderId: nil,
                    detail: error.message)
            } catch {
                logger.error("could not close a refused intent; it will be reconciled", metadata: ["error": "\(error)"])
            }
            return "refused by the broker: \(error.message)"
        } catch {
            // No clear answer: the order may or may not exist. `follow` asks the broker by client order id.
            metadata["error"] = "\(error)"
            lastError = "submit: \(error)"
            logger.warning("order submit got no clear answer; will reconcile by client_order_id", metadata: metadata)
            return "no clear answer from the broker (\(error)); reconciling"
        }
    }

    /// Reads every open intent back from the broker and closes those that ended. Orders from
    /// a minute before `currentMinute` that are still open are canceled first (the rest of a
    /// partial fill never outlives its minute). `paced` (the periodic look) skips an order whose
    /// next look isn't due; the looks at start and at each new minute see every open order.
    public func follow(currentMinute: Timestamp?, paced: Bool = false) async {
        let open: [OrderIntent]
        do {
            open = try system.openIntents()
        } catch {
            lastError = "reading open intents: \(error)"
            logger.error("could not read open intents", metadata: ["error": "\(error)"])
            return
        }
        let live = Set(open.map(\.clientOrderId))
        cancelRequested.formIntersection(live)
        nextLook = nextLook.filter { live.contains($0.key) }
        let now = ContinuousClock.now
        let (first, longest) = streamListening ? (streamedLook, max(streamedLook, Self.longestWait)) : (Self.firstWait, Self.longestWait)
        var toFollow: [OrderIntent] = []
        for intent in open where !inFlight.contains(intent.clientOrderId) {
            if !paced {
                toFollow.append(intent)
            } else if let look = nextLook[intent.clientOrderId] {
                if look.at <= now { toFollow.append(intent) }
            } else if streamListening {
                // Its events will tell: the first paced look only after `streamedLook`, in case one is lost.
                nextLook[intent.clientOrderId] = (now + first, first)
            } else {
                toFollow.append(intent)
            }
        }
        if !paced { await lookForLateOrders() }
        guard !toFollow.isEmpty else { return }
        for intent in toFollow {
            let wait = nextLook[intent.clientOrderId].map { min($0.wait * 2, longest) } ?? first
            nextLook[intent.clientOrderId] = (now + wait, wait)
        }
        // Many open orders (a minute in which many cards traded): one list request for the newest
        // orders instead of one request each; any not in the list are asked about one by one.
        var listed: [String: AlpacaOrder] = [:]
        if toFollow.count > 2 {
            do {
                let limit = min(500, toFollow.count * 2 + 20)
                for order in try await client.orders(status: .all, limit: limit) { listed[order.clientOrderId] = order }
            } catch {
                logger.warning("could not list recent orders; asking one by one", metadata: ["error": "\(error)"])
            }
        }
        for intent in toFollow {
            if let order = listed[intent.clientOrderId] {
                await follow(intent, order: order, currentMinute: currentMinute)
            } else {
                await follow(intent, currentMinute: currentMinute)
            }
        }
    }

    /// Acts on one trade-updates event: an order that ended closes its intent and records what filled,
    /// through the same `close` (and so the same exactly-once transaction) as a look at the broker. An event
    /// that doesn't fit its intent (side, size, order id) records nothing; the order is asked about instead.
    public func record(_ update: AlpacaTradeUpdate) async {
        let order = update.order
        var metadata: Logger.Metadata = [
            "event": "\(update.event)", "client_order_id": "\(order.clientOrderId)", "order_id": "\(order.id)",
            "status": "\(order.status)",
        ]
        do {
            guard let intent = try system.openIntents().first(where: { $0.clientOrderId == order.clientOrderId }) else {
                try await recordLate(update)
                return
            }
            metadata["card"] = "\(intent.algorithmId)"
            if let problem = Self.mismatch(intent, order) {
                lastError = "trade update for \(intent.clientOrderId) ignored: \(problem)"
                logger.error("trade update does not fit its order intent; ignored, the order will be asked about", metadata: metadata.merging(["problem": "\(problem)"]) { $1 })
                nextLook[intent.clientOrderId] = nil
                return
            }
            if order.status.isTerminal {
                try close(intent, with: order, source: .tradeUpdate)
            } else if intent.state == .pending {
                try system.markIntentSent(id: intent.id, brokerOrderId: order.id)
            }
        } catch {
            lastError = "recording a trade update for \(order.clientOrderId): \(error)"
            logger.warning("could not record a trade update; the order will be asked about", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            nextLook[order.clientOrderId] = nil
        }
    }

    /// Why an event's order can't be an intent's (nil: it can). A wrong fill is worse than a late one.
    static func mismatch(_ intent: OrderIntent, _ order: AlpacaOrder) -> String? {
        if order.side != (intent.side == .buy ? .buy : .sell) { return "side \(order.side.rawValue), the intent is a \(intent.side.rawValue)" }
        if let known = intent.brokerOrderId, known != order.id { return "order id \(order.id), the intent's is \(known)" }
        let filled = order.filledQty
        if filled < 0 || filled > Decimal(intent.shares) || filled != Decimal(NSDecimalNumber(decimal: filled).intValue) {
            return "filled_qty \(filled.plainString) of \(intent.shares) whole shares"
        }
        if filled > 0, (order.filledAvgPrice ?? 0) <= 0 { return "\(filled.plainString) shares filled without a price" }
        return nil
    }

    /// The end of an order whose intent was closed unsent (its request reached the broker after all): the
    /// intent is re-opened and closed with it, so its fill is recorded once. Only the end: an order still
    /// working is left to the minute's list look, as before (re-opening it now would cancel it before it
    /// could fill). Events for orders that are not open intents (closed already, or placed by hand) change nothing.
    private func recordLate(_ update: AlpacaTradeUpdate) async throws {
        let order = update.order
        guard order.status.isTerminal, let intent = try system.unsentIntents(since: Timestamp.now().adding(seconds: -Self.lateWatch))
            .first(where: { $0.clientOrderId == order.clientOrderId }),
            Self.mismatch(intent, order) == nil,
            let reopened = try system.reopenLateIntent(id: intent.id, brokerOrderId: order.id)
        else { return }
        logger.warning("an order closed as never received arrived after all (trade update); following it", metadata: [
            "card": "\(intent.algorithmId)", "client_order_id": "\(intent.clientOrderId)", "order_id": "\(order.id)",
            "status": "\(order.status)", "filled": "\(order.filledQty)",
        ])
        try close(reopened, with: order, source: .tradeUpdate)
    }

    /// Cards with an intent still open (no new order for them until it closes).
    public func cardsWithOpenIntents() throws -> Set<Int64> {
        Set(try system.openIntents().map(\.algorithmId))
    }

    private func follow(_ intent: OrderIntent, currentMinute: Timestamp?) async {
        let metadata: Logger.Metadata = ["card": "\(intent.algorithmId)", "client_order_id": "\(intent.clientOrderId)"]
        do {
            guard let order = try await client.order(clientOrderID: intent.clientOrderId) else {
                // The grace counts from when the intent was written, so a restart doesn't start it again.
                let graceSeconds = Int64(notFoundGrace.components.seconds) + (notFoundGrace.components.attoseconds > 0 ? 1 : 0)
                guard Timestamp.now().secondsSinceEpoch - intent.createdAt.secondsSinceEpoch >= graceSeconds else { return }
                // Never received (the process died before sending, or every attempt failed). Sending it
                // now would trade on an old minute, so it is closed unsent and nothing is recorded.
                _ = try system.closeIntent(
                    id: intent.id, state: intent.state == .pending ? .unsent : .failed, filledShares: 0, fillPrice: nil,
                    filledAt: nil, brokerOrderId: nil, detail: SystemDatabase.notReceivedDetail)
                logger.warning("order intent never reached the broker; closed unsent (still watched)", metadata: metadata)
                return
            }
            await follow(intent, order: order, currentMinute: currentMinute)
        } catch {
            lastError = "following \(intent.clientOrderId): \(error)"
            logger.warning("could not read an order back; will retry", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    /// Acts on what the broker says of an intent's order: record it when it ended, cancel it when its minute passed.
    private func follow(_ intent: OrderIntent, order: AlpacaOrder, currentMinute: Timestamp?) async {
        let metadata: Logger.Metadata = ["card": "\(intent.algorithmId)", "client_order_id": "\(intent.clientOrderId)"]
        do {
            if order.status.isTerminal {
                try close(intent, with: order)
                return
            }
            if intent.state == .pending { try system.markIntentSent(id: intent.id, brokerOrderId: order.id) }
            if let currentMinute, intent.minute < currentMinute, !cancelRequested.contains(intent.clientOrderId) {
                logger.info("canceling the rest of an order from an earlier minute", metadata: metadata.merging([
                    "order_id": "\(order.id)", "status": "\(order.status)", "filled": "\(order.filledQty)",
                ]) { $1 })
                try await client.cancelOrder(id: order.id)
                // Only once the broker took the request: a failed cancel is asked again on the next look.
                cancelRequested.insert(intent.clientOrderId)
            }
        } catch {
            lastError = "following \(intent.clientOrderId): \(error)"
            logger.warning("could not read an order back; will retry", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    /// Intents closed unsent in the last session whose order the broker has after all: re-opened and
    /// followed like any other, so the fill is recorded exactly once (closing an intent is idempotent).
    /// One list request for the orders since the oldest such intent's minute, at most once a minute.
    private func lookForLateOrders() async {
        let now = ContinuousClock.now
        if let last = lastLateLook, now - last < .seconds(60) { return }
        do {
            let watched = try system.unsentIntents(since: Timestamp.now().adding(seconds: -Self.lateWatch))
            guard let oldest = watched.map(\.minute).min() else { return }
            lastLateLook = now
            // Orders are stamped on the broker's clock, as the intent's minute is.
            let orders = try await client.orders(status: .all, limit: 500, after: oldest.adding(seconds: -60).date, ascending: true)
            let byClientID = Dictionary(orders.map { ($0.clientOrderId, $0) }, uniquingKeysWith: { first, _ in first })
            for intent in watched {
                guard let order = byClientID[intent.clientOrderId],
                      let reopened = try system.reopenLateIntent(id: intent.id, brokerOrderId: order.id) else { continue }
                logger.warning("an order closed as never received arrived after all; following it", metadata: [
                    "card": "\(intent.algorithmId)", "client_order_id": "\(intent.clientOrderId)", "order_id": "\(order.id)",
                    "status": "\(order.status)", "filled": "\(order.filledQty)",
                ])
                await follow(reopened, order: order, currentMinute: Timestamp.now())
            }
        } catch {
            lastError = "looking for late orders: \(error)"
            logger.warning("could not look for orders that arrived late; will retry", metadata: ["error": "\(error)"])
        }
    }

    private func close(_ intent: OrderIntent, with order: AlpacaOrder, source: Source = .poll) throws {
        let filled = NSDecimalNumber(decimal: order.filledQty).intValue
        let state: OrderIntent.State
        switch order.status {
        case .filled: state = .filled
        case .rejected: state = .rejected
        default: state = .canceled // canceled, expired, replaced: what filled (if anything) stays filled
        }
        let filledAt = (order.filledAt ?? order.updatedAt).map { Timestamp(secondsSinceEpoch: Int64($0.timeIntervalSince1970.rounded(.down))) }
        let late = intent.detail == SystemDatabase.arrivedLateDetail
        let status = "broker status \(order.status)\(source == .tradeUpdate ? " (\(source.rawValue))" : "")"
        let closing = try system.closeIntent(
            id: intent.id, state: state, filledShares: filled, fillPrice: filled > 0 ? order.filledAvgPrice : nil,
            filledAt: filledAt, brokerOrderId: order.id,
            detail: late ? "\(SystemDatabase.arrivedLateDetail); \(status)" : status)
        guard !closing.wasAlreadyClosed else { return }
        var metadata: Logger.Metadata = [
            "card": "\(intent.algorithmId)", "ticker": "\(order.symbol)", "order_id": "\(order.id)",
            "client_order_id": "\(intent.clientOrderId)", "status": "\(order.status)", "source": "\(source.rawValue)",
        ]
        if let trade = closing.trade {
            metadata["shares"] = "\(trade.shares)"
            metadata["price"] = "\(trade.price.plainString)"
            metadata["transaction_id"] = "\(trade.id)"
            logger.info("fill recorded", metadata: metadata)
        } else {
            logger.notice("order closed with nothing filled", metadata: metadata)
        }
        if closing.stoppedAlgorithm {
            logger.info("card sold everything and is stopped", metadata: ["card": "\(intent.algorithmId)"])
        }
    }

    /// A definite "no" from the broker (the order does not exist), as opposed to no answer.
    static func isRefusal(_ error: AlpacaError) -> Bool {
        guard case .api(let status, _, _) = error else { return false }
        return (400..<500).contains(status) && status != 429 && status != 408 && !error.isDuplicateClientOrderID
    }
}
