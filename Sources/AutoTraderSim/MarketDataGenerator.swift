import AutoTraderCore
import Foundation

/// One synthetic bar, encoded as Alpaca writes a bar (`SimWire.Bar` names it on the wire).
/// A minute bar covers `[start, start+1min)`; a daily bar starts at New York midnight.
public struct SimBar: Encodable, Sendable, Equatable {
    public var start: Timestamp
    public var open: Double
    public var high: Double
    public var low: Double
    public var close: Double
    public var volume: Int64
    public var tradeCount: Int64
    /// Volume-weighted average price.
    public var vwap: Double

    /// Alpaca's one- and two-letter keys (bars_*.json), named here by the simulator itself: the client's
    /// `AlpacaBar` spells its own.
    enum CodingKeys: String, CodingKey {
        case start = "t", open = "o", high = "h", low = "l", close = "c", volume = "v", tradeCount = "n", vwap = "vw"
    }
}

/// Deterministic synthetic minute bars: each is a pure function of (seed, symbol, session), so any past range is
/// computed rather than stored, and two simulators with the same seed agree bar for bar.
///
/// A symbol's sessions follow a slow, mean-reverting daily walk (its open and close per session); a session's
/// minutes are a random walk pinned to that open and close (a Brownian bridge), so consecutive days join up.
public final class MarketDataGenerator: @unchecked Sendable {
    public let seed: UInt64
    public let universe: Universe
    public let hours: TradingHours
    /// Probability that a bar is corrected ~30 s after its minute (an `updatedBars` message).
    public let updatedBarRate: Double
    /// How long after a bar's minute ends its correction appears.
    public static let correctionDelay: Double = 30

    struct DailyAnchor {
        let open: Double
        let close: Double
    }

    struct WindowKey: Hashable {
        let symbol: String
        let sessionIndex: Int
        let kind: UInt8
    }

    private let lock = NSLock()
    private var anchors: [String: [DailyAnchor]] = [:]
    private var cache: [WindowKey: [SimBar?]] = [:]
    private var cacheOrder: [WindowKey] = []
    /// About 25 kB a window: a few thousand windows cover a 500-symbol stream plus recent history.
    private let cacheCapacity = 3000

    /// Forced gaps (`--gap-every`/`--gap-percent`): every N-th regular minute opens this much above the
    /// previous minute's close, to test what a price jump between sizing and filling does to a buy.
    public let gapEvery: Int?
    public let gapPercent: Double

    public init(seed: UInt64, universe: Universe, hours: TradingHours, updatedBarRate: Double, gapEvery: Int? = nil, gapPercent: Double = 0) {
        self.seed = seed
        self.universe = universe
        self.hours = hours
        self.updatedBarRate = updatedBarRate
        self.gapEvery = gapEvery
        self.gapPercent = gapPercent
    }

    // MARK: - Queries

    /// The bars of `symbol` with start times in `from...through` that ended by `asOf` (simulated epoch seconds),
    /// corrected where the correction was due by `asOf`; at most `limit`, oldest first unless `descending`.
    /// Extended-hours bars are included when `extended` (and only if the simulator makes them).
    public func bars(
        symbol: String, from: Timestamp, through: Timestamp, asOf: Double, descending: Bool = false,
        limit: Int = .max, extended: Bool? = nil
    ) -> [SimBar] {
        guard let asset = universe.asset(symbol: symbol), asset.isActive, limit > 0 else { return [] }
        let lastEnded = Self.lastEndedMinute(asOf: asOf)
        let first = from.isWholeMinute ? from : from.minuteStart.adding(minutes: 1)
        let last = min(through.minuteStart, lastEnded)
        guard first <= last else { return [] }
        let includeExtended = hours.extendedHours && (extended ?? true)
        var result: [SimBar] = []
        let indices = hours.sessionIndices(from: first, through: last)
        for index in descending ? Array(indices.reversed()) : Array(indices) {
            let session = hours.sessions[index]
            let windows = hours.windows(of: session, extended: includeExtended)
            for window in descending ? windows.reversed() : windows {
                let low = max(first, window.start), high = min(last, window.end.adding(minutes: -1))
                guard low <= high else { continue }
                let bars = windowBars(asset: asset, window: window, sessionIndex: index)
                let lowOffset = Int(low.secondsSinceEpoch - window.start.secondsSinceEpoch) / 60
                let highOffset = Int(high.secondsSinceEpoch - window.start.secondsSinceEpoch) / 60
                let offsets = Array(lowOffset...highOffset)
                for offset in descending ? offsets.reversed() : offsets {
                    guard let bar = bars[offset] else { continue }
                    result.append(visible(bar, symbol: symbol, asOf: asOf))
                    if result.count == limit { return result }
                }
            }
        }
        return result
    }

