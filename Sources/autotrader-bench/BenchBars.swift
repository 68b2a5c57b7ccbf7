import AutoTraderCore
import Foundation

/// The order bars are produced in.
enum BenchBarOrder: String, CaseIterable, Sendable {
    /// All tickers for one minute, then the next minute: what a live stream writes.
    case time
    /// All minutes of one ticker, then the next ticker: what a backfill writes.
    case ticker
}

/// One generated bar, prices kept as integers so the CSV text and the `Double`s are the same numbers.
struct BenchRawBar {
    var tickerIndex: Int
    var minuteIndex: Int
    var openCents: Int64
    var highCents: Int64
    var lowCents: Int64
    var closeCents: Int64
    var volume: Int64
    var tradeCount: Int64
    /// VWAP in ten-thousandths of a dollar.
    var vwapBasisPoints: Int64
}

/// Deterministic, realistic minute bars: real NYSE market minutes (from `MarketCalendar`),
/// a random walk per ticker with a fixed seed, so the same arguments always give the same rows,
/// and both orders give the same set of rows with the same values.
struct BenchBarGenerator {
    static let seed: UInt64 = 0x5EED_0000_BA25
    /// The first session used; ten million bars of 100 tickers reach into 2024.
    static let firstDay = CivilDate(year: 2023, month: 1, day: 3)!

    let barCount: Int
    let tickers: [String]
    /// The market minutes the bars cover, oldest first.
    let minutes: [Timestamp]

    init(barCount: Int, tickerCount: Int, calendar: MarketCalendar) throws {
        guard barCount > 0 else { throw BenchFailure("--bars must be positive") }
        guard tickerCount > 0 else { throw BenchFailure("--tickers must be positive") }
        self.barCount = barCount
        self.tickers = BenchTickers.make(tickerCount)
        let needed = (barCount + tickerCount - 1) / tickerCount
        var minutes: [Timestamp] = []
        minutes.reserveCapacity(needed)
        outer: for session in calendar.sessions(from: Self.firstDay, through: calendar.lastDay) {
            var minute = session.open
            while minute < session.close {
                if minutes.count == needed { break outer }
                minutes.append(minute)
                minute = minute.adding(minutes: 1)
            }
        }
        guard minutes.count == needed else {
            throw BenchFailure("the calendar has only \(minutes.count) market minutes from \(Self.firstDay); \(needed) are needed")
        }
        self.minutes = minutes
    }

    /// Whether the bar of ticker `t` at minute `m` is among the `barCount` generated.
    @inline(__always)
    func includes(ticker t: Int, minute m: Int) -> Bool { m * tickers.count + t < barCount }

    /// Calls `body` with every bar, in `order`.
    func forEach(order: BenchBarOrder, _ body: (BenchRawBar) throws -> Void) rethrows {
        var walks = (0..<tickers.count).map { TickerWalk(tickerIndex: $0) }
        switch order {
        case .time:
            for m in minutes.indices {
                for t in tickers.indices where includes(ticker: t, minute: m) {
                    try body(walks[t].next(minuteIndex: m))
                }
            }
        case .ticker:
            for t in tickers.indices {
                for m in minutes.indices where includes(ticker: t, minute: m) {
                    try body(walks[t].next(minuteIndex: m))
                }
            }
        }
    }

    func minuteBar(_ raw: BenchRawBar) -> MinuteBar {
        MinuteBar(
            ticker: tickers[raw.tickerIndex], timestamp: minutes[raw.minuteIndex],
            open: Double(raw.openCents) / 100, high: Double(raw.highCents) / 100,
            low: Double(raw.lowCents) / 100, close: Double(raw.closeCents) / 100,
            volume: raw.volume, tradeCount: raw.tradeCount, vwap: Double(raw.vwapBasisPoints) / 10_000)
    }

