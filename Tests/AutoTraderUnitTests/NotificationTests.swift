import Foundation
import GRDB
import Logging
import Synchronization
import Testing
@testable import AutoTraderAPI
@testable import AutoTraderCore

/// A clock the test moves by hand: the sender's back-off is checked without waiting for it.
final class ManualOutboxClock: OutboxClock {
    private let time: Mutex<Timestamp>
    init(_ start: Timestamp) { time = Mutex(start) }
    func now() -> Timestamp { time.withLock { $0 } }
    func advance(seconds: Int64) { time.withLock { $0 = $0.adding(seconds: seconds) } }
    func sleep(for duration: Duration) async throws { await Task.yield() }
}

/// Notifications to the owner's phone: the outbox in system.db written with the facts it reports, the sender's
/// retries and back-off (an injected clock, a real HTTP receiver on loopback), both formats, the doctor's line.
@Suite struct NotificationTests {
    static let minute = Timestamp.at("2024-06-04T14:31:00Z")
    let directory = TemporaryDirectory("notify")
    let system: SystemDatabase

    init() throws {
        system = try SystemDatabase.open(path: directory.file("system.db"), create: true)
    }

    func sender(
        _ receiver: NotificationReceiver, clock: ManualOutboxClock, format: String = "ntfy", url: String? = nil,
        timeout: Duration = .seconds(30)
    ) throws -> NotificationSender {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var policy = DeliveryPolicy()
        // A deadline for an answer that will come, not a stopwatch: under the unit target's parallel load a loopback
        // answer once took more than 2 s. (A refused connection is retried by the HTTP client until this passes.)
        policy.requestTimeout = timeout
        return NotificationSender(
            system: system, target: try NotifyTarget(url ?? receiver.url, format: format), clock: clock, policy: policy, logger: logger)
    }

    /// A filled buy through the executor's path (intent, then close), returning the transaction's id.
    func fill(_ card: AlgorithmInstance, minute: Timestamp = minute, side: TradeSide = .buy, shares: Int = 2) throws -> Int64 {
        let intent = try system.createIntent(algorithmId: card.id, minute: minute, side: side, shares: shares, price: 100, reason: "test").get()
        let closing = try system.closeIntent(
            id: intent.id, state: .filled, filledShares: shares, fillPrice: Decimal(string: "100.25")!, filledAt: minute.adding(minutes: 2),
            brokerOrderId: "b-\(intent.id)", detail: "")
        return closing.trade!.id
    }

    // MARK: - The outbox is written with the facts

    @Test func aFillARejectionARefusalAndALockoutAreWrittenWithTheirFactsOnceEach() throws {
        let card = try system.createAlgorithm(ticker: "NVDA", algorithmType: "sma_crossover", initialCapital: 1000)
        let tradeID = try fill(card)
        // Closing the same intent again records nothing, and tells nothing again.
        let intent = try system.intents(algorithmId: card.id)[0]
        _ = try system.closeIntent(id: intent.id, state: .filled, filledShares: 2, fillPrice: 100, filledAt: nil, brokerOrderId: nil, detail: "")

        let rejected = try system.createIntent(
            algorithmId: card.id, minute: Self.minute.adding(minutes: 5), side: .sell, shares: 1, price: 100, reason: "x").get()
        _ = try system.closeIntent(
            id: rejected.id, state: .rejected, filledShares: 0, fillPrice: nil, filledAt: nil, brokerOrderId: nil, detail: "insufficient qty")

        // Refusals: one message a card a day, however many minutes are refused.
        for offset in 0..<3 {
            try system.logDecisions([DecisionEntry(
                algorithmId: card.id, minute: Self.minute.adding(minutes: 10 + offset), decision: .refused, shares: 500,
                reason: "buy 500: crossed up", outcome: "costs more than the cash")])
        }
        try system.logDecisions([DecisionEntry(algorithmId: card.id, minute: Self.minute, decision: .hold, reason: "flat")])

        // Wrong PINs: the third of the hour and the one that uses it up tell the owner; the PIN is never in it.
        try system.setPIN("48213907")
        var policy = PINGuessPolicy()
        policy.perHour = 4
        var now = Timestamp.at("2024-06-04T15:00:00Z")
        for guess in ["11112222", "99990000", "55556666", "77778888"] {
            _ = try system.checkPIN(guess, client: "192.0.2.7", policy: policy, now: now)
            now = now.adding(seconds: 3600 / 8)
        }

        let rows = try system.notifications()
        let kinds = rows.map(\.notification.kind)
        #expect(kinds == [.fill, .rejected, .refused, .pinLockout, .pinLockout], "\(rows.map(\.notification.eventID))")
        #expect(rows[0].notification.eventID == "fill-\(tradeID)")
        #expect(rows[0].notification.title == "BUY 2 NVDA at 100.25")
        #expect(rows[0].notification.data["price"] == "100.25" && rows[0].notification.data["card_id"] == "\(card.id)")
        #expect(rows[1].notification.eventID == "rejected-\(rejected.clientOrderId)" && rows[1].notification.body.contains("insufficient qty"))
        #expect(rows[2].notification.eventID == "refused-\(card.id)-2024-06-04")
        #expect(rows[3].notification.data["wrong_pins"] == "3" && rows[4].notification.data["wrong_pins"] == "4")
        for row in rows {
            #expect(row.state == .pending && row.attempts == 0)
            for secret in ["48213907", "11112222", "99990000", "55556666", "77778888", "2020"] {
                #expect(!row.notification.body.contains(secret) && !row.notification.title.contains(secret))
                #expect(!row.notification.data.values.contains { $0.contains(secret) })
            }
        }
    }

