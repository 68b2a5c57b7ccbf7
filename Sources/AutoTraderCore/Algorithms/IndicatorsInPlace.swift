import Foundation

extension Indicators {
    /// The indicator's last two values, oldest first (nil when the series is too short for them).
    public struct LastTwo: Hashable, Sendable {
        public let before: Double
        public let now: Double
    }

    /// The SMA's values at the last two positions of `values`, read in place with no allocation. The same
    /// running sum, in the same order, as `sma(_:period:)`: bit for bit the values it gives there.
    public static func smaLastTwo(_ values: UnsafeBufferPointer<Double>, period: Int) -> LastTwo? {
        precondition(period > 0)
        let count = values.count
        guard count >= period + 1 else { return nil }
        var sum = 0.0
        var before = 0.0
        for index in 0..<count {
            sum += values[index]
            if index >= period { sum -= values[index - period] }
            if index == count - 2 { before = sum / Double(period) }
        }
        return LastTwo(before: before, now: sum / Double(period))
    }

    /// Two SMAs' last two values in one pass: the same two running sums as `smaLastTwo` twice (so the same
    /// bits), interleaved so the processor adds both at once instead of one after the other.
    public static func smaLastTwo(
        _ values: UnsafeBufferPointer<Double>, fast: Int, slow: Int
    ) -> (fast: LastTwo, slow: LastTwo)? {
        precondition(fast > 0 && slow > 0)
        let count = values.count
        guard count >= max(fast, slow) + 1 else { return nil }
        var fastSum = 0.0, slowSum = 0.0
        var fastBefore = 0.0, slowBefore = 0.0
        for index in 0..<count {
            let value = values[index]
            fastSum += value
            slowSum += value
            if index >= fast { fastSum -= values[index - fast] }
            if index >= slow { slowSum -= values[index - slow] }
            if index == count - 2 {
                fastBefore = fastSum / Double(fast)
                slowBefore = slowSum / Double(slow)
            }
        }
        return (LastTwo(before: fastBefore, now: fastSum / Double(fast)), LastTwo(before: slowBefore, now: slowSum / Double(slow)))
    }

    /// Wilder's RSI at the last position of `values`, in place: `rsi(_:period:).last`, bit for bit.
    public static func rsiLast(_ values: UnsafeBufferPointer<Double>, period: Int = 14) -> Double? {
        precondition(period > 0)
        guard values.count > period else { return nil }
        var gain = 0.0
        var loss = 0.0
        for index in 1...period {
            let change = values[index] - values[index - 1]
            if change > 0 { gain += change } else { loss -= change }
        }
        gain /= Double(period)
        loss /= Double(period)
        for index in (period + 1)..<values.count {
            let change = values[index] - values[index - 1]
            gain = (gain * Double(period - 1) + max(change, 0)) / Double(period)
            loss = (loss * Double(period - 1) + max(-change, 0)) / Double(period)
        }
        if loss == 0 { return gain == 0 ? 50 : 100 }
        return 100 - 100 / (1 + gain / loss)
    }

    /// MACD and its signal line at the last two positions of `values`, in place: what `macd(_:…)` gives
    /// there, bit for bit (each EMA seeded with the plain mean of its first values, summed in order).
    public static func macdLastTwo(
        _ values: UnsafeBufferPointer<Double>, fast: Int = 12, slow: Int = 26, signal: Int = 9
    ) -> (macd: LastTwo, signal: LastTwo)? {
        precondition(fast > 0 && slow > 0 && signal > 0)
        let count = values.count
        let first = max(fast, slow) - 1 // the first MACD value
        guard count >= first + signal + 1 else { return nil }
        let kFast = 2.0 / Double(fast + 1), kSlow = 2.0 / Double(slow + 1), kSignal = 2.0 / Double(signal + 1)
        var fastLine = 0.0, slowLine = 0.0, signalLine = 0.0
        var macdBefore = 0.0, signalBefore = 0.0, macdNow = 0.0
        for index in 0..<count {
            let value = values[index]
            if index < fast {
                fastLine += value
                if index == fast - 1 { fastLine /= Double(fast) }
            } else {
                fastLine += (value - fastLine) * kFast
            }
            if index < slow {
                slowLine += value
                if index == slow - 1 { slowLine /= Double(slow) }
            } else {
                slowLine += (value - slowLine) * kSlow
            }
            guard index >= first else { continue }
            let macd = fastLine - slowLine
            let step = index - first
            if step < signal {
                signalLine += macd
                if step == signal - 1 { signalLine /= Double(signal) }
            } else {
                signalLine += (macd - signalLine) * kSignal
            }
            if index == count - 2 {
                macdBefore = macd
                signalBefore = signalLine
            }
            macdNow = macd
        }
        return (LastTwo(before: macdBefore, now: macdNow), LastTwo(before: signalBefore, now: signalLine))
    }
}
