import Foundation

/// The technical indicators the shipped algorithms share, by their standard definitions.
///
/// Each function takes a series oldest first and returns one value per input, nil during
/// warm-up, so the output lines up with the input (and with `autotrader indicators`).
/// Indicators are computed in `Double`, as charting tools do; money never is.
public enum Indicators {
    /// Simple moving average of the last `period` values.
    public static func sma(_ values: [Double], period: Int) -> [Double?] {
        precondition(period > 0)
        var result = [Double?](repeating: nil, count: values.count)
        var sum = 0.0
        for index in values.indices {
            sum += values[index]
            if index >= period { sum -= values[index - period] }
            if index >= period - 1 { result[index] = sum / Double(period) }
        }
        return result
    }

    /// Exponential moving average, k = 2 / (period + 1), seeded with the SMA of the first `period` values.
    public static func ema(_ values: [Double], period: Int) -> [Double?] {
        precondition(period > 0)
        var result = [Double?](repeating: nil, count: values.count)
        guard values.count >= period else { return result }
        let k = 2.0 / Double(period + 1)
        var current = values[0..<period].reduce(0, +) / Double(period)
        result[period - 1] = current
        for index in period..<values.count {
            current += (values[index] - current) * k
            result[index] = current
        }
        return result
    }

    /// EMA of a series that itself starts with a warm-up (nil) stretch, seeded once values begin.
    public static func ema(_ values: [Double?], period: Int) -> [Double?] {
        guard let first = values.firstIndex(where: { $0 != nil }) else { return values.map { _ in nil } }
        let tail = values[first...].map { $0 ?? 0 }
        return [Double?](repeating: nil, count: first) + ema(Array(tail), period: period)
    }

    /// MACD line (EMA fast − EMA slow), signal line (EMA of MACD) and histogram (MACD − signal).
    public struct MACD: Sendable {
        public let macd: [Double?]
        public let signal: [Double?]
        public let histogram: [Double?]
    }

    public static func macd(_ values: [Double], fast: Int = 12, slow: Int = 26, signal: Int = 9) -> MACD {
        let fastLine = ema(values, period: fast)
        let slowLine = ema(values, period: slow)
        let macdLine: [Double?] = zip(fastLine, slowLine).map { fast, slow in
            guard let fast, let slow else { return nil }
            return fast - slow
        }
        let signalLine = ema(macdLine, period: signal)
        let histogram: [Double?] = zip(macdLine, signalLine).map { macd, signal in
            guard let macd, let signal else { return nil }
            return macd - signal
        }
        return MACD(macd: macdLine, signal: signalLine, histogram: histogram)
    }

    /// Wilder's RSI: average gain and loss seeded with the mean of the first `period` changes,
    /// then smoothed as (previous × (period − 1) + current) / period. First value at index `period`.
    public static func rsi(_ values: [Double], period: Int = 14) -> [Double?] {
        precondition(period > 0)
        var result = [Double?](repeating: nil, count: values.count)
        guard values.count > period else { return result }
        var gain = 0.0
        var loss = 0.0
        for index in 1...period {
            let change = values[index] - values[index - 1]
            if change > 0 { gain += change } else { loss -= change }
        }
        gain /= Double(period)
        loss /= Double(period)
        result[period] = rsiValue(gain: gain, loss: loss)
        for index in (period + 1)..<values.count {
            let change = values[index] - values[index - 1]
            gain = (gain * Double(period - 1) + max(change, 0)) / Double(period)
            loss = (loss * Double(period - 1) + max(-change, 0)) / Double(period)
            result[index] = rsiValue(gain: gain, loss: loss)
        }
        return result
    }

    private static func rsiValue(gain: Double, loss: Double) -> Double {
        if loss == 0 { return gain == 0 ? 50 : 100 }
        return 100 - 100 / (1 + gain / loss)
    }
}

extension Indicators {
    /// A value with fixed decimals, for reasons and the indicators CSV.
    public static func format(_ value: Double, places: Int = 2) -> String {
        String(format: "%.\(places)f", value)
    }
}
