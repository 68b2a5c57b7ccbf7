import Foundation

/// A number the indicators can run on: a `Double`, or several `Double`s side by side (one per window)
/// when a backtest computes many minutes' indicators at once. Every operation is the same IEEE operation
/// in every lane, so a lane's result is bit for bit the `Double` one.
protocol IndicatorLane {
    init(repeating value: Double)
    static func + (lhs: Self, rhs: Self) -> Self
    static func - (lhs: Self, rhs: Self) -> Self
    static func * (lhs: Self, rhs: Self) -> Self
    static func / (lhs: Self, rhs: Self) -> Self
    static prefix func - (value: Self) -> Self
    /// `max(self, 0)`, exactly as `Swift.max` answers it (`0 >= self ? 0 : self`).
    var positivePart: Self { get }
    /// Wilder's seeding step: a rise adds to `gain`, anything else is taken off `loss`.
    static func seed(_ change: Self, gain: inout Self, loss: inout Self)
}

extension Double: IndicatorLane {
    init(repeating value: Double) { self = value }
    var positivePart: Double { Swift.max(self, 0) }
    static func seed(_ change: Double, gain: inout Double, loss: inout Double) {
        if change > 0 { gain += change } else { loss -= change }
    }
}

extension SIMD8: IndicatorLane where Scalar == Double {
    var positivePart: Self { replacing(with: 0, where: Self.zero .>= self) }
    // Adding 0 to a gain (never −0) or taking 0 off a loss leaves it as it was: the branch's result per lane.
    static func seed(_ change: Self, gain: inout Self, loss: inout Self) {
        let rose = change .> Self.zero
        gain = gain + Self.zero.replacing(with: change, where: rose)
        loss = loss - change.replacing(with: 0, where: rose)
    }
}

/// The indicators' running state, one value at a time, oldest first: the one place their arithmetic is
/// written. `Indicators`' series, the in-place last values and a backtest's batches all feed these.
enum IndicatorState {
    /// A simple moving average's running sum: add the new value, take off the one that left the window.
    struct SMA<Lane: IndicatorLane> {
        let period: Int
        private(set) var fed = 0
        private(set) var sum = Lane(repeating: 0)

        init(period: Int) {
            precondition(period > 0)
            self.period = period
        }

        /// Feeds the next value (`leaving` is read once `period` values are in); true once there is an average.
        mutating func feed(_ value: Lane, leaving: () -> Lane) -> Bool {
            sum = sum + value
            if fed >= period { sum = sum - leaving() }
            fed += 1
            return fed >= period
        }

        var average: Lane { sum / Lane(repeating: Double(period)) }
    }

    /// An exponential moving average, k = 2 / (period + 1), seeded with the plain mean of the first `period` values.
    struct EMA<Lane: IndicatorLane> {
        let period: Int
        let k: Lane
        private(set) var fed = 0
        private(set) var value = Lane(repeating: 0)

        init(period: Int) {
            precondition(period > 0)
            self.period = period
            k = Lane(repeating: 2.0 / Double(period + 1))
        }

        /// Feeds the next value; true once `value` is the average.
        mutating func feed(_ next: Lane) -> Bool {
            if fed < period {
                value = value + next
                fed += 1
                if fed == period { value = value / Lane(repeating: Double(period)) }
                return fed == period
            }
            value = value + (next - value) * k
            return true
        }
    }

    /// Wilder's average gain and loss: seeded with the mean of the first `period` changes, then smoothed
    /// as (previous × (period − 1) + current) / period.
    struct RSI<Lane: IndicatorLane> {
        let period: Int
        private(set) var fed = 0
        private(set) var gain = Lane(repeating: 0)
        private(set) var loss = Lane(repeating: 0)

        init(period: Int) {
            precondition(period > 0)
            self.period = period
        }

        /// Feeds the next change (value − previous value); true once there is an RSI.
        mutating func feed(change: Lane) -> Bool {
            if fed < period {
                Lane.seed(change, gain: &gain, loss: &loss)
                fed += 1
                if fed == period {
                    gain = gain / Lane(repeating: Double(period))
                    loss = loss / Lane(repeating: Double(period))
                }
                return fed == period
            }
            let kept = Lane(repeating: Double(period - 1)), whole = Lane(repeating: Double(period))
            gain = (gain * kept + change.positivePart) / whole
            loss = (loss * kept + (-change).positivePart) / whole
            return true
        }
    }

    /// MACD (EMA fast − EMA slow) and its signal line (an EMA of MACD from MACD's first value).
    struct MACD<Lane: IndicatorLane> {
        private(set) var fast: EMA<Lane>
        private(set) var slow: EMA<Lane>
        private(set) var signal: EMA<Lane>
        private(set) var macd = Lane(repeating: 0)

        init(fast: Int, slow: Int, signal: Int) {
            self.fast = EMA(period: fast)
            self.slow = EMA(period: slow)
            self.signal = EMA(period: signal)
        }