    /// Appends `ticker,timestamp,open,high,low,close,volume,trade_count,vwap\n` (the table's column order).
    func appendCSV(_ raw: BenchRawBar, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: tickers[raw.tickerIndex].utf8)
        buffer.append(UInt8(ascii: ","))
        minutes[raw.minuteIndex].withUTF8Text { buffer.append(contentsOf: $0) }
        for cents in [raw.openCents, raw.highCents, raw.lowCents, raw.closeCents] {
            buffer.append(UInt8(ascii: ","))
            Self.appendFixed(cents, decimals: 2, to: &buffer)
        }
        buffer.append(UInt8(ascii: ","))
        Self.appendFixed(raw.volume, decimals: 0, to: &buffer)
        buffer.append(UInt8(ascii: ","))
        Self.appendFixed(raw.tradeCount, decimals: 0, to: &buffer)
        buffer.append(UInt8(ascii: ","))
        Self.appendFixed(raw.vwapBasisPoints, decimals: 4, to: &buffer)
        buffer.append(UInt8(ascii: "\n"))
    }

    /// Writes a non-negative integer scaled by 10^decimals as plain decimal text ("12345", 2 → "123.45").
    /// Parsing that text gives the same `Double` as `Double(value) / 10^decimals` (both are the nearest double).
    static func appendFixed(_ value: Int64, decimals: Int, to buffer: inout [UInt8]) {
        precondition(value >= 0)
        var digits: [UInt8] = []
        var rest = value
        repeat {
            digits.append(UInt8(truncatingIfNeeded: 48 + rest % 10))
            rest /= 10
        } while rest > 0
        while digits.count <= decimals { digits.append(48) }
        for (index, digit) in digits.reversed().enumerated() {
            if decimals > 0 && index == digits.count - decimals { buffer.append(UInt8(ascii: ".")) }
            buffer.append(digit)
        }
    }

    /// Writes every bar in `order` as CSV (no header) to `path`; returns the number of rows.
    @discardableResult
    func writeCSV(order: BenchBarOrder, to path: String) throws -> Int {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path)
        else { throw BenchFailure("cannot create \(path)") }
        defer { try? handle.close() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var rows = 0
        try forEach(order: order) { raw in
            appendCSV(raw, to: &buffer)
            rows += 1
            if buffer.count >= 1 << 20 {
                try handle.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try handle.write(contentsOf: buffer)
        return rows
    }

    /// Every bar in `order`, cut into arrays of `batchSize` (ready to hand to `insert(_:)`).
    func batches(order: BenchBarOrder, batchSize: Int) -> [[MinuteBar]] {
        var result: [[MinuteBar]] = []
        result.reserveCapacity(barCount / batchSize + 1)
        var current: [MinuteBar] = []
        current.reserveCapacity(batchSize)
        forEach(order: order) { raw in
            current.append(minuteBar(raw))
            if current.count == batchSize {
                result.append(current)
                current = []
                current.reserveCapacity(batchSize)
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }
}

/// One ticker's random walk: its own generator, so its bars don't depend on the order they're asked for.
private struct TickerWalk {
    let tickerIndex: Int
    var random: SplitMix64
    var closeCents: Int64
    let volatility: Double
    let baseVolume: Double

    init(tickerIndex: Int) {
        self.tickerIndex = tickerIndex
        var random = SplitMix64(seed: BenchBarGenerator.seed ^ (UInt64(tickerIndex + 1) &* 0x9E37_79B9_7F4A_7C15))
        // $10 … $600, 0.05 % … 0.2 % per minute, 500 … 50,000 shares a minute.
        closeCents = Int64(1_000 + random.unit() * 59_000)
        volatility = 0.0005 + random.unit() * 0.0015
        baseVolume = 500 * pow(100, random.unit())
        self.random = random
    }

    mutating func next(minuteIndex: Int) -> BenchRawBar {
        let open = closeCents
        var close = Int64((Double(open) * exp(volatility * random.gaussian())).rounded())
        close = max(close, 100) // stays at $1 or more
        let top = max(open, close), bottom = min(open, close)
        let high = top + Int64((Double(top) * volatility * 0.6 * abs(random.gaussian())).rounded())
        let low = max(1, bottom - Int64((Double(bottom) * volatility * 0.6 * abs(random.gaussian())).rounded()))
        let volume = max(1, Int64((baseVolume * exp(0.8 * random.gaussian())).rounded()))
        let tradeCount = max(1, volume / Int64(20 + random.next() % 80))
        let vwap = low * 100 + Int64(random.unit() * Double((high - low) * 100))
        closeCents = close
        return BenchRawBar(
            tickerIndex: tickerIndex, minuteIndex: minuteIndex, openCents: open, highCents: high, lowCents: low,
            closeCents: close, volume: volume, tradeCount: tradeCount, vwapBasisPoints: vwap)
    }
}