    /// The fill and its message commit together: a transaction that fails after the fill leaves neither.
    @Test func aFillThatRollsBackLeavesNoMessage() throws {
        let card = try system.createAlgorithm(ticker: "AAPL", algorithmType: "sma_crossover", initialCapital: 1000)
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try system.pool.write { db in
                let trade = try SystemDatabase.recordTrade(db, algorithmId: card.id, side: .buy, shares: 1, price: 10, at: Self.minute)
                try SystemDatabase.notifyFill(db, trade: trade)
                throw Abort()
            }
        }
        #expect(try system.notifications().isEmpty)
        #expect(try system.trades(algorithmId: card.id).isEmpty)
    }

    // MARK: - The sender

    /// Failures are retried 1 s, 2 s, 4 s … later (capped), the same event id and body every time; sent once a
    /// 2xx comes, and never again.
    @Test func failuresAreRetriedWithDoublingBackOffAndTheSameEventID() async throws {
        let receiver = try await NotificationReceiver()
        let card = try system.createAlgorithm(ticker: "NVDA", algorithmType: "sma_crossover", initialCapital: 1000)
        let start = Timestamp.at("2024-06-04T16:00:00Z")
        let clock = ManualOutboxClock(start)
        try await system.pool.write { db in
            let trade = try SystemDatabase.recordTrade(db, algorithmId: card.id, side: .buy, shares: 3, price: 12, at: Self.minute)
            try SystemDatabase.enqueueNotification(db, .fill(trade, card: card), now: start)
        }
        receiver.script([.status(500), .status(503), .status(429), .status(404)])
        let sender = try sender(receiver, clock: clock)

        var expectedWaits: [Int64] = []
        for attempt in 1...4 {
            let step = try await sender.step()
            guard case .retry(_, let next, let error) = step else { Issue.record("attempt \(attempt): \(step)"); return }
            let wait = next.secondsSinceEpoch - clock.now().secondsSinceEpoch
            expectedWaits.append(wait)
            #expect(error.hasPrefix("HTTP "))
            // Not due yet: nothing is sent early.
            if wait > 1 {
                clock.advance(seconds: wait - 1)
                #expect(try await sender.step() == .waiting(until: next))
                clock.advance(seconds: 1)
            } else {
                clock.advance(seconds: wait)
            }
        }
        #expect(expectedWaits == [1, 2, 4, 8])
        #expect(try await sender.step() == .sent(eventID: "fill-1"))
        #expect(try await sender.step() == .idle)
        let received = receiver.received
        #expect(received.count == 5)
        #expect(Set(received.map(\.eventID)) == ["fill-1"] && Set(received.map(\.body)).count == 1)
        let row = try system.notifications()[0]
        #expect(row.state == .sent && row.attempts == 5 && row.sentAt == clock.now())

        // The back-off is capped, and a message a day old that still fails is given up.
        let policy = DeliveryPolicy()
        #expect(policy.retryDelay(afterAttempt: 9) == 256 && policy.retryDelay(afterAttempt: 10) == 300 && policy.retryDelay(afterAttempt: 60) == 300)
    }

    @Test func aMessageUndeliverableForADayIsGivenUpAndTheNextGoes() async throws {
        let receiver = try await NotificationReceiver()
        let start = Timestamp.at("2024-06-04T16:00:00Z")
        let clock = ManualOutboxClock(start)
        try system.enqueueNotification(.test(at: start, id: "a"), now: start)
        try system.enqueueNotification(.test(at: start, id: "b"), now: start)
        receiver.script(Array(repeating: .status(500), count: 3))
        let sender = try sender(receiver, clock: clock)
        guard case .retry = try await sender.step() else { Issue.record("first attempt"); return }
        // Head of line: while the oldest waits, the next is not sent ahead of it (order is kept).
        #expect(try await sender.step() == .waiting(until: start.adding(seconds: 1)))
        clock.advance(seconds: 86_399)
        guard case .retry = try await sender.step() else { Issue.record("second attempt"); return }
        clock.advance(seconds: 300)
        guard case .gaveUp(let id, _) = try await sender.step() else { Issue.record("no give-up"); return }
        #expect(id.hasSuffix("-a"))
        guard case .sent(let next) = try await sender.step() else { Issue.record("the next was not sent"); return }
        #expect(next.hasSuffix("-b"))
        #expect(try system.outboxSummary().failed == 1 && system.outboxSummary().sent == 1)
        #expect(receiver.received.map(\.eventID).filter { $0?.hasSuffix("-a") == true }.count == 3)
    }

    @Test func aReceiverThatIsDownIsRetriedAndNothingIsLost() async throws {
        let start = Timestamp.at("2024-06-04T16:00:00Z")
        let clock = ManualOutboxClock(start)
        try system.enqueueNotification(.test(at: start, id: "down"), now: start)
        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        let receiver = try await NotificationReceiver()
        let sender = try sender(receiver, clock: clock, url: "http://127.0.0.1:9/topic", timeout: .seconds(2))
        guard case .retry(_, _, let error) = try await sender.step() else { Issue.record("no retry"); return }
        #expect(!error.isEmpty)
        #expect(try system.outboxSummary().pending == 1)
    }

    // MARK: - Formats and the URL

    @Test func ntfyGetsPlainTextWithItsHeadersAndAWebhookGetsJSON() async throws {
        let receiver = try await NotificationReceiver()
        let card = try system.createAlgorithm(ticker: "NVDA", algorithmType: "sma_crossover", initialCapital: 1000)
        let tradeID = try fill(card)
        let clock = ManualOutboxClock(.now())
        #expect(try await sender(receiver, clock: clock, format: "ntfy").step() == .sent(eventID: "fill-\(tradeID)"))
        let ntfy = try #require(receiver.received.first)
        #expect(ntfy.headers["title"] == "BUY 2 NVDA at 100.25" && ntfy.headers["priority"] == "3")
        #expect(ntfy.headers["tags"] == "chart_with_upwards_trend,fill")
        #expect(ntfy.headers["content-type"]?.hasPrefix("text/plain") == true)
        #expect(ntfy.body.hasPrefix("Card #\(card.id) NVDA sma_crossover: buy 2 shares at 100.25"))

        // Due on the sender's clock, not the wall's: a message queued a wall second after the manual clock's start is
        // "not due yet" to it (the test failed so when a loaded machine took over a second for the first send).
        try system.enqueueNotification(.test(at: clock.now(), id: "json"), now: clock.now())
        let jsonStep = try await sender(receiver, clock: clock, format: "json").step()
        guard case .sent = jsonStep else { Issue.record("json not sent: \(jsonStep)"); return }
        let json = try #require(receiver.received.last)
        #expect(json.headers["content-type"] == "application/json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.body.utf8)) as? [String: Any])
        #expect(object["event_id"] as? String == json.eventID && object["kind"] as? String == "test")
        #expect(Set(object.keys) == ["event_id", "kind", "title", "message", "priority", "tags", "created_at", "data"])
    }

    @Test func credentialsInTheURLBecomeAnAuthorizationHeaderAndAreNeverShown() async throws {
        let receiver = try await NotificationReceiver()
        let basic = try NotifyTarget("http://owner:s3cret-pass@127.0.0.1:\(receiver.port)/topic?auth=QUERYSECRET")
        #expect(basic.format == .json) // not an ntfy-looking host
        #expect(basic.redacted == "http://***@127.0.0.1:\(receiver.port)/top…?…")
        #expect(!basic.url.absoluteString.contains("s3cret"))
        let bearer = try NotifyTarget("https://:tk_tokensecret@ntfy.example.org/my-private-topic")
        #expect(bearer.format == .ntfy && bearer.redacted == "https://***@ntfy.example.org/my-…")
        #expect(NotificationRequest(.test(at: .now()), target: bearer).headers.contains { $0.name == "Authorization" && $0.value == "Bearer tk_tokensecret" })

        try system.enqueueNotification(.test(at: .now(), id: "auth"))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let sender = NotificationSender(system: system, target: basic, clock: ManualOutboxClock(.now()), logger: logger)
        guard case .sent = try await sender.step() else { Issue.record("not sent"); return }
        let got = try #require(receiver.received.first)
        #expect(got.headers["authorization"] == "Basic " + Data("owner:s3cret-pass".utf8).base64EncodedString())

        for (bad, words) in [("ftp://example.org/x", "http:// or https://"), ("not a url", "no host"), ("https://ntfy.sh/t", "ntfy or json")] {
            do {
                _ = try NotifyTarget(bad, format: bad == "https://ntfy.sh/t" ? "xml" : nil)
                Issue.record("\(bad) was taken")
            } catch {
                #expect("\(error)".contains(words) || "\(error)".contains("not a URL"), "\(error)")
            }
        }
        #expect(try NotifyTarget.configured(Settings(values: [:])) == nil)
        #expect(!Settings(values: ["AUTOTRADER_NOTIFY_URL": "https://u:p@ntfy.sh/topic"]).description.contains("u:p"))
    }

    // MARK: - What the watch judges

    /// Just after the open yesterday's last bar is the newest, and nothing is late yet: no "halted" (it would
    /// reach the phone every morning). Three minutes after the first bar was due, it is.
    @Test func noHaltForMarketDataBeforeTheSessionsFirstBarIsLate() async throws {
        let stocks = SharedStocks.database
        try stocks.insert([MinuteBar(
            ticker: "NTFO", timestamp: .at("2024-06-03T19:59:00Z"), open: 10, high: 10, low: 10, close: 10, volume: 100)])
        _ = try system.createAlgorithm(ticker: "NTFO", algorithmType: "sma_crossover", initialCapital: 100)
        try await HeartbeatWriter(system: system, service: "executor").beat(state: .running, detail: ["heartbeat_interval": 60])
        let calendar = try MarketCalendar()
        for (time, expected) in [("2024-06-04T13:31:30Z", HealthReport.Trading.State.ok), ("2024-06-04T13:33:30Z", .halted)] {
            let now = Timestamp.at(time)
            let clock = AlpacaClock(
                timestamp: now.date, isOpen: true, nextOpen: Timestamp.at("2024-06-05T13:30:00Z").date,
                nextClose: Timestamp.at("2024-06-04T20:00:00Z").date)
            let report = await HealthReport.build(
                system: system, stocks: stocks, mode: .simulated,
                broker: BrokerSnapshotCache.Snapshot(clock: clock, account: nil, error: nil, fetchedAt: .now),
                moment: DashboardMoment(brokerNow: now, marketOpen: true, calendar: calendar, simulated: true),
                pinPolicy: PINGuessPolicy(), defaultHeartbeatInterval: 5)
            #expect(report.trading.state == expected, "\(time): \(report.trading.reasons)")
        }
    }

    // MARK: - The doctor

    @Test func theDoctorChecksTheURLWithoutShowingItsSecrets() async throws {
        let receiver = try await NotificationReceiver()
        var options = Doctor.Options()
        options.timeout = .seconds(30)  // a deadline (the receiver answers; the "down" one refuses at once)
        let doctor = Doctor(options: options)
        let path = system.path

        let good = await doctor.checkNotifications(
            Settings(values: ["AUTOTRADER_NOTIFY_URL": "http://me:hunter22@127.0.0.1:\(receiver.port)/topic?auth=QSECRET"]), systemPath: path)
        #expect(good.verdict == .ok, "\(good)")
        #expect(good.detail.contains("reachable") && !good.detail.contains("hunter22") && !good.detail.contains("QSECRET"))
        #expect(!good.detail.contains("/topic"))

        let down = await doctor.checkNotifications(Settings(values: ["AUTOTRADER_NOTIFY_URL": "http://127.0.0.1:9/topic"]), systemPath: path)
        #expect(down.verdict == .warn && down.detail.contains("not reachable"), "\(down)")

        let bad = await doctor.checkNotifications(Settings(values: ["AUTOTRADER_NOTIFY_URL": "mailto:me@example.org"]), systemPath: path)
        #expect(bad.verdict == .fail, "\(bad)")

        let off = await doctor.checkNotifications(Settings(values: [:]), systemPath: path)
        #expect(off.verdict == .ok && off.detail.hasPrefix("off"))
    }
}
