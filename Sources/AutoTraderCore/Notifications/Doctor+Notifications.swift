import AsyncHTTPClient
import Foundation
import NIOCore

// `autotrader doctor`'s notification line: the URL (syntax, scheme, an HTTP answer within a short timeout)
// and the outbox (pending, failed). Never prints the URL's userinfo, query or the whole topic.
extension Doctor {
    /// The notification URL and the outbox, as one line. Without a URL: ok, "off".
    func checkNotifications(_ settings: Settings, systemPath: String) async -> DoctorCheck {
        let target: NotifyTarget?
        do {
            target = try NotifyTarget.configured(settings)
        } catch {
            return DoctorCheck("notifications", .fail, "\(error)")
        }
        let outbox = try? SystemDatabase.inspectOutbox(path: systemPath)
        guard let target else {
            return DoctorCheck("notifications", .ok, "off (no \(NotifyTarget.urlKey)): nothing is sent to a phone")
        }
        var notes = ["\(target.format.rawValue) to \(target.redacted)"]
        var verdict = DoctorCheck.Verdict.ok
        switch await Self.reach(target, timeout: min(options.timeout, .seconds(5))) {
        case .success(let status):
            notes.append("reachable (HTTP \(status) to a GET)")
        case .failure(let reason):
            verdict = .warn
            notes.append("not reachable: \(reason) (messages wait in the outbox and are retried)")
        }
        if let outbox {
            notes.append("\(outbox.sent) sent, \(outbox.pending) pending")
            if let oldest = outbox.oldestPending, Timestamp.now().secondsSinceEpoch - oldest.secondsSinceEpoch > 300 {
                verdict = .warn
                notes.append("oldest pending since \(oldest.text)\(outbox.lastError.map { " (last error: \($0))" } ?? "")")
            }
            if outbox.failed > 0 {
                verdict = .warn
                notes.append("\(outbox.failed) given up after a day of failures")
            }
        }
        return DoctorCheck("notifications", verdict, notes.joined(separator: "; "))
    }

    /// Any HTTP answer to a GET counts as reachable (ntfy answers its web page, a webhook may say 405).
    static func reach(_ target: NotifyTarget, timeout: Duration) async -> Result<Int, ReachError> {
        var request = HTTPClientRequest(url: target.url.absoluteString)
        request.method = .GET
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(timeout.milliseconds))
            _ = try? await response.body.collect(upTo: 256 * 1024)
            return .success(Int(response.status.code))
        } catch {
            return .failure(ReachError(description: NotificationSender.describe(error)))
        }
    }

    /// Why the notification URL could not be reached (no part of the URL in it).
    struct ReachError: Error, CustomStringConvertible {
        let description: String
    }
}
