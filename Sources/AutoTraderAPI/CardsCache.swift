import AutoTraderCore
import Foundation

/// The running cards as JSON, rebuilt only when system.db or stocks.db changed since the last build:
/// every answer reflects everything committed before the request, yet a burst of requests between
/// two commits reads SQLite only for the two change checks.
actor CardsCache {
    private let reader: CardReader
    private let systemWatch: ChangeWatch
    private let stocksWatch: ChangeWatch
    private var versions: (Int64, Int64)?
    private var json: String = "[]"
    private(set) var builds = 0

    init(reader: CardReader) throws {
        self.reader = reader
        systemWatch = try ChangeWatch(path: reader.system.path)
        stocksWatch = try ChangeWatch(path: reader.stocks.path)
    }

    /// The JSON array of the running cards, oldest first.
    func runningCardsJSON() throws -> String {
        // Read the versions before the cards: a commit that lands in between changes the version
        // again, so the next request rebuilds (never a stale answer kept as fresh).
        let current = (try systemWatch.version(), try stocksWatch.version())
        if let versions, versions == current { return json }
        let cards = try reader.cards(status: .running)
        json = try JSONOutput.encode(cards)
        versions = current
        builds += 1
        return json
    }

    /// Forces the next call to rebuild (this process's own writes are seen by data_version too; belt and braces).
    func invalidate() { versions = nil }
}
