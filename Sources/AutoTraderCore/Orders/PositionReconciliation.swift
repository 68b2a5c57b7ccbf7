import Foundation

/// Compares, per ticker, the shares all cards (running and stopped) hold by their transactions with
/// the broker's positions, and says every difference in plain words.
public struct PositionReconciliation: Sendable {
    /// One ticker's two counts.
    public struct Line: Hashable, Sendable, Encodable {
        public let ticker: String
        public let cardShares: Int
        public let brokerShares: Decimal
        /// The cards holding shares of it, by id.
        public let cards: [Int64]
        public let openOrders: [String]
        public let matches: Bool
        /// The difference in plain words (nil when the counts agree).
        @ExplicitNull public private(set) var explanation: String?

        init(ticker: String, cardShares: Int, brokerShares: Decimal, cards: [Int64], openOrders: [String]) {
            self.ticker = ticker
            self.cardShares = cardShares
            self.brokerShares = brokerShares
            self.cards = cards
            self.openOrders = openOrders
            matches = Decimal(cardShares) == brokerShares
            explanation = matches ? nil : Self.explanation(ticker, cardShares, brokerShares, cards, openOrders)
        }

        private static func explanation(
            _ ticker: String, _ cardShares: Int, _ brokerShares: Decimal, _ cards: [Int64], _ openOrders: [String]
        ) -> String {
            let difference = brokerShares - Decimal(cardShares)
            let cardsText = cards.isEmpty ? "no card" : "card\(cards.count == 1 ? "" : "s") \(cards.map(String.init).joined(separator: ", "))"
            var text: String
            if cardShares == 0 {
                text = "\(ticker): the broker account holds \(brokerShares.plainString) shares that no card bought (a manual trade, a transfer, or a fill that was never recorded)"
            } else if brokerShares == 0 {
                text = "\(ticker): \(cardsText) hold \(cardShares) shares by their transactions, but the broker account holds none (sold by hand, or a sell fill that was never recorded)"
            } else if difference > 0 {
                text = "\(ticker): the broker account holds \(brokerShares.plainString) shares, \(difference.plainString) more than the \(cardShares) that \(cardsText) hold (a manual buy, a stock split, or a buy fill that was never recorded)"
            } else {
                text = "\(ticker): the broker account holds \(brokerShares.plainString) shares, \((-difference).plainString) fewer than the \(cardShares) that \(cardsText) hold (a manual sell, a reverse split, or a sell fill that was never recorded)"
            }
            if !openOrders.isEmpty {
                text += "; orders still open: \(openOrders.joined(separator: ", ")) (they may explain it once they close)"
            }
            return text
        }

        enum CodingKeys: String, CodingKey {
            case ticker, cardShares = "card_shares", brokerShares = "broker_shares", cards, openOrders = "open_orders", matches, explanation
        }
    }

    public let lines: [Line]

    public var differences: [Line] { lines.filter { !$0.matches } }

    /// Every ticker any card traded or the broker holds, sorted.
    public static func compare(system: SystemDatabase, brokerPositions: [AlpacaPosition]) throws -> PositionReconciliation {
        var cardShares: [String: Int] = [:]
        var holders: [String: [Int64]] = [:]
        for algorithm in try system.algorithms() {
            let shares = try system.position(algorithmId: algorithm.id).shares
            cardShares[algorithm.ticker, default: 0] += shares
            if shares != 0 { holders[algorithm.ticker, default: []].append(algorithm.id) }
        }
        let algorithmsByID = Dictionary(uniqueKeysWithValues: try system.algorithms().map { ($0.id, $0) })
        var openOrders: [String: [String]] = [:]
        for intent in try system.openIntents() {
            guard let ticker = algorithmsByID[intent.algorithmId]?.ticker else { continue }
            openOrders[ticker, default: []].append(intent.clientOrderId)
        }
        var broker: [String: Decimal] = [:]
        for position in brokerPositions {
            let signed = position.side == "short" ? -abs(position.qty) : position.qty
            broker[position.symbol, default: 0] += signed
        }
        let tickers = Set(cardShares.keys).union(broker.keys).sorted()
        return PositionReconciliation(lines: tickers.map { ticker in
            Line(
                ticker: ticker, cardShares: cardShares[ticker] ?? 0, brokerShares: broker[ticker] ?? 0,
                cards: holders[ticker] ?? [], openOrders: openOrders[ticker] ?? [])
        })
    }
}