        /// Feeds the next value: `(hasMACD, hasSignal)`.
        mutating func feed(_ value: Lane) -> (macd: Bool, signal: Bool) {
            let fastReady = fast.feed(value), slowReady = slow.feed(value)
            guard fastReady && slowReady else { return (false, false) }
            macd = fast.value - slow.value
            return (true, signal.feed(macd))
        }
    }

    static func rsiValue(gain: Double, loss: Double) -> Double {
        if loss == 0 { return gain == 0 ? 50 : 100 }
        return 100 - 100 / (1 + gain / loss)
    }
}

extension Indicators {
    /// The indicator's last two values, oldest first (nil when the series is too short for them).
    public struct LastTwo: Hashable, Sendable {
        public let before: Double
        public let now: Double
    }

    /// The SMA's values at the last two positions of `values`, read in place with no allocation: what
    /// `sma(_:period:)` gives there, bit for bit (the same running state).
    public static func smaLastTwo(_ values: UnsafeBufferPointer<Double>, period: Int) -> LastTwo? {
        precondition(period > 0)
        guard values.count >= period + 1 else { return nil }
        return smaLastTwo(count: values.count, period: period) { values[$0] }
    }

    /// Two SMAs' last two values: `smaLastTwo(_:period:)` for each.
    public static func smaLastTwo(
        _ values: UnsafeBufferPointer<Double>, fast: Int, slow: Int
    ) -> (fast: LastTwo, slow: LastTwo)? {
        guard let fastTwo = smaLastTwo(values, period: fast), let slowTwo = smaLastTwo(values, period: slow) else { return nil }
        return (fastTwo, slowTwo)
    }

    /// Wilder's RSI at the last position of `values`, in place: `rsi(_:period:).last`, bit for bit.
    public static func rsiLast(_ values: UnsafeBufferPointer<Double>, period: Int = 14) -> Double? {
        precondition(period > 0)
        guard values.count > period else { return nil }
        let state = rsiState(count: values.count, period: period) { values[$0] }
        return IndicatorState.rsiValue(gain: state.gain, loss: state.loss)
    }

    /// MACD and its signal line at the last two positions of `values`, in place: what `macd(_:…)` gives
    /// there, bit for bit.
    public static func macdLastTwo(
        _ values: UnsafeBufferPointer<Double>, fast: Int = 12, slow: Int = 26, signal: Int = 9
    ) -> (macd: LastTwo, signal: LastTwo)? {
        precondition(fast > 0 && slow > 0 && signal > 0)
        guard values.count >= macdBarsNeeded(fast: fast, slow: slow, signal: signal) else { return nil }
        return macdLastTwo(count: values.count, fast: fast, slow: slow, signal: signal) { values[$0] }
    }

    /// The fewest values that give MACD and signal values at the last two positions.
    static func macdBarsNeeded(fast: Int, slow: Int, signal: Int) -> Int { max(fast, slow) - 1 + signal + 1 }

    // The walks over one window, for any lane (`load(i)` is the window's i-th value); `count` is long enough.

    static func smaLastTwoLanes<Lane: IndicatorLane>(count: Int, period: Int, load: (Int) -> Lane) -> (before: Lane, now: Lane) {
        var state = IndicatorState.SMA<Lane>(period: period)
        var before = Lane(repeating: 0)
        for index in 0..<count {
            _ = state.feed(load(index)) { load(index - period) }
            if index == count - 2 { before = state.average }
        }
        return (before, state.average)
    }

    static func smaLastTwo(count: Int, period: Int, load: (Int) -> Double) -> LastTwo {
        let (before, now) = smaLastTwoLanes(count: count, period: period, load: load)
        return LastTwo(before: before, now: now)
    }

    static func rsiState<Lane: IndicatorLane>(count: Int, period: Int, load: (Int) -> Lane) -> IndicatorState.RSI<Lane> {
        var state = IndicatorState.RSI<Lane>(period: period)
        var previous = load(0)
        for index in 1..<count {
            let value = load(index)
            _ = state.feed(change: value - previous)
            previous = value
        }
        return state
    }

    static func macdLastTwoLanes<Lane: IndicatorLane>(
        count: Int, fast: Int, slow: Int, signal: Int, load: (Int) -> Lane
    ) -> (macdBefore: Lane, macdNow: Lane, signalBefore: Lane, signalNow: Lane) {
        var state = IndicatorState.MACD<Lane>(fast: fast, slow: slow, signal: signal)
        var macdBefore = Lane(repeating: 0), signalBefore = Lane(repeating: 0)
        for index in 0..<(count - 1) { _ = state.feed(load(index)) }
        macdBefore = state.macd
        signalBefore = state.signal.value
        _ = state.feed(load(count - 1))
        return (macdBefore, state.macd, signalBefore, state.signal.value)
    }

    static func macdLastTwo(
        count: Int, fast: Int, slow: Int, signal: Int, load: (Int) -> Double
    ) -> (macd: LastTwo, signal: LastTwo) {
        let lines = macdLastTwoLanes(count: count, fast: fast, slow: slow, signal: signal, load: load)
        return (LastTwo(before: lines.0, now: lines.1), LastTwo(before: lines.2, now: lines.3))
    }
}