    /// One bar, as known at `asOf`; nil when the minute had no bar or has not ended.
    public func bar(symbol: String, minute: Timestamp, asOf: Double) -> SimBar? {
        bars(symbol: symbol, from: minute, through: minute, asOf: asOf, limit: 1).first
    }

    /// The newest bar that has ended by `asOf` (regular hours, or extended too when the simulator makes them).
    public func latestBar(symbol: String, asOf: Double) -> SimBar? {
        let through = Self.lastEndedMinute(asOf: asOf)
        // Two weeks back always reaches a session (the longest closure is a long weekend).
        return bars(symbol: symbol, from: through.adding(minutes: -14 * 1440), through: through, asOf: asOf,
                    descending: true, limit: 1).first
    }

    /// The last regular-hours bar of a session, as known at `asOf`.
    public func closingBar(symbol: String, session: MarketSession, asOf: Double) -> SimBar? {
        bars(symbol: symbol, from: session.open, through: session.close.adding(minutes: -1), asOf: asOf,
             descending: true, limit: 1, extended: false).first
    }

    /// The first regular-hours bar starting at or after `instant` and before `end`, whenever it happens
    /// (the matching engine compares its start with the clock itself).
    public func firstRegularBar(symbol: String, atOrAfter instant: Timestamp, before end: Timestamp) -> SimBar? {
        bars(symbol: symbol, from: instant, through: end.adding(minutes: -1), asOf: Self.farFuture, limit: 1,
             extended: false).first
    }

    /// Daily bars (stamped at New York midnight, as Alpaca does) built from each session's regular-hours minutes
    /// that ended by `asOf`; today's is partial.
    public func dailyBars(
        symbol: String, from: Timestamp, through: Timestamp, asOf: Double, descending: Bool = false, limit: Int = .max
    ) -> [SimBar] {
        guard let asset = universe.asset(symbol: symbol), asset.isActive, limit > 0 else { return [] }
        var result: [SimBar] = []
        let indices = hours.sessionIndices(from: from, through: min(through, Self.lastEndedMinute(asOf: asOf)))
        for index in descending ? Array(indices.reversed()) : Array(indices) {
            let session = hours.sessions[index]
            let stamp = hours.newYorkMidnight(of: session)
            guard stamp >= from, stamp <= through else { continue }
            let minutes = bars(symbol: symbol, from: session.open, through: session.close.adding(minutes: -1),
                               asOf: asOf, extended: false)
            guard let daily = Self.aggregate(minutes, stamp: stamp) else { continue }
            result.append(daily)
            if result.count == limit { break }
        }
        return result
    }

    /// Whether the bar of `minute` is later corrected (an `updatedBars` message).
    public func isCorrected(symbol: String, minute: Timestamp) -> Bool {
        guard updatedBarRate > 0 else { return false }
        var random = SplitMix64(seed: StableHash.mix(seed, StableHash.of(symbol), UInt64(bitPattern: minute.secondsSinceEpoch), 0xC0AA))
        return random.unit() < updatedBarRate
    }

