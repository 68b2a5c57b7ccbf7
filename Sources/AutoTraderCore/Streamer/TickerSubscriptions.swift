/// Which tickers the stream must carry: a reference count per ticker from the running cards.
///
/// The streamer polls system.db and hands every poll's running algorithms to `update(running:)`.
/// A ticker is subscribed while at least one running card uses it, whatever order cards are
/// created and stopped in; the counts are rebuilt from each poll, so a restart needs nothing but
/// system.db.
public struct TickerSubscriptions: Sendable, Equatable {
    /// Running cards per ticker (only tickers with at least one).
    public private(set) var counts: [String: Int] = [:]

    /// What one update changed.
    public struct Change: Sendable, Equatable {
        /// Tickers whose first running card appeared.
        public var added: Set<String> = []
        /// Tickers whose last running card stopped.
        public var removed: Set<String> = []
        public var isEmpty: Bool { added.isEmpty && removed.isEmpty }
    }

    public init() {}

    /// The tickers to stream.
    public var tickers: Set<String> { Set(counts.keys) }

    public func count(of ticker: String) -> Int { counts[ticker] ?? 0 }

    /// Replaces the counts with those of the algorithms running now.
    @discardableResult
    public mutating func update(running algorithms: [AlgorithmInstance]) -> Change {
        update(runningTickers: algorithms.filter { $0.status == .running }.map(\.ticker))
    }

    /// The same, from one ticker per running card (a ticker appears once per card).
    @discardableResult
    public mutating func update(runningTickers: [String]) -> Change {
        var next: [String: Int] = [:]
        for ticker in runningTickers { next[ticker, default: 0] += 1 }
        let before = tickers
        counts = next
        let after = tickers
        return Change(added: after.subtracting(before), removed: before.subtracting(after))
    }

    /// A card started (for callers that follow events rather than polls).
    @discardableResult
    public mutating func cardStarted(ticker: String) -> Change {
        counts[ticker, default: 0] += 1
        return counts[ticker] == 1 ? Change(added: [ticker]) : Change()
    }

    /// A card stopped: the ticker goes only when its last card does.
    @discardableResult
    public mutating func cardStopped(ticker: String) -> Change {
        guard let count = counts[ticker] else { return Change() }
        if count <= 1 {
            counts[ticker] = nil
            return Change(removed: [ticker])
        }
        counts[ticker] = count - 1
        return Change()
    }
}
