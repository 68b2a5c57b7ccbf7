import Foundation

/// A ticker's minute bars held once, oldest first, with their closes in a contiguous buffer of their own:
/// a backtest makes one and hands each minute's decision a window over it instead of a copy.
public final class BarSeries: Sendable {
    public let bars: ContiguousArray<MinuteBar>
    /// `bars[i].close`, contiguous: what the indicators read in place.
    public let closes: ContiguousArray<Double>

    public init<Bars: Collection<MinuteBar>>(_ bars: Bars) {
        self.bars = ContiguousArray(bars)
        closes = ContiguousArray(bars.lazy.map(\.close))
    }

    public var count: Int { bars.count }

    /// The `count` bars ending with the one at `last` (fewer at the start of the series). With `batch` (a
    /// backtest's, made for this series), the window's indicators are computed with the next minutes'.
    public func window(endingAt last: Int, count: Int) -> BarWindow { window(endingAt: last, count: count, batch: nil) }

    func window(endingAt last: Int, count: Int, batch: IndicatorBatch?) -> BarWindow {
        let start = max(0, last - count + 1)
        return BarWindow(series: self, offset: start, count: last + 1 - start, batch: batch)
    }
}

/// The bars an algorithm is shown, oldest first, indexed from 0 like an array: a window over a `BarSeries`.
public struct BarWindow: RandomAccessCollection, Sendable {
    @usableFromInline let series: BarSeries
    // Settable inside the module: a backtest moves its one window along the series (see `AlgorithmInput`).
    @usableFromInline internal(set) var offset: Int
    public internal(set) var count: Int
    /// A backtest's batch over `series`, or nil (the executor's window computes its indicators alone).
    let batch: IndicatorBatch?

    init(series: BarSeries, offset: Int, count: Int, batch: IndicatorBatch? = nil) {
        self.series = series
        self.offset = offset
        self.count = count
        self.batch = batch
    }

    /// A window over exactly these bars (the executor's: one minute's read from stocks.db).
    public init(_ bars: [MinuteBar]) {
        self.init(series: BarSeries(bars), offset: 0, count: bars.count)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(position: Int) -> MinuteBar {
        precondition(position >= 0 && position < count, "bar index out of range")
        return series.bars[offset + position]
    }

    /// The newest bar's close, without copying the bar.
    @inlinable public var lastClose: Double? { count == 0 ? nil : series.closes[offset + count - 1] }

    /// The closes, oldest first, read in place (no copy): what the indicators' in-place forms take.
    // Inlinable: specialized where an algorithm calls it, with no generic metadata looked up per minute.
    @inlinable public func withCloses<Result>(_ body: (UnsafeBufferPointer<Double>) throws -> Result) rethrows -> Result {
        try series.closes.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[offset..<(offset + count)]))
        }
    }
}

extension BarWindow {
    /// The indicators the shipped algorithms read, for this window's closes: `Indicators`' in-place values,
    /// bit for bit, whether computed here or (over a backtest's series) in a batch with the next minutes'.

    /// The two SMAs' values at the window's last two bars (nil when it has fewer than `max(fast, slow) + 1`).
    public func smaLastTwo(fast: Int, slow: Int) -> (fast: Indicators.LastTwo, slow: Indicators.LastTwo)? {
        guard fast > 0, slow > 0, count >= Swift.max(fast, slow) + 1 else { return nil }
        guard let values = batched(.sma(fast: fast, slow: slow)) else {
            return withCloses { Indicators.smaLastTwo($0, fast: fast, slow: slow) }
        }
        return (Indicators.LastTwo(before: values.0, now: values.1), Indicators.LastTwo(before: values.2, now: values.3))
    }

    /// Wilder's RSI at the window's last bar (nil when it has `period` bars or fewer).
    public func rsiLast(period: Int = 14) -> Double? {
        guard period > 0, count > period else { return nil }
        guard let values = batched(.rsi(period: period)) else { return withCloses { Indicators.rsiLast($0, period: period) } }
        return values.0
    }

    /// MACD and its signal line at the window's last two bars (nil when it is too short for both).
    public func macdLastTwo(fast: Int = 12, slow: Int = 26, signal: Int = 9) -> (macd: Indicators.LastTwo, signal: Indicators.LastTwo)? {
        guard fast > 0, slow > 0, signal > 0, count >= Indicators.macdBarsNeeded(fast: fast, slow: slow, signal: signal) else { return nil }
        guard let values = batched(.macd(fast: fast, slow: slow, signal: signal)) else {
            return withCloses { Indicators.macdLastTwo($0, fast: fast, slow: slow, signal: signal) }
        }
        return (Indicators.LastTwo(before: values.0, now: values.1), Indicators.LastTwo(before: values.2, now: values.3))
    }

    // Only a window that did not reach the series' start has the full length its neighbours share.
    private func batched(_ kind: IndicatorBatch.Kind) -> (Double, Double, Double, Double)? {
        guard offset > 0, let values = batch?.values(kind, length: count, endingAt: offset + count - 1) else { return nil }
        return values
    }

    /// Moves the window to the `count` bars ending at series index `last` (fewer at the series' start).
    mutating func move(endingAt last: Int, count wanted: Int) {
        offset = Swift.max(0, last - wanted + 1)
        count = last + 1 - offset
    }
}