    /// The corrected version of a bar: a changed close and more volume (late trades), still a consistent bar.
    public func corrected(_ bar: SimBar, symbol: String) -> SimBar {
        var random = SplitMix64(seed: StableHash.mix(seed, StableHash.of(symbol), UInt64(bitPattern: bar.start.secondsSinceEpoch), 0xC0BB))
        let move = (0.0004 + 0.0016 * random.unit()) * (random.unit() < 0.5 ? -1 : 1)
        var close = Self.roundPrice(bar.close * (1 + move))
        if close == bar.close { close = Self.roundPrice(bar.close + (bar.close >= 1 ? 0.01 : 0.0001)) }
        let extra = max(1, Int64((Double(bar.volume) * (0.05 + 0.25 * random.unit())).rounded()))
        let high = max(bar.high, close), low = min(bar.low, close)
        let vwap = min(max((bar.vwap * Double(bar.volume) + close * Double(extra)) / Double(bar.volume + extra), low), high)
        return SimBar(start: bar.start, open: bar.open, high: high, low: low, close: close, volume: bar.volume + extra,
                      tradeCount: bar.tradeCount + Int64(1 + random.integer(in: 0...3)),
                      vwap: min(max(vwap.rounded(toPlaces: 4), low), high))
    }

    // MARK: - Generation

    static let farFuture: Double = 1e11

    static func lastEndedMinute(asOf: Double) -> Timestamp {
        let seconds = Int64((min(asOf, farFuture) - 60).rounded(.down))
        return Timestamp(secondsSinceEpoch: seconds).minuteStart
    }

    /// Prices at or above $1 in cents, below $1 to four decimals (as US equities trade).
    static func roundPrice(_ price: Double) -> Double {
        price >= 1 ? (price * 100).rounded() / 100 : max(0.0001, (price * 10_000).rounded() / 10_000)
    }

    static func aggregate(_ minutes: [SimBar], stamp: Timestamp) -> SimBar? {
        guard let first = minutes.first, let last = minutes.last else { return nil }
        var volume: Int64 = 0, trades: Int64 = 0, turnover = 0.0
        var high = first.high, low = first.low
        for bar in minutes {
            volume += bar.volume
            trades += bar.tradeCount
            turnover += bar.vwap * Double(bar.volume)
            high = max(high, bar.high)
            low = min(low, bar.low)
        }
        let vwap = volume > 0 ? min(max((turnover / Double(volume)).rounded(toPlaces: 4), low), high) : last.close
        return SimBar(start: stamp, open: first.open, high: high, low: low, close: last.close, volume: volume, tradeCount: trades, vwap: vwap)
    }

    private func visible(_ bar: SimBar, symbol: String, asOf: Double) -> SimBar {
        guard asOf >= Double(bar.start.secondsSinceEpoch + 60) + Self.correctionDelay, isCorrected(symbol: symbol, minute: bar.start)
        else { return bar }
        return corrected(bar, symbol: symbol)
    }

    /// Each session's open and close for a symbol: a mean-reverting walk in log price (so prices stay plausible for years).
    func dailyAnchors(for asset: SimAsset) -> [DailyAnchor] {
        lock.lock()
        if let known = anchors[asset.symbol] {
            lock.unlock()
            return known
        }
        lock.unlock()
        var random = SplitMix64(seed: StableHash.mix(seed, StableHash.of(asset.symbol), 0xDA11))
        let base = log(asset.basePrice)
        var level = base + 0.15 * random.gaussian()
        var previousClose = exp(level)
        var result: [DailyAnchor] = []
        result.reserveCapacity(hours.sessions.count)
        for _ in hours.sessions {
            let open = previousClose * exp(0.25 * asset.dailyVolatility * random.gaussian())
            level += 0.004 * (base - level) + asset.dailyVolatility * random.gaussian()
            let close = exp(level)
            result.append(DailyAnchor(open: open, close: close))
            previousClose = close
        }
        lock.lock()
        anchors[asset.symbol] = result
        lock.unlock()
        return result
    }

