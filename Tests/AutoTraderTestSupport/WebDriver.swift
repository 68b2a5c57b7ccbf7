import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// A real Chromium driven through W3C WebDriver (Debian's chromium and chromium-driver), for the dashboard tests.
final class WebDriver: @unchecked Sendable {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    /// Why the browser tests can't run here, or nil when they can.
    static var unavailableReason: String? {
        if chromium == nil { return "chromium is not installed (apt-get install chromium; .ci/run installs it)" }
        if chromedriver == nil { return "chromedriver is not installed (apt-get install chromium-driver; .ci/run installs it)" }
        return nil
    }

    let directory = TemporaryDirectory("webdriver")
    private let process: Process
    private let base: URL
    private var session = ""

    /// Starts chromedriver on a free port and opens a headless session with the given window size.
    init(width: Int, height: Int) async throws {
        guard let chromedriver = Self.chromedriver, let chromium = Self.chromium else {
            throw WebDriverError(Self.unavailableReason ?? "no browser")
        }
        let port = try Self.freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: chromedriver)
        process.arguments = ["--port=\(port)"]
        process.standardInput = FileHandle.nullDevice
        let log = directory.file("chromedriver.log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardError = process.standardOutput
        try process.run()
        base = URL(string: "http://127.0.0.1:\(port)")!
        let deadline = Date().addingTimeInterval(20)
        while true {
            if let status = try? await call("GET", "/status"), ((status["value"] as? [String: Any])?["ready"] as? Bool) == true { break }
            guard Date() < deadline, process.isRunning else {
                let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw WebDriverError("chromedriver did not start on port \(port) (running: \(process.isRunning)): \(output.suffix(500))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let profile = directory.file("profile")
        let capabilities: [String: Any] = [
            "capabilities": ["alwaysMatch": [
                "browserName": "chrome",
                // Keeps the console (and CSP violations, source "security") for `browserLog()`.
                "goog:loggingPrefs": ["browser": "ALL"],
                "goog:chromeOptions": [
                    "binary": chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                        "--window-size=\(width),\(height)", "--user-data-dir=\(profile)", "--force-device-scale-factor=1",
                    ],
                ],
            ]],
        ]
        let answer = try await call("POST", "/session", capabilities)
        guard let id = answer["sessionId"] as? String else { throw WebDriverError("no session: \(answer)") }
        session = id
        try await setViewport(width: width, height: height)
    }

    deinit { process.stopInBackground(signal: SIGKILL) }

    func quit() async {
        _ = try? await call("DELETE", "/session/\(session)")
        if process.isRunning { process.terminate() }
    }

    /// Resizes the window so the page's viewport is exactly width × height.
    func setViewport(width: Int, height: Int) async throws {
        _ = try await call("POST", "/session/\(session)/window/rect", ["width": width, "height": height])
        let inner = try await execute("return [window.innerWidth, window.innerHeight]") as? [Int] ?? [width, height]
        let dw = width - inner[0], dh = height - inner[1]
        if dw != 0 || dh != 0 {
            _ = try await call("POST", "/session/\(session)/window/rect", ["width": width + dw, "height": height + dh])
        }
    }

    func navigate(_ url: String) async throws { _ = try await call("POST", "/session/\(session)/url", ["url": url]) }

    @discardableResult
    func execute(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        let answer = try await call("POST", "/session/\(session)/execute/sync", ["script": script, "args": arguments])
        return answer["value"]
    }

    /// An element by CSS selector, or nil.
    func find(_ selector: String) async throws -> String? {
        do {
            let answer = try await call("POST", "/session/\(session)/element", ["using": "css selector", "value": selector])
            return (answer["value"] as? [String: Any])?.values.first as? String
        } catch let error as WebDriverError where error.description.contains("no such element") {
            return nil
        }
    }

    func findAll(_ selector: String) async throws -> [String] {
        let answer = try await call("POST", "/session/\(session)/elements", ["using": "css selector", "value": selector])
        return (answer["value"] as? [[String: Any]] ?? []).compactMap { $0.values.first as? String }
    }

    func click(_ selector: String) async throws {
        guard let element = try await waitFor(selector) else { throw WebDriverError("no element \(selector) to click") }
        _ = try await call("POST", "/session/\(session)/element/\(element)/click", [:])
    }

    func type(_ selector: String, _ text: String) async throws {
        guard let element = try await waitFor(selector) else { throw WebDriverError("no element \(selector) to type in") }
        _ = try await call("POST", "/session/\(session)/element/\(element)/clear", [:])
        _ = try await call("POST", "/session/\(session)/element/\(element)/value", ["text": text])
    }

    func text(_ selector: String) async throws -> String? {
        guard let element = try await find(selector) else { return nil }
        return try await call("GET", "/session/\(session)/element/\(element)/text")["value"] as? String
    }

    /// An attribute (data-*, hidden …) of the first match.
    func attribute(_ selector: String, _ name: String) async throws -> String? {
        try await execute("const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null", [selector, name]) as? String
    }

    func isVisible(_ selector: String) async throws -> Bool {
        try await execute("""
            const e = document.querySelector(arguments[0]);
            if (!e) return false;
            const r = e.getBoundingClientRect(), s = getComputedStyle(e);
            return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && !e.closest('[hidden]');
            """, [selector]) as? Bool ?? false
    }

    /// Polls until the selector matches (and is visible, when asked) or the timeout passes.
    func waitFor(_ selector: String, visible: Bool = false, timeout: TimeInterval = 10) async throws -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let element = try await find(selector) {
                if !visible { return element }
                if try await isVisible(selector) { return element }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// Polls a JavaScript condition (returning true) until it holds or the timeout passes.
    func waitUntil(_ script: String, timeout: TimeInterval = 10) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await execute(script) as? Bool == true { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// One line of the browser's console log: `level` SEVERE, WARNING, INFO …; `source` console-api,
    /// security (CSP violations), network, javascript …
    struct LogEntry: CustomStringConvertible {
        let level: String
        let source: String
        let message: String
        var description: String { "[\(level) \(source)] \(message)" }
    }

    /// The console lines since the last call (chromedriver hands each line out once), through its
    /// `POST /session/{id}/se/log` with `{"type":"browser"}`; needs `goog:loggingPrefs`, which the session asks for.
    func browserLog() async throws -> [LogEntry] {
        let answer = try await call("POST", "/session/\(session)/se/log", ["type": "browser"])
        return (answer["value"] as? [[String: Any]] ?? []).map {
            LogEntry(level: $0["level"] as? String ?? "", source: $0["source"] as? String ?? "", message: $0["message"] as? String ?? "")
        }
    }

    /// A PNG of the viewport.
    func screenshot() async throws -> Data {
        guard let text = try await call("GET", "/session/\(session)/screenshot")["value"] as? String,
              let data = Data(base64Encoded: text) else { throw WebDriverError("no screenshot") }
        return data
    }

    // MARK: -

    private func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: base.absoluteString + path)
        request.method = HTTPMethod(rawValue: method)
        if let body {
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let data = Data(buffer: try await response.body.collect(upTo: 64 << 20))
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        if response.status.code >= 400 {
            let value = object["value"] as? [String: Any]
            throw WebDriverError("\(method) \(path): \(value?["error"] ?? response.status.code): \(value?["message"] ?? "")")
        }
        // New session answers {"value": {"sessionId": …}}; everything else {"value": …}.
        if let value = object["value"] as? [String: Any], value["sessionId"] != nil { return value }
        return object
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw WebDriverError("no free port") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct WebDriverError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
