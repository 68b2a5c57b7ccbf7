import Foundation

/// A backtest's indicator values for many minutes at once: when an algorithm asks its window for an
/// indicator, the windows of the next few hundred minutes get theirs too, eight side by side in vector
/// lanes. Each lane walks its own window with `IndicatorState`'s arithmetic, in the same order, so every
/// value is bit for bit what the window computed alone would give (tested); only the waiting is shared.
///
/// One backtest's own, used on the thread that made it (a replay is one synchronous loop): on any other
/// thread it answers nil and the window computes alone, so no lock is taken for each minute.
final class IndicatorBatch: @unchecked Sendable {
    /// What is asked for, with its parameters.
    enum Kind: Hashable, Sendable {
        case sma(fast: Int, slow: Int)
        case rsi(period: Int)
        case macd(fast: Int, slow: Int, signal: Int)
    }

    /// One kind's values for `minutes` consecutive windows of `length` bars, four per window.
    private struct Block {
        let kind: Kind
        let length: Int
        let start: Int
        var values: [Double]
    }

    static let minutes = 512
    private static let lanes = 8
    private let closes: ContiguousArray<Double>
    private let owner = pthread_self()
    // One block per kind and length, replaced as the replay moves on: a few kilobytes whatever the series.
    // Read and written on `owner`'s thread only, one access at a time (so no run-time exclusivity check).
    @exclusivity(unchecked) private var blocks: [Block] = []

    /// A batch over `series`' closes, for the calling thread.
    init(_ series: BarSeries) {
        closes = series.closes
    }

    /// The four values of `kind` for the window of `length` bars ending at series index `end` (the window
    /// lies within the series and is long enough for the kind), or nil on a thread not the batch's own.
    func values(_ kind: Kind, length: Int, endingAt end: Int) -> (Double, Double, Double, Double)? {
        guard pthread_equal(pthread_self(), owner) != 0 else { return nil }
        for index in blocks.indices where blocks[index].kind == kind && blocks[index].length == length {
            let start = blocks[index].start
            if start <= end, end < start + Self.minutes { return Self.read(blocks[index].values, at: end - start) }
            blocks[index] = compute(kind, length: length, from: end)
            return Self.read(blocks[index].values, at: 0)
        }
        blocks.append(compute(kind, length: length, from: end))
        return Self.read(blocks[blocks.count - 1].values, at: 0)
    }

    private static func read(_ values: [Double], at slot: Int) -> (Double, Double, Double, Double) {
        (values[slot * 4], values[slot * 4 + 1], values[slot * 4 + 2], values[slot * 4 + 3])
    }

    /// The values for the windows ending at `first`, `first + 1`, … (to the block's size or the series' end).
    private func compute(_ kind: Kind, length: Int, from first: Int) -> Block {
        let last = min(first + Self.minutes, closes.count) - 1
        var values = [Double](repeating: .nan, count: Self.minutes * 4)
        closes.withUnsafeBufferPointer { closes in
            let base = UnsafeRawPointer(closes.baseAddress!)
            var end = first
            while end <= last {
                let start = end - length + 1
                if start >= 0, end + Self.lanes - 1 <= last {
                    // Eight windows, starting at `start`, `start + 1`, …: lane l's i-th value is closes[start + l + i].
                    let eight = Self.walk(kind, length: length) { index in
                        base.loadUnaligned(fromByteOffset: (start + index) * MemoryLayout<Double>.stride, as: SIMD8<Double>.self)
                    }
                    for lane in 0..<Self.lanes {
                        Self.store(kind, (eight.0[lane], eight.1[lane], eight.2[lane], eight.3[lane]), in: &values, at: end + lane - first)
                    }
                    end += Self.lanes
                } else {
                    // Near the series' end, one window at a time (and none that would begin before the series).
                    if start >= 0 { Self.store(kind, Self.walk(kind, length: length) { closes[start + $0] }, in: &values, at: end - first) }
                    end += 1
                }
            }
        }
        return Block(kind: kind, length: length, start: first, values: values)
    }

    /// One kind over one window (`Double`) or eight side by side (`SIMD8<Double>`): `load(i)` is the windows'
    /// i-th values. For RSI, the average gain and loss.
    private static func walk<Lane: IndicatorLane>(_ kind: Kind, length: Int, load: (Int) -> Lane) -> (Lane, Lane, Lane, Lane) {
        switch kind {
        case .sma(let fast, let slow):
            let fastTwo = Indicators.smaLastTwoLanes(count: length, period: fast, load: load)
            let slowTwo = Indicators.smaLastTwoLanes(count: length, period: slow, load: load)
            return (fastTwo.before, fastTwo.now, slowTwo.before, slowTwo.now)
        case .rsi(let period):
            let state = Indicators.rsiState(count: length, period: period, load: load)
            return (state.gain, state.loss, state.gain, state.loss)
        case .macd(let fast, let slow, let signal):
            let lines = Indicators.macdLastTwoLanes(count: length, fast: fast, slow: slow, signal: signal, load: load)
            return (lines.macdBefore, lines.macdNow, lines.signalBefore, lines.signalNow)
        }
    }

    private static func store(_ kind: Kind, _ walked: (Double, Double, Double, Double), in values: inout [Double], at slot: Int) {
        var four = walked
        if case .rsi = kind {
            let rsi = IndicatorState.rsiValue(gain: walked.0, loss: walked.1)
            four = (rsi, rsi, rsi, rsi)
        }
        values[slot * 4] = four.0
        values[slot * 4 + 1] = four.1
        values[slot * 4 + 2] = four.2
        values[slot * 4 + 3] = four.3
    }
}
