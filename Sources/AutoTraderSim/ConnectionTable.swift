/// A hub's open WebSockets by id, each with the queue its writer sends from: the bookkeeping the market-data
/// and the trading stream share (numbering, closing one, hanging up on all).
struct ConnectionTable<Connection> {
    private var connections: [Int: Connection] = [:]
    private var nextID = 1
    /// How each connection's queue is reached, to end it.
    private let queue: (Connection) -> AsyncStream<StreamHub.Outgoing>.Continuation

    init(queue: @escaping (Connection) -> AsyncStream<StreamHub.Outgoing>.Continuation) {
        self.queue = queue
    }

    var all: Dictionary<Int, Connection>.Values { connections.values }

    subscript(id: Int) -> Connection? {
        get { connections[id] }
        set { connections[id] = newValue }
    }

    /// Numbers a new connection built around its fresh queue; the stream is what its writer sends.
    mutating func open(_ make: (AsyncStream<StreamHub.Outgoing>.Continuation) -> Connection)
        -> (id: Int, connection: Connection, outgoing: AsyncStream<StreamHub.Outgoing>) {
        let id = nextID
        nextID += 1
        let (stream, continuation) = AsyncStream<StreamHub.Outgoing>.makeStream()
        let connection = make(continuation)
        connections[id] = connection
        return (id, connection, stream)
    }

    /// The WebSocket is gone: its queue ends. False when it was not (or no longer) here.
    mutating func closed(id: Int) -> Bool {
        guard let connection = connections.removeValue(forKey: id) else { return false }
        queue(connection).finish()
        return true
    }

    /// Closes one WebSocket from this side: its writer sends a close frame after what is queued, then stops.
    mutating func hangUp(id: Int) {
        guard let connection = connections.removeValue(forKey: id) else { return }
        queue(connection).yield(.close)
        queue(connection).finish()
    }

    /// Hangs up on every connection; returns how many there were.
    mutating func hangUpAll() -> Int {
        let ids = Array(connections.keys)
        for id in ids { hangUp(id: id) }
        return ids.count
    }

    /// The ids of the connections that match (a snapshot: changing them afterwards is safe).
    func ids(where matches: (Connection) -> Bool) -> [Int] {
        connections.filter { matches($0.value) }.map(\.key)
    }
}
