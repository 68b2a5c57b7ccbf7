import AutoTraderCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TradingAlgorithms

/// Every /api endpoint. Handlers validate everything before touching a database, and every write is
/// one core call (one transaction), so a refused request changes nothing.
struct APIRoutes: Sendable {
    let system: SystemDatabase
    let stocks: StocksDatabase
    let reader: CardReader
    let cards: CardsCache
    let equity: EquityHistory
    /// The broker's clock and account, shared by every reader (at most one refresh per `--broker-cache`).
    let broker: BrokerSnapshotCache
    /// Assets, cached and rate-limited: unauthenticated clients can't spend the account's request budget.
    let assets: AssetLookups
    /// For the one answer that must be fresh (the account's cash when a card is created, after the PIN): few retries.
    let client: AlpacaClient
    let mode: TradingMode
    let pins: PINGuard
    let creation: CardCreation
    let heartbeatInterval: Int64
    let logger: Logger

    /// Each path with the methods it answers; any other method is a 405 with `Allow`.
    static let endpoints: [(path: String, methods: [HTTPRequest.Method])] = [
        ("/api/algorithms", [.get, .post]),
        ("/api/algorithms/{id}", [.get, .delete]),
        ("/api/algorithms/{id}/liquidation", [.delete]),
        ("/api/algorithms/{id}/transactions", [.get]),
        ("/api/algorithms/{id}/decisions", [.get]),
        ("/api/algorithms/{id}/equity", [.get]),
        ("/api/algorithms/{id}/bars", [.get]),
        ("/api/available-algorithms", [.get]),
        ("/api/account/cash", [.get]),
        ("/api/validate-ticker", [.get]),
        ("/api/validate-pin", [.post]),
        ("/api/pin", [.put]),
        ("/api/health", [.get]),
        ("/api/backtests", [.post]),
        ("/api/backtests/{id}", [.get]),
    ]

    /// The methods a path answers (HEAD with GET), when it is one of `endpoints`; nil for an unknown path.
    static func allowedMethods(path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for endpoint in endpoints {
            let template = endpoint.path.split(separator: "/", omittingEmptySubsequences: false)
            guard template.count == segments.count else { continue }
            if zip(template, segments).allSatisfy({ $0 == $1 || ($0.hasPrefix("{") && !$1.isEmpty) }) {
                return endpoint.methods + (endpoint.methods.contains(.get) ? [.head] : [])
            }
        }
        return nil
    }

