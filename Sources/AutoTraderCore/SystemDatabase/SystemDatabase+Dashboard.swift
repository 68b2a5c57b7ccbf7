import Foundation
import GRDB

// What the dashboard's api reads besides the cards: when each card's decisions began and last ran.
extension SystemDatabase {
    /// A card's first and newest decision minutes (broker clock), from the decision log; and, when it has
    /// any, its first and newest fills' times.
    public struct DecisionSpan: Hashable, Sendable {
        public let first: Timestamp
        public let last: Timestamp
        public var firstFill: Timestamp? = nil
        public var lastFill: Timestamp? = nil
    }

    /// The decision span of each of `algorithmIds` that has decided at least once, with its fills' span: four
    /// index lookups per card (`decisions_by_algorithm`, whose ids grow with the minutes decided, and
    /// `transactions_by_algorithm`), in one read.
    public func decisionSpans(algorithmIds: some Sequence<Int64>) throws -> [Int64: DecisionSpan] {
        try pool.read { db in
            let first = try db.cachedStatement(sql: "SELECT minute FROM decisions WHERE algorithm_id = ? ORDER BY id LIMIT 1")
            let last = try db.cachedStatement(sql: "SELECT minute FROM decisions WHERE algorithm_id = ? ORDER BY id DESC LIMIT 1")
            let firstFill = try db.cachedStatement(
                sql: "SELECT timestamp FROM transactions WHERE algorithm_id = ? ORDER BY timestamp, id LIMIT 1")
            let lastFill = try db.cachedStatement(
                sql: "SELECT timestamp FROM transactions WHERE algorithm_id = ? ORDER BY timestamp DESC, id DESC LIMIT 1")
            var result: [Int64: DecisionSpan] = [:]
            for id in algorithmIds {
                guard let firstText = try String.fetchOne(first, arguments: [id]), let from = Timestamp(firstText),
                      let lastText = try String.fetchOne(last, arguments: [id]), let to = Timestamp(lastText)
                else { continue }
                result[id] = DecisionSpan(
                    first: min(from, to), last: max(from, to),
                    firstFill: try String.fetchOne(firstFill, arguments: [id]).flatMap { Timestamp($0) },
                    lastFill: try String.fetchOne(lastFill, arguments: [id]).flatMap { Timestamp($0) })
            }
            return result
        }
    }
}
