import Foundation
import Logging

extension CardDecider {
    /// A card whose algorithm is not compiled in: a script of the algorithm folder decides, through its
    /// worker. Every way that can go wrong (unknown, removed, broken, restarting, late, crashed, garbage,
    /// nonsense) is a decision-log entry with its reason, never a trade; an answer that is a decision goes
    /// to the same guards as a Swift algorithm's.
    func decideScript(_ card: AlgorithmInstance, minute: Timestamp, hasOpenOrder: Bool, metadata: Logger.Metadata) async -> CardResult {
        func entry(_ kind: DecisionRecord.Kind, _ reason: String, error: String? = nil) -> CardResult {
            CardResult(entry: DecisionEntry(algorithmId: card.id, minute: minute, decision: kind, reason: reason), error: error)
        }
        let metadata = metadata.merging(["algorithm": "\(card.algorithmType)"]) { $1 }
        let worker: ScriptWorker, barsNeeded: Int
        switch await scripts?.resolve(card.algorithmType) ?? .unknown {
        case .unknown:
            let folder = scripts.map { " nor a script in \($0.options.directory)" } ?? ""
            logger.error("card's algorithm is unknown; skipped", metadata: metadata)
            return entry(.error, "algorithm \(card.algorithmType) is not in this build (\(catalog.names.joined(separator: ", ")))\(folder); the card is not traded")
        case .unavailable(let reason):
            logger.warning("skipped: \(reason)", metadata: metadata)
            return entry(.skip, reason)
        case .script(let found, let bars):
            (worker, barsNeeded) = (found, bars)
        }
        if hasOpenOrder {
            logger.info("skipped: the previous order is still open", metadata: metadata)
            return entry(.skip, "the previous order is still open")
        }
        let input: AlgorithmInput
        do {
            let bars = try watch.bars(ticker: card.ticker, before: minute.adding(minutes: 1), count: barsNeeded)
            let trades = try system.trades(algorithmId: card.id).reversed()
            input = AlgorithmInput(
                ticker: card.ticker, initialCapital: card.initialCapital, bars: bars, transactions: Array(trades), now: minute)
        } catch {
            logger.warning("reading card \(card.id)'s bars or transactions: \(error)", metadata: metadata)
            return entry(.error, "could not read bars or transactions: \(error)", error: "\(error)")
        }
        let decision: AlgorithmDecision
        switch await worker.decide(card: card.id, input: input) {
        case .decided(let answer):
            decision = answer
        case .nonsense(let problem):
            logger.warning("script answered nonsense; not traded", metadata: metadata.merging(["problem": "\(problem)"]) { $1 })
            return entry(.error, "script \(card.algorithmType): \(problem); not traded")
        case .failed(let failure):
            logger.warning("script gave no decision; not traded", metadata: metadata.merging(["failure": "\(failure)"]) { $1 })
            if case .restarting = failure { return entry(.skip, "script \(card.algorithmType): \(failure)") }
            return entry(.error, "script \(card.algorithmType): \(failure); not traded")
        }
        let side: TradeSide, shares: Int
        switch decision.action {
        case .hold: return entry(.hold, decision.reason)
        case .buy(let count): (side, shares) = (.buy, count)
        case .sell(let count): (side, shares) = (.sell, count)
        }
        // Priced at the latest close, as a Swift algorithm's order is; the guards run where the intent is written.
        return CardResult(order: SystemDatabase.IntentRequest(
            algorithmId: card.id, minute: minute, side: side, shares: shares, price: input.lastPrice ?? 0, reason: decision.reason))
    }
}
