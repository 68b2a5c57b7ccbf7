import Foundation

/// The technical indicators the shipped algorithms share, by their standard definitions.
///
/// Each function takes a series oldest first and returns one value per input, nil during
/// warm-up, so the output lines up with the input (and with `autotrader indicators`).
/// Indicators are computed in `Double`, as charting tools do; money never is.
public enum Indicators {
    /// Simple moving average of the last `period` values.
    public static func sma(_ values: [Double], period: Int) -> [Double?] {
        var state = IndicatorState.SMA<Double>(period: period)
        return values.indices.map { index in
            state.feed(values[index]) { values[index - period] } ? state.average : nil
        }
    }

    /// Exponential moving average, k = 2 / (period + 1), seeded with the SMA of the first `period` values.
    public static func ema(_ values: [Double], period: Int) -> [Double?] {
        var state = IndicatorState.EMA<Double>(period: period)
        return values.map { state.feed($0) ? state.value : nil }
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
        var state = IndicatorState.MACD<Double>(fast: fast, slow: slow, signal: signal)
        var macdLine: [Double?] = [], signalLine: [Double?] = [], histogram: [Double?] = []
        for value in values {
            let ready = state.feed(value)
            macdLine.append(ready.macd ? state.macd : nil)
            signalLine.append(ready.signal ? state.signal.value : nil)
            histogram.append(ready.signal ? state.macd - state.signal.value : nil)
        }
        return MACD(macd: macdLine, signal: signalLine, histogram: histogram)
    }

    /// Wilder's RSI: average gain and loss seeded with the mean of the first `period` changes,
    /// then smoothed as (previous × (period − 1) + current) / period. First value at index `period`.
    public static func rsi(_ values: [Double], period: Int = 14) -> [Double?] {
        var state = IndicatorState.RSI<Double>(period: period)
        return values.indices.map { index in
            guard index > 0, state.feed(change: values[index] - values[index - 1]) else { return nil }
            return IndicatorState.rsiValue(gain: state.gain, loss: state.loss)
        }
    }
}

extension Indicators {
    /// A value with fixed decimals, for reasons and the indicators CSV.
    public static func format(_ value: Double, places: Int = 2) -> String {
        String(format: "%.\(places)f", value)
    }
}
