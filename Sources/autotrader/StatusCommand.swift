import ArgumentParser
import AutoTraderCore
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the running cards with their calculated fields.")

    @OptionGroup var databases: DatabaseOptions

    @Flag(help: "Print the cards as the api's card objects.")
    var json = false

    func run() throws {
        let reader = CardReader(system: try databases.openSystem(), stocks: try databases.openStocks())
        let cards = try reader.cards(status: .running)
        if json { return try printJSON(cards) }
        if cards.isEmpty { return print("No running algorithms. Create one with `autotrader algorithms create`.") }
        printCards(cards)
    }
}

func printCards(_ cards: [Card]) {
    printTable(
        ["ID", "TICKER", "ALGORITHM", "STATUS", "CAPITAL", "SHARES", "PRICE", "VALUE", "P&L", "P&L%", "TRADES", "LAST UPDATE"],
        cards.map { card in
            let valuation = card.valuation
            return [
                String(card.algorithm.id), card.algorithm.ticker, card.algorithm.algorithmType, card.algorithm.status.rawValue,
                Money.centsText(card.algorithm.initialCapital), String(valuation.shares),
                valuation.currentPrice.map { $0.plainString } ?? "-",
                Money.centsText(valuation.currentValue), Money.centsText(valuation.pnl),
                valuation.pnlPercent.plainString + "%", String(valuation.tradeCount), card.lastUpdate?.text ?? "-",
            ]
        },
        rightAligned: [0, 4, 5, 6, 7, 8, 9, 10])
}
