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

    /// The `count` bars ending with the one at `last` (fewer at the start of the series).
    public func window(endingAt last: Int, count: Int) -> BarWindow {
        let start = max(0, last - count + 1)
        return BarWindow(series: self, offset: start, count: last + 1 - start)
    }
}

/// The bars an algorithm is shown, oldest first, indexed from 0 like an array: a window over a `BarSeries`.
public struct BarWindow: RandomAccessCollection, Sendable {
    @usableFromInline let series: BarSeries
    @usableFromInline let offset: Int
    public let count: Int

    @usableFromInline init(series: BarSeries, offset: Int, count: Int) {
        self.series = series
        self.offset = offset
        self.count = count
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
