import AutoTraderCore
import Foundation

/// A bar timeframe as Alpaca's data API reads it: `<n>Min` (n 1–59, also `<n>T`), `<n>Hour` (1–23, also
/// `<n>H`), `1Day` (`1D`), `1Week` (`1W`), `<n>Month` (n 1, 2, 3, 6, 12; also `<n>M`). Anything else is
/// Alpaca's 422 "invalid timeframe".
enum BarTimeframe: Equatable, Sendable {
    case minutes(Int)
    case hours(Int)
    case day
    case week
    case months(Int)

    init?(_ text: String) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 2, let amount = Int(digits), amount > 0 else { return nil }
        switch text.dropFirst(digits.count) {
        case "Min", "T", "Minute":
            guard amount <= 59 else { return nil }
            self = .minutes(amount)
        case "Hour", "H":
            guard amount <= 23 else { return nil }
            self = .hours(amount)
        case "Day", "D":
            guard amount == 1 else { return nil }
            self = .day
        case "Week", "W":
            guard amount == 1 else { return nil }
            self = .week
        case "Month", "M":
            guard [1, 2, 3, 6, 12].contains(amount) else { return nil }
            self = .months(amount)
        default:
            return nil
        }
    }

    /// In page tokens (which stay opaque to clients).
    var code: String {
        switch self {
        case .minutes(let n): return "\(n)Min"
        case .hours(let n): return "\(n)Hour"
        case .day: return "1Day"
        case .week: return "1Week"
        case .months(let n): return "\(n)Month"
        }
    }
}

/// Bars of every timeframe, aggregated from the minute bars (the only ones the generator makes).
///
/// - Intraday (`<n>Min`, `<n>Hour`): buckets of n minutes or hours counted from New York midnight (so
///   every bucket lies in one New York day; for n dividing 60 minutes, or 1 hour, they are aligned to the
///   clock, as Alpaca's are), stamped at the bucket's start, over the minute bars 1Min serves (extended
///   hours only with `--extended-hours`). A bucket with no minute bar has no bar.
/// - `1Day`: the session's regular-hours minutes, stamped at New York midnight (as before).
/// - `1Week` (Monday to Friday) and `<n>Month` (calendar months, grouped from January): the daily bars of
///   the period's sessions, stamped at New York midnight of its first session.
/// The bar now in progress is included, built from the minutes that have ended, as the daily bar is.
extension MarketDataGenerator {
    func bars(
        symbol: String, timeframe: BarTimeframe, from: Timestamp, through: Timestamp, asOf: Double, descending: Bool,
        limit: Int
    ) -> [SimBar] {
        switch timeframe {
        case .minutes(1):
            return bars(symbol: symbol, from: from, through: through, asOf: asOf, descending: descending, limit: limit)
        case .day:
            return dailyBars(symbol: symbol, from: from, through: through, asOf: asOf, descending: descending, limit: limit)
        case .minutes(let n):
            return intradayBars(symbol: symbol, bucket: Int64(n) * 60, from: from, through: through, asOf: asOf,
                                descending: descending, limit: limit)
        case .hours(let n):
            return intradayBars(symbol: symbol, bucket: Int64(n) * 3600, from: from, through: through, asOf: asOf,
                                descending: descending, limit: limit)
        case .week:
            return periodBars(symbol: symbol, lookbackDays: 8, from: from, through: through, asOf: asOf,
                              descending: descending, limit: limit) { date in (date.daysSinceEpoch + 3) / 7 }
        case .months(let n):
            return periodBars(symbol: symbol, lookbackDays: 31 * n + 1, from: from, through: through, asOf: asOf,
                              descending: descending, limit: limit) { date in (date.year * 12 + date.month - 1) / n }
        }
    }

    private func intradayBars(
        symbol: String, bucket: Int64, from: Timestamp, through: Timestamp, asOf: Double, descending: Bool, limit: Int
    ) -> [SimBar] {
        guard universe.asset(symbol: symbol)?.isActive == true, limit > 0, from <= through else { return [] }
        var result: [SimBar] = []
        let indices = hours.sessionIndices(from: from.adding(seconds: -86_400), through: through)
        for index in descending ? Array(indices.reversed()) : Array(indices) {
            let origin = hours.newYorkMidnight(of: hours.sessions[index])
            // A session's bars (04:00–20:00 New York at most) lie within a day of its New York midnight.
            let minutes = bars(symbol: symbol, from: origin, through: origin.adding(seconds: 86_400 - 60), asOf: asOf)
            var groups: [(Timestamp, [SimBar])] = []
            for bar in minutes {
                let start = origin.adding(seconds: (bar.start.secondsSinceEpoch - origin.secondsSinceEpoch) / bucket * bucket)
                if groups.last?.0 == start { groups[groups.count - 1].1.append(bar) } else { groups.append((start, [bar])) }
            }
            for (start, list) in descending ? groups.reversed() : groups where start >= from && start <= through {
                guard let bar = Self.aggregate(list, stamp: start) else { continue }
                result.append(bar)
                if result.count == limit { return result }
            }
        }
        return result
    }

    private func periodBars(
        symbol: String, lookbackDays: Int, from: Timestamp, through: Timestamp, asOf: Double, descending: Bool, limit: Int,
        key: (CivilDate) -> Int
    ) -> [SimBar] {
        guard universe.asset(symbol: symbol)?.isActive == true, limit > 0, from <= through else { return [] }
        let indices = hours.sessionIndices(from: from.adding(seconds: -Int64(lookbackDays) * 86_400), through: through)
        var periods: [(first: Int, last: Int)] = []
        var lastKey: Int?
        for index in indices {
            let periodKey = key(hours.sessions[index].date)
            if periodKey == lastKey { periods[periods.count - 1].last = index } else { periods.append((index, index)) }
            lastKey = periodKey
        }
        var result: [SimBar] = []
        for period in descending ? periods.reversed() : periods {
            let stamp = hours.newYorkMidnight(of: hours.sessions[period.first])
            guard stamp >= from, stamp <= through else { continue }
            let daily = dailyBars(symbol: symbol, from: stamp, through: hours.newYorkMidnight(of: hours.sessions[period.last]),
                                  asOf: asOf)
            guard let bar = Self.aggregate(daily, stamp: stamp) else { continue }
            result.append(bar)
            if result.count == limit { break }
        }
        return result
    }

    /// Today's (or the last session's) daily bar and the one before, as known at `asOf`.
    func lastTwoDailyBars(symbol: String, asOf: Double) -> (latest: SimBar?, previous: SimBar?) {
        let through = Self.lastEndedMinute(asOf: asOf)
        let bars = dailyBars(symbol: symbol, from: through.adding(seconds: -21 * 86_400), through: through, asOf: asOf,
                             descending: true, limit: 2)
        return (bars.first, bars.count > 1 ? bars[1] : nil)
    }
}
