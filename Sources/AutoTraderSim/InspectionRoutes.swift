import AutoTraderCore
import Foundation
import Hummingbird

/// Non-Alpaca endpoints under /sim for tests: what was ordered and filled, the feed's ground truth,
/// counters, when bar frames were sent (`--record-sends`), and ways to drop the stream or make it go quiet. No key needed; loopback only.
struct InspectionRoutes {
    let exchange: Exchange
    let hub: StreamHub
    let generator: MarketDataGenerator
    let clock: SimClock
    let stats: SimStats
    let configuration: SimulatorConfiguration
    /// The trading stream, for `POST /sim/disconnect-trading`.
    var tradeUpdates: TradeUpdatesHub?

    func add(to group: RouterGroup<SimRequestContext>) {
        group.get("orders") { _, _ in
            try JSONBody.response(await exchange.allOrders().map(SimWire.Order.init))
        }
        group.get("fills") { _, _ in
            try JSONBody.response(await exchange.allFills())
        }
        group.get("bars") { request, _ in
            try JSONBody.response(try groundTruth(QueryValues(request)))
        }
        group.post("disconnect") { _, _ in
            let count = await hub.dropAll()
            return JSONBody.response(object: ["disconnected": count])
        }
        // Closes every trading-stream (`/stream`) connection; `/sim/disconnect` closes the market-data ones.
        group.post("disconnect-trading") { _, _ in
            let count = await tradeUpdates?.dropAll() ?? 0
            return JSONBody.response(object: ["disconnected": count])
        }
        group.post("silence") { request, _ in
            let query = QueryValues(request)
            var seconds: Double?
            if let text = query["seconds"] {
                guard let value = Double(text), value > 0, value.isFinite else {
                    throw AlpacaAPIError.badParameter("seconds must be a positive number")
                }
                seconds = value
            }
            let count = await hub.silence(seconds: seconds)
            return JSONBody.response(object: ["silenced": count])
        }
        group.get("sends") { request, _ in
            guard let log = hub.sendLog else {
                throw AlpacaAPIError.badParameter("start autotrader-sim with --record-sends to record sends")
            }
            let query = QueryValues(request)
            let after = query["after"].flatMap(Int.init) ?? 0
            return try JSONBody.response(log.records(after: after))
        }
        group.get("stats") { _, _ in
            JSONBody.response(object: stats.snapshot())
        }
        group.get("clock") { _, _ in
            let clockBody = TradingRoutes.clockBody(clock: clock, hours: generator.hours)
            return try JSONBody.response(SimWire.InspectionClock(
                clockBody, speed: clock.speed, epoch: clock.now(), seed: String(configuration.seed)))
        }
    }

    /// Every bar the feed had for the symbols in the range (regular hours unless `extended_hours=true`),
    /// final values: corrected where the correction is already due.
    private func groundTruth(_ query: QueryValues) throws -> SimWire.BarsPage {
        guard let symbols = query.list("symbols"), !symbols.isEmpty else {
            throw AlpacaAPIError.badParameter("missing symbols")
        }
        let now = clock.now()
        let nowInstant = Timestamp(secondsSinceEpoch: Int64(now.rounded(.down)))
        let hours = generator.hours
        let start = try query.time("start", invalid: .badParameter("invalid start")).map(Timestamp.init)
            ?? BarRequest.newYorkMidnight(hours.newYorkDate(of: nowInstant), hours: hours)
        let end = try query.time("end", invalid: .badParameter("invalid end")).map(Timestamp.init) ?? nowInstant
        let extended = query["extended_hours"] == "true"
        var bars: [(String, [SimBar])] = []
        for symbol in symbols {
            let list = generator.bars(symbol: symbol, from: start, through: end, asOf: now, extended: extended)
            if !list.isEmpty { bars.append((symbol, list)) }
        }
        return SimWire.BarsPage(bars: bars, nextPageToken: nil)
    }
}