    /// A window's bars, one slot per minute (nil = no bar that minute); original values (before corrections).
    func windowBars(asset: SimAsset, window: TradingHours.Window, sessionIndex: Int) -> [SimBar?] {
        let key = WindowKey(symbol: asset.symbol, sessionIndex: sessionIndex, kind: window.kind.rawValue)
        lock.lock()
        if let known = cache[key] {
            lock.unlock()
            return known
        }
        lock.unlock()
        let bars = generate(asset: asset, window: window, sessionIndex: sessionIndex)
        lock.lock()
        if cache[key] == nil {
            if cache.count >= cacheCapacity {
                // Drop the oldest quarter at once rather than one by one.
                for old in cacheOrder.prefix(cacheCapacity / 4) { cache[old] = nil }
                cacheOrder.removeFirst(min(cacheOrder.count, cacheCapacity / 4))
            }
            cache[key] = bars
            cacheOrder.append(key)
        }
        lock.unlock()
        return bars
    }

    private func generate(asset: SimAsset, window: TradingHours.Window, sessionIndex: Int) -> [SimBar?] {
        let anchors = dailyAnchors(for: asset)
        let anchor = anchors[sessionIndex]
        let previousClose = sessionIndex > 0 ? anchors[sessionIndex - 1].close : anchor.open
        var random = SplitMix64(seed: StableHash.mix(
            seed, StableHash.of(asset.symbol), UInt64(window.session.date.daysSinceEpoch), UInt64(window.kind.rawValue)))
        let count = window.minuteCount
        let from: Double, to: Double, volumeScale: Double, missing: Double, noise: Double
        switch window.kind {
        case .regular:
            (from, to, volumeScale, missing, noise) = (anchor.open, anchor.close, 1, asset.missingMinuteShare, 1)
        case .preMarket:
            (from, to, volumeScale, missing, noise) = (previousClose, anchor.open, 0.02, asset.isThin ? 0.85 : 0.45, 0.4)
        case .postMarket:
            let drift = exp(0.3 * asset.dailyVolatility * random.gaussian())
            (from, to, volumeScale, missing, noise) = (anchor.close, anchor.close * drift, 0.03, asset.isThin ? 0.85 : 0.45, 0.4)
        }
        let sigma = asset.dailyVolatility * noise / Double(390).squareRoot()

        // Brownian bridge in log price from `from` to `to` over `count` minutes.
        var path = [Double](repeating: 0, count: count + 1)
        var sum = 0.0
        for index in 1...count {
            sum += sigma * random.gaussian()
            path[index] = sum
        }
        let start = log(from), gap = log(to) - start - sum
        for index in 0...count { path[index] = start + path[index] + gap * Double(index) / Double(count) }

        let perMinute = asset.dailyVolume / 390 * volumeScale / max(0.05, 1 - missing)
        var result = [SimBar?](repeating: nil, count: count)
        for minute in 0..<count {
            var open = Self.roundPrice(exp(path[minute] + 0.15 * sigma * random.gaussian()))
            if window.kind == .regular, let every = gapEvery, minute > 0, minute % every == 0 {
                open = Self.roundPrice(exp(path[minute]) * (1 + gapPercent / 100))
            }
            let close = Self.roundPrice(exp(path[minute + 1]))
            let high = Self.roundPrice(max(open, close) * exp(abs(random.gaussian()) * sigma * 0.6))
            let low = Self.roundPrice(min(open, close) * exp(-abs(random.gaussian()) * sigma * 0.6))
            // U-shaped volume over the regular session: busy open and close, quiet lunch.
            let profile = window.kind == .regular
                ? 0.45 + 1.6 * exp(-Double(minute) / 20) + 1.1 * exp(-Double(count - 1 - minute) / 15) : 1
            let volume = max(1, Int64((perMinute * profile * exp(0.5 * random.gaussian() - 0.125)).rounded()))
            let averageTrade = 40 + 110 * random.unit()
            let trades = max(1, min(volume, Int64((Double(volume) / averageTrade).rounded(.up))))
            let typical = (open + high + low + 2 * close) / 5 + (random.unit() - 0.5) * (high - low) * 0.2
            let vwap = min(max(min(max(typical, low), high).rounded(toPlaces: 4), low), high)
            let present = random.unit() >= missing
            guard present, high >= low else { continue }
            result[minute] = SimBar(
                start: window.start.adding(minutes: minute), open: open, high: max(high, open, close), low: min(low, open, close),
                close: close, volume: volume, tradeCount: trades, vwap: vwap)
        }
        return result
    }
}
