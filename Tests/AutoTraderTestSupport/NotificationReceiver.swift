import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A real HTTP server on loopback, inside the test, standing in for ntfy or a webhook: it records every POST
/// (when it arrives, before answering) and answers as the test says: a status, or nothing until released
/// (so the test can kill the sender while a request is in flight).
final class NotificationReceiver: Sendable {
    /// One POST as it arrived.
    struct Received: Sendable {
        let eventID: String?
        let headers: [String: String]
        let body: String
    }

    /// How the receiver answers the next requests.
    enum Answer: Sendable {
        case status(Int)
        /// Records the request, then keeps it waiting until `release()`.
        case hold
    }

    private struct State {
        var received: [Received] = []
        var script: [Answer] = []
        var held = 0
        var released = false
    }

    /// The state the handler and the test share (a class: a Mutex can't be captured by value).
    private final class Shared: Sendable {
        let lock = Mutex(State())
        func withLock<T>(_ body: (inout State) -> T) -> T { lock.withLock { body(&$0) } }
    }

    private let stateBox: Shared
    private let task: Task<Void, any Error>
    let port: Int
    var url: String { "http://127.0.0.1:\(port)/topic" }

    init() async throws {
        let router = Router()
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let state = Shared()
        router.post("topic") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let received = Received(
                eventID: headers["x-autotrader-event-id"], headers: headers, body: String(buffer: body))
            let answer = state.withLock { state -> Answer in
                state.received.append(received)
                return state.script.isEmpty ? .status(200) : state.script.removeFirst()
            }
            switch answer {
            case .status(let code):
                return Response(status: .init(code: code))
            case .hold:
                state.withLock { $0.held += 1 }
                while !(state.withLock { $0.released }) { try await Task.sleep(for: .milliseconds(20)) }
                return Response(status: .ok)
            }
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "test-receiver"),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: { var logger = Logger(label: "test-receiver"); logger.logLevel = .critical; return logger }())
        task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = stream.makeAsyncIterator()
        port = await iterator.next() ?? 0
        self.stateBox = state
    }

    deinit { task.cancel() }

    /// The next answers, in order (then 200 for everything).
    func script(_ answers: [Answer]) { stateBox.withLock { $0.script += answers } }

    /// Lets held requests answer (200).
    func release() { stateBox.withLock { $0.released = true } }

    var held: Int { stateBox.withLock { $0.held } }
    var received: [Received] { stateBox.withLock { $0.received } }
}
