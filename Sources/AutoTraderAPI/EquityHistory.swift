import AutoTraderCore
import Foundation
import Synchronization

/// A card's value over time for its sparkline: at up to `maxPoints` evenly spaced instants across
/// its life on the broker's clock, uninvested cash + shares × the latest close at that instant.
///
/// The running position at any instant comes from prefix sums kept in memory per card (built once,
/// then extended with rows of a higher id only: transactions are immutable and ids grow in commit
/// order), so a request is one index range read of new rows, binary searches, and one index lookup
/// of a bar per point. At most `maxCards` cards' sums are kept (least recently used dropped).
final class EquityHistory: Sendable {
    struct Point: Encodable, Sendable {
        let t: Timestamp
        let value: Decimal
    }

    private struct Series {
        var lastID: Int64 = 0
        var times: [Int64] = []
        var shares: [Int64] = []
        var investedMicros: [Int64] = []
        var priceMicros: [Int64] = []
        var lastUsed: UInt64 = 0
    }

    static let maxPoints = 120
    let maxCards: Int
    private let state = Mutex<(series: [Int64: Series], tick: UInt64)>(([:], 0))
    let system: SystemDatabase
    let stocks: StocksDatabase

    init(system: SystemDatabase, stocks: StocksDatabase, maxCards: Int = 16) {
        self.system = system
        self.stocks = stocks
        self.maxCards = maxCards
    }

    /// Where a card's life lies on the broker's clock. In live and paper mode the card's own `created_at` and
    /// `stopped_at` (this machine's clock, which is the broker's) bound it. In simulated mode those are on
    /// the wall clock while bars and fills are on the simulator's, so the life is taken from the card's
    /// activity instead: from its first decision (or fill) to now on the simulator's clock, or, stopped,
    /// to the end of its last decided minute (or last fill).
    struct Life: Hashable, Sendable {
        let start: Timestamp
        let end: Timestamp
    }

    /// `brokerNow`: the broker's clock now. `span`: the card's decisions (nil: none logged).
    func life(
        of algorithm: AlgorithmInstance, span: SystemDatabase.DecisionSpan?, brokerNow: Timestamp, simulated: Bool
    ) throws -> Life {
        let series = try updatedSeries(algorithmId: algorithm.id)
        return Self.life(of: algorithm, firstFill: series.times.first, lastFill: series.times.last, span: span, brokerNow: brokerNow, simulated: simulated)
    }

    static func life(
        of algorithm: AlgorithmInstance, firstFill: Int64?, lastFill: Int64?, span: SystemDatabase.DecisionSpan?,
        brokerNow: Timestamp, simulated: Bool
    ) -> Life {
        guard simulated else {
            let start = algorithm.createdAt
            return Life(start: start, end: max(start, algorithm.stoppedAt ?? brokerNow))
        }
        let start = [span?.first, firstFill.map { Timestamp(secondsSinceEpoch: $0) }].compactMap { $0 }.min()
            ?? min(algorithm.createdAt, brokerNow)
        let end: Timestamp
        if algorithm.status == .running {
            end = brokerNow
        } else {
            end = [span?.last.adding(minutes: 1), lastFill.map { Timestamp(secondsSinceEpoch: $0) }].compactMap { $0 }.max() ?? start
        }
        return Life(start: start, end: max(start, end))
    }

    /// Up to `maxPoints` evenly spaced points across the card's life on the broker's clock (see `Life`).
    func points(algorithmId: Int64, brokerNow: Timestamp, simulated: Bool) throws -> [Point] {
        let algorithm = try system.algorithm(id: algorithmId)
        let spans = simulated ? try system.decisionSpans(algorithmIds: [algorithmId]) : [:]
        let life = try life(of: algorithm, span: spans[algorithmId], brokerNow: brokerNow, simulated: simulated)
        let start = life.start.secondsSinceEpoch, end = life.end.secondsSinceEpoch
        let count = end == start ? 1 : min(Self.maxPoints, max(2, Int((end - start) / 60) + 1))
        let instants = (0..<count).map { index -> Int64 in
            count == 1 ? start : start + (end - start) * Int64(index) / Int64(count - 1)
        }
        let values = try values(of: algorithm, at: instants)
        return instants.indices.map { Point(t: Timestamp(secondsSinceEpoch: instants[$0]), value: Money.rounded(values[$0], scale: 2)) }
    }

    /// The card's exact value (uninvested cash + shares × the ticker's last close at or before the instant;
    /// the last fill's price when no bar is that old) at each instant (seconds since the epoch, broker clock).
    func values(of algorithm: AlgorithmInstance, at instants: [Int64]) throws -> [Decimal] {
        let series = try updatedSeries(algorithmId: algorithm.id)
        let capitalMicros = Int64((Money.stored(algorithm.initialCapital) * 1_000_000).rounded())
        // Where each instant falls in the card's history (the last transaction at or before it).
        let positions = instants.map { instant -> Int? in
            var low = 0, high = series.times.count
            while low < high {
                let mid = (low + high) / 2
                if series.times[mid] <= instant { low = mid + 1 } else { high = mid }
            }
            return low == 0 ? nil : low - 1
        }
        let closes = try stocks.closes(
            ticker: algorithm.ticker,
            atOrBefore: zip(instants, positions).map { instant, position in
                position.flatMap { series.shares[$0] != 0 ? Timestamp(secondsSinceEpoch: instant) : nil }
            })
        return instants.indices.map { index in
            var valueMicros = capitalMicros
            if let position = positions[index] {
                let shares = series.shares[position]
                let markMicros = closes[index].map { Int64(($0 * 1_000_000).rounded()) } ?? series.priceMicros[position]
                valueMicros = capitalMicros - series.investedMicros[position] + shares * markMicros
            }
            return Money.decimal(micros: valueMicros)
        }
    }

    private func updatedSeries(algorithmId: Int64) throws -> Series {
        var series = state.withLock { state -> Series in
            state.tick += 1
            return state.series[algorithmId] ?? Series()
        }
        let steps = try system.tradeSteps(algorithmId: algorithmId, afterID: series.lastID)
        if !steps.isEmpty {
            var appended = steps.map { (time: $0.time, id: $0.id, shares: $0.shares, micros: $0.priceMicros, sell: $0.isSell) }
            appended.sort { ($0.time, $0.id) < ($1.time, $1.id) }
            if let last = series.times.last, let first = appended.first, first.time < last {
                // A fill stamped earlier than what is already summed: start over from all rows.
                state.withLock { _ = $0.series.removeValue(forKey: algorithmId) }
                return try rebuild(algorithmId: algorithmId)
            }
            var shares = series.shares.last ?? 0, invested = series.investedMicros.last ?? 0
            for row in appended {
                shares += row.sell ? -row.shares : row.shares
                invested += (row.sell ? -1 : 1) * row.shares * row.micros
                series.times.append(row.time)
                series.shares.append(shares)
                series.investedMicros.append(invested)
                series.priceMicros.append(row.micros)
                series.lastID = max(series.lastID, row.id)
            }
        }
        store(series, for: algorithmId)
        return series
    }

    private func rebuild(algorithmId: Int64) throws -> Series {
        state.withLock { $0.series[algorithmId] = Series() }
        return try updatedSeries(algorithmId: algorithmId)
    }

    private func store(_ series: Series, for algorithmId: Int64) {
        state.withLock { state in
            var series = series
            series.lastUsed = state.tick
            state.series[algorithmId] = series
            if state.series.count > maxCards, let oldest = state.series.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
                state.series[oldest] = nil
            }
        }
    }
}
