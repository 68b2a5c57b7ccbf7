import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// HTTP over a plain TCP socket, for what URLSession can't do: send from a chosen loopback address
/// (many "clients" on one machine), send bytes exactly as written (bad chunk sizes, foreign Host
/// headers), or hold a connection open and say nothing.
enum RawHTTP {
    struct Reply {
        let status: Int
        let head: String
        let body: String
        func header(_ name: String) -> String? {
            head.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// A connected TCP socket to 127.0.0.1:`port`, bound first to `from` (any 127.x address works on Linux).
    static func connect(port: Int, from: String = "127.0.0.1", timeout: TimeInterval = 10) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var time = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - floor(timeout)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, from, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else {
            close(fd)
            throw Failure(description: "bind \(from): errno \(errno)")
        }
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else {
            close(fd)
            throw Failure(description: "connect from \(from): errno \(errno)")
        }
        return fd
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure(description: "send: errno \(errno) after \(offset) bytes") }
            offset += sent
        }
    }

    /// Everything the server sends until it closes the connection (or the socket's timeout).
    static func readAll(_ fd: Int32) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return received
    }

    /// Sends `request` exactly as written (use `Connection: close`) and reads the whole answer.
    static func send(port: Int, from: String = "127.0.0.1", _ request: String, body: [UInt8] = [], timeout: TimeInterval = 10) throws -> Reply {
        let fd = try connect(port: port, from: from, timeout: timeout)
        defer { close(fd) }
        try write(fd, Array(request.utf8) + body)
        return try parse(readAll(fd))
    }

    static func parse(_ bytes: [UInt8]) throws -> Reply {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { throw Failure(description: "no HTTP answer: \(text.prefix(200).debugDescription)") }
        let head = String(text[..<end.lowerBound])
        let parts = head.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "bad status line: \(head.prefix(100))") }
        return Reply(status: status, head: head, body: String(text[end.upperBound...]))
    }
}

/// Polls `check` every 50 ms until it holds, or fails after `timeout` real seconds saying what was awaited.
func waitFor(_ what: String, timeout: TimeInterval = 15, _ check: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while try await !check() {
        guard Date() < deadline else { throw RawHTTP.Failure(description: "\(what): not within \(timeout) s") }
        try await Task.sleep(for: .milliseconds(50))
    }
}