    func add(to router: Router<APIRequestContext>) {
        router.get("/api/algorithms") { _, _ in try await self.listAlgorithms() }
        router.post("/api/algorithms") { request, context in try await self.createAlgorithm(request, context) }
        router.get("/api/algorithms/{id}") { _, context in try self.card(context) }
        router.delete("/api/algorithms/{id}") { request, context in try await self.stopAlgorithm(request, context) }
        router.delete("/api/algorithms/{id}/liquidation") { request, context in try await self.cancelLiquidation(request, context) }
        router.get("/api/algorithms/{id}/transactions") { request, context in try self.transactions(request, context) }
        router.get("/api/algorithms/{id}/decisions") { request, context in try self.decisions(request, context) }
        router.get("/api/algorithms/{id}/equity") { _, context in try await self.equityPoints(context) }
        router.get("/api/algorithms/{id}/bars") { _, context in try await self.sessionBars(context) }
        router.get("/api/available-algorithms") { _, _ in try self.availableAlgorithms() }
        router.get("/api/account/cash") { _, _ in try await self.accountCash() }
        router.get("/api/validate-ticker") { request, context in try await self.validateTicker(request, context) }
        router.post("/api/validate-pin") { request, context in try await self.validatePIN(request, context) }
        router.put("/api/pin") { request, context in try await self.changePIN(request, context) }
        router.get("/api/health") { _, _ in try await self.health() }
        BacktestRoutes(system: system, assets: assets, logger: logger).add(to: router)

        // 405 for a known path asked with another method.
        let all: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch, .options, .trace]
        for endpoint in Self.endpoints {
            let allowed = endpoint.methods + (endpoint.methods.contains(.get) ? [.head] : [])
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            for method in all where !allowed.contains(method) {
                router.on(RouterPath(endpoint.path), method: method) { request, _ -> Response in
                    throw APIError(
                        .methodNotAllowed, "\(request.method.rawValue) is not allowed on \(endpoint.path); use \(allow)",
                        headers: [.allow: allow])
                }
            }
        }
    }

    // MARK: - Cards

    /// The list's body, written straight into one buffer around the cached cards' JSON.
    struct AlgorithmsEnvelope {
        static func buffer(
            cards: String, summary: String, totalAccountValue: Decimal?, marketOpen: Bool, brokerTime: Timestamp, nextOpen: Timestamp?,
            nextClose: Timestamp?, mode: TradingMode, asOf: Timestamp
        ) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(cards.utf8.count + summary.utf8.count + 220)
            buffer.writeStaticString("{\"algorithms\":")
            buffer.writeString(cards)
            buffer.writeStaticString(",\"summary\":")
            buffer.writeString(summary)
            buffer.writeStaticString(",\"broker_time\":\"")
            buffer.writeString(brokerTime.text)
            buffer.writeStaticString("\"")
            buffer.writeStaticString(",\"total_account_value\":")
            buffer.writeString(totalAccountValue.map { Money.rounded($0).plainString } ?? "null")
            buffer.writeStaticString(marketOpen ? ",\"market_open\":true" : ",\"market_open\":false")
            // When the market next opens and closes, on the broker's clock (the simulator's in simulated mode).
            buffer.writeStaticString(",\"next_open\":")
            buffer.writeString(nextOpen.map { "\"\($0.text)\"" } ?? "null")
            buffer.writeStaticString(",\"next_close\":")
            buffer.writeString(nextClose.map { "\"\($0.text)\"" } ?? "null")
            buffer.writeStaticString(",\"mode\":\"")
            buffer.writeString(mode.rawValue)
            buffer.writeStaticString("\",\"as_of\":\"")
            buffer.writeString(asOf.text)
            buffer.writeStaticString("\"}")
            return buffer
        }
    }

    func listAlgorithms() async throws -> Response {
        let snapshot = await broker.snapshot()
        let moment = dashboardMoment(snapshot)
        let (cardsJSON, summaryJSON) = try await cards.runningCardsJSON(at: moment)
        return JSONOutput.response(buffer: AlgorithmsEnvelope.buffer(
            cards: cardsJSON, summary: summaryJSON, totalAccountValue: snapshot.account?.equity, marketOpen: moment.marketOpen,
            brokerTime: moment.brokerNow, nextOpen: snapshot.clock.map { Timestamp($0.nextOpen) },
            nextClose: snapshot.clock.map { Timestamp($0.nextClose) }, mode: mode, asOf: .now()))
    }

    /// The session calendar (built once: every session of the supported years).
    static let calendar = try? MarketCalendar()

    /// The broker's clock now and the sessions around it, from the shared snapshot (no request of its own).
    func dashboardMoment(_ snapshot: BrokerSnapshotCache.Snapshot) -> DashboardMoment {
        let brokerNow = snapshot.brokerNow() ?? .now()
        let marketOpen: Bool
        if let clock = snapshot.clock {
            // The snapshot may be seconds old (minutes of an accelerated simulator): an open or close
            // passed since then counts.
            if clock.isOpen {
                marketOpen = brokerNow < Timestamp(clock.nextClose)
            } else {
                marketOpen = brokerNow >= Timestamp(clock.nextOpen) && brokerNow < Timestamp(clock.nextClose)
            }
        } else {
            // The broker can't say: the calendar in stocks.db can (false outside it).
            marketOpen = (try? stocks.isMarketOpen(at: brokerNow)) ?? false
        }
        guard let calendar = Self.calendar else {
            return DashboardMoment(brokerNow: brokerNow, marketOpen: marketOpen, session: nil, previousClose: nil, simulated: mode == .simulated)
        }
        return DashboardMoment(brokerNow: brokerNow, marketOpen: marketOpen, calendar: calendar, simulated: mode == .simulated)
    }

    func card(_ context: APIRequestContext) throws -> Response {
        let id = try Self.algorithmID(context)
        return try JSONOutput.response(try reader.card(id: id))
    }

    struct TransactionsBody: Encodable { let transactions: [Trade] }
    struct DecisionsBody: Encodable { let decisions: [DecisionRecord] }
    struct EquityBody: Encodable { let points: [EquityHistory.Point] }

    /// GET /api/algorithms/{id}/bars: the card's ticker's minute bars of one session.
    struct BarsBody: Encodable {
        struct Bar: Encodable {
            let t: Timestamp
            let o: Decimal
            let h: Decimal
            let l: Decimal
            let c: Decimal
            let v: Int64
        }
        let ticker: String
        let session: String
        let bars: [Bar]
    }

    func transactions(_ request: Request, _ context: APIRequestContext) throws -> Response {
        let id = try Self.algorithmID(context)
        let limit = try Self.limit(request)
        return try JSONOutput.response(TransactionsBody(transactions: try system.trades(algorithmId: id, limit: limit)))
    }

    func decisions(_ request: Request, _ context: APIRequestContext) throws -> Response {
        let id = try Self.algorithmID(context)
        let limit = try Self.limit(request)
        return try JSONOutput.response(DecisionsBody(decisions: try system.decisions(algorithmId: id, limit: limit)))
    }

    func equityPoints(_ context: APIRequestContext) async throws -> Response {
        let id = try Self.algorithmID(context)
        let brokerNow = (await broker.snapshot()).brokerNow() ?? .now()
        return try JSONOutput.response(EquityBody(points: try equity.points(
            algorithmId: id, brokerNow: brokerNow, simulated: mode == .simulated)))
    }

    /// Today's session's bars (the one open now, else the last one begun), read from stocks.db by index.
    func sessionBars(_ context: APIRequestContext) async throws -> Response {
        let id = try Self.algorithmID(context)
        let algorithm = try system.algorithm(id: id)
        let moment = dashboardMoment(await broker.snapshot())
        guard let session = moment.session else {
            // Outside the calendar's years: no session to show.
            let day = Self.calendar?.newYorkDate(of: moment.brokerNow) ?? moment.brokerNow.utcDate
            return try JSONOutput.response(BarsBody(ticker: algorithm.ticker, session: day.text, bars: []))
        }
        let bars = try stocks.bars(ticker: algorithm.ticker, from: session.open, to: session.close).map {
            BarsBody.Bar(
                t: $0.timestamp, o: Money.decimal(fromStored: $0.open), h: Money.decimal(fromStored: $0.high),
                l: Money.decimal(fromStored: $0.low), c: Money.decimal(fromStored: $0.close), v: $0.volume)
        }
        return try JSONOutput.response(BarsBody(ticker: algorithm.ticker, session: session.date.text, bars: bars))
    }

    // MARK: - Create and stop

    func createAlgorithm(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try pins.checkNotLockedOut()
        let input = try await JSONInput.read(request, allowed: ["ticker", "algorithm_type", "initial_capital", "pin"])
        let ticker = try input.string("ticker")!
        let algorithmType = try input.string("algorithm_type")!
        let capital = try input.number("initial_capital")
        let bodyPIN = try input.string("pin", required: false)
        try pins.verify(request.headers[.xPIN] ?? bodyPIN, context: context, purpose: .movesMoney)

        let algorithm = try await creation.create(
            ticker: ticker, algorithmType: algorithmType, capital: capital,
            broker: APICreationBroker(assets: assets, client: client, clientKey: context.clientKey))
        await cards.invalidate()
        logger.info("algorithm created", metadata: [
            "id": "\(algorithm.id)", "ticker": "\(algorithm.ticker)", "algorithm_type": "\(algorithmType)",
            "initial_capital": "\(Money.centsText(capital))",
        ])
        return try JSONOutput.response(status: .created, try reader.card(id: algorithm.id))
    }

    func stopAlgorithm(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try pins.checkNotLockedOut()
        let id = try Self.algorithmID(context)
        let query = request.uri.queryParameters
        try Self.onlyQueryParameters(query, allowed: ["liquidate", "keep_shares"])
        let liquidate = try Self.flag(query, "liquidate")
        let keepShares = try Self.flag(query, "keep_shares")
        guard !(liquidate && keepShares) else { throw APIError.badRequest("liquidate and keep_shares contradict each other: choose one") }
        let input = try await JSONInput.read(request, allowed: ["pin"], allowEmpty: true)
        let bodyPIN = try input.string("pin", required: false)
        try pins.verify(request.headers[.xPIN] ?? bodyPIN, context: context, purpose: liquidate ? .movesMoney : .other)
        if liquidate {
            try system.requestLiquidation(algorithmId: id)
            logger.info("liquidation requested", metadata: ["id": "\(id)"])
        } else {
            try system.stopAlgorithm(id: id, keepingShares: keepShares)
            logger.info("algorithm stopped", metadata: ["id": "\(id)", "kept_shares": "\(keepShares)"])
        }
        await cards.invalidate()
        return try JSONOutput.response(try reader.card(id: id))
    }

    /// The broker as a create asks it: assets through the shared cache and budget, the account fresh.
    struct APICreationBroker: CardCreationBroker {
        let assets: AssetLookups
        let client: AlpacaClient
        let clientKey: String
        // Asked after the PIN passed: the owner's look-up is not held to the unauthenticated budget.
        func asset(symbol: String) async throws -> AlpacaAsset? { try await assets.asset(symbol: symbol, client: clientKey, limited: false) }
        func cash() async throws -> Decimal { try await client.account().cash }
    }

    /// Withdraws a pending sell-and-stop: the card goes on trading.
    func cancelLiquidation(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try pins.checkNotLockedOut()
        let id = try Self.algorithmID(context)
        try Self.onlyQueryParameters(request.uri.queryParameters, allowed: [])
        let input = try await JSONInput.read(request, allowed: ["pin"], allowEmpty: true)
        try pins.verify(request.headers[.xPIN] ?? (try input.string("pin", required: false)), context: context)
        try system.cancelLiquidation(algorithmId: id)
        logger.info("liquidation canceled", metadata: ["id": "\(id)"])
        await cards.invalidate()
        return try JSONOutput.response(try reader.card(id: id))
    }

    // MARK: - Catalog, cash, tickers

    struct AlgorithmInfo: Encodable {
        let name: String
        let description: String
        let summary: String
        @ExplicitNull var barsNeeded: Int?
        let kind: String
        let status: String
        @ExplicitNull var error: String?
        enum CodingKeys: String, CodingKey { case name, description, summary, barsNeeded = "bars_needed", kind, status, error }
    }

    struct AvailableAlgorithmsBody: Encodable { let algorithms: [AlgorithmInfo] }

    /// The executor's published catalog (this build's compiled algorithms until it has published): never user code.
    func availableAlgorithms() throws -> Response {
        try JSONOutput.response(AvailableAlgorithmsBody(algorithms: try AvailableAlgorithms.list(
            system: system, compiled: AlgorithmRegistry.catalog
        ).map {
            AlgorithmInfo(
                name: $0.name, description: $0.summary, summary: $0.summary, barsNeeded: $0.barsNeeded, kind: $0.kind.rawValue,
                status: $0.status.rawValue, error: $0.error)
        }))
    }

    struct CashBody: Encodable {
        let brokerCash: Decimal
        let allocated: Decimal
        let available: Decimal
        enum CodingKeys: String, CodingKey { case brokerCash = "broker_cash", allocated, available }
    }

    func accountCash() async throws -> Response {
        let snapshot = await broker.snapshot()
        guard let account = snapshot.account else {
            throw APIError(.serviceUnavailable, "the broker can't be reached: \(snapshot.error ?? "no answer yet")")
        }
        let (allocated, available) = try system.availableCash(brokerCash: account.cash)
        return try JSONOutput.response(CashBody(
            brokerCash: Money.rounded(account.cash), allocated: Money.rounded(allocated), available: Money.rounded(available)))
    }

    struct TickerBody: Encodable {
        let symbol: String
        let valid: Bool
        let tradable: Bool
        @ExplicitNull var name: String?
        @ExplicitNull var error: String?
    }

    func validateTicker(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        try Self.onlyQueryParameters(parameters, allowed: ["symbol"])
        guard let raw = parameters.get("symbol"), !raw.isEmpty else {
            throw APIError.badRequest("missing query parameter symbol, e.g. /api/validate-ticker?symbol=NVDA")
        }
        let symbol = raw.trimmingCharacters(in: .whitespaces).uppercased()
        guard Validation.isValidTicker(symbol) else {
            return try JSONOutput.response(TickerBody(
                symbol: String(symbol.prefix(20)), valid: false, tradable: false, name: nil,
                error: "not a ticker: use 1–10 letters or dots starting with a letter, e.g. NVDA or BRK.B"))
        }
        guard let asset = try await assets.asset(symbol: symbol, client: context.clientKey) else {
            return try JSONOutput.response(TickerBody(
                symbol: symbol, valid: false, tradable: false, name: nil, error: "the broker doesn't know \(symbol)"))
        }
        let tradable = asset.isTradableEquity
        return try JSONOutput.response(TickerBody(
            symbol: symbol, valid: true, tradable: tradable, name: asset.name,
            error: tradable ? nil : "\(symbol) can't be traded (broker status \(asset.status), tradable \(asset.tradable))"))
    }

    // MARK: - PIN

    struct ValidBody: Encodable { let valid: Bool }
    struct ChangedBody: Encodable { let changed: Bool }

    func validatePIN(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try pins.checkNotLockedOut()
        let input = try await JSONInput.read(request, allowed: ["pin"], allowEmpty: true)
        let pin = try input.string("pin", required: false)
        try pins.verify(pin ?? request.headers[.xPIN], context: context)
        return try JSONOutput.response(ValidBody(valid: true))
    }

    func changePIN(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try pins.checkNotLockedOut()
        let input = try await JSONInput.read(request, allowed: ["old_pin", "new_pin"], allowEmpty: true)
        let oldPIN = try input.string("old_pin", required: false)
        let newPIN = try input.string("new_pin", required: false)
        try pins.verify(oldPIN, context: context)
        guard let newPIN else { throw APIError.badRequest("missing field \"new_pin\"") }
        if let problem = Validation.newPINProblem(newPIN) { throw APIError.badRequest(problem) }
        guard newPIN != oldPIN else { throw APIError.badRequest("the new PIN must differ from the old one") }
        try system.setPIN(newPIN)
        logger.notice("PIN changed", metadata: ["client": "\(context.clientKey)"])
        return try JSONOutput.response(ChangedBody(changed: true))
    }

    // MARK: - Health

    func health() async throws -> Response {
        let snapshot = await broker.snapshot()
        let report = await HealthReport.build(
            system: system, stocks: stocks, mode: mode, broker: snapshot, moment: dashboardMoment(snapshot), pinPolicy: pins.policy,
            defaultHeartbeatInterval: heartbeatInterval)
        return try JSONOutput.response(status: report.status == "down" ? .serviceUnavailable : .ok, report)
    }

    // MARK: - Parameters

    /// The `{id}` path parameter: a positive whole number.
    static func algorithmID(_ context: APIRequestContext) throws -> Int64 {
        let text = context.parameters.get("id") ?? ""
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ (48...57).contains($0) }), let id = Int64(text), id > 0 else {
            throw APIError.badRequest("the algorithm id must be a positive whole number, not \(String(text.prefix(40)).debugDescription)")
        }
        return id
    }

    /// A true/false query flag (absent: false).
    static func flag(_ parameters: Parameters, _ name: String) throws -> Bool {
        guard let value = parameters.get(name) else { return false }
        switch value.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.badRequest("\(name) must be true or false, not \(String(value.prefix(40)).debugDescription)")
        }
    }

    /// `?limit=` (default 100, 1…1000).
    static func limit(_ request: Request) throws -> Int {
        let parameters = request.uri.queryParameters
        try onlyQueryParameters(parameters, allowed: ["limit"])
        guard let value = parameters.get("limit") else { return 100 }
        guard let limit = Int(value), (1...1000).contains(limit) else {
            throw APIError.badRequest("limit must be a whole number from 1 to 1000, not \(String(value.prefix(40)).debugDescription)")
        }
        return limit
    }

    static func onlyQueryParameters(_ parameters: Parameters, allowed: Set<String>) throws {
        let unknown = Set(parameters.map { String($0.key) }).subtracting(allowed)
        if !unknown.isEmpty {
            throw APIError.badRequest("unknown query parameter\(unknown.count == 1 ? "" : "s") \(unknown.sorted().joined(separator: ", "))")
        }
    }
}

extension HTTPField.Name {
    /// The PIN, as a header (the body's `pin` field is the other way to send it).
    static let xPIN = HTTPField.Name("X-PIN")!
}
