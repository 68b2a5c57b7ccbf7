import ArgumentParser
import AutoTraderCore
import Foundation
import Logging

/// `autotrader notify`: the owner's phone notifications.
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Notifications to the owner's phone (AUTOTRADER_NOTIFY_URL): send a test, see the outbox.",
        subcommands: [NotifyTestCommand.self, NotifyStatusCommand.self])
}

/// `autotrader notify test`: one message straight to the URL (not through the outbox), and what it answered.
struct NotifyTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Send a test message to AUTOTRADER_NOTIFY_URL now and print the receiver's answer.",
        discussion: """
            Sent directly, not through system.db's outbox, so it works with the services stopped and says at once \
            whether the phone's service took it (exit 1 when it did not). It is formatted and sent exactly as the \
            api's sender sends the outbox's messages (format, headers, event id, timeout). The URL's credentials \
            and query are never printed.
            """)

    @Option(help: "Configuration file (default: $AUTOTRADER_CONFIG, else /etc/autotrader/autotrader.env when present).")
    var config: String?

    @Option(help: "Seconds to wait for the receiver's answer.")
    var timeout: Double = 10

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        let target: NotifyTarget
        do {
            guard let configured = try NotifyTarget.configured(Settings.load(configPath: config)) else {
                throw CommandFailure(description: "no \(NotifyTarget.urlKey) configured: set it in the configuration file or the environment")
            }
            target = configured
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(description: "\(error)")
        }
        let message = OwnerNotification.test(at: .now())
        let status: Int
        do {
            status = try await HTTPNotificationTransport().send(
                NotificationRequest(message, target: target), timeout: .milliseconds(Int64(timeout * 1000)))
        } catch {
            throw CommandFailure(description: "not delivered to \(target.redacted): \(NotificationSender.describe(error))")
        }
        guard (200..<300).contains(status) else {
            throw CommandFailure(description: "not delivered: \(target.redacted) answered HTTP \(status)")
        }
        print("sent \(message.eventID) (\(target.format.rawValue)) to \(target.redacted): HTTP \(status)")
    }
}

/// `autotrader notify status`: the outbox's counts and the newest messages.
struct NotifyStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The notification outbox: how many messages are sent, pending, failed, skipped; the newest ones.")

    @OptionGroup var databases: DatabaseOptions

    @Option(help: "How many of the newest messages to list.")
    var limit = 10

    func run() throws {
        let system = try failing { try databases.openSystem() }
        let summary = try system.outboxSummary()
        print("sent \(summary.sent), pending \(summary.pending), failed \(summary.failed), skipped \(summary.skipped)"
            + (summary.oldestPending.map { "; oldest pending since \($0.text)" } ?? "")
            + (summary.lastError.map { "; last error: \($0)" } ?? ""))
        let newest = try system.notifications().suffix(max(0, limit))
        guard !newest.isEmpty else { return }
        printTable(
            ["ID", "EVENT", "STATE", "ATTEMPTS", "CREATED_AT", "TITLE"],
            newest.map { entry in
                ["\(entry.id)", entry.notification.eventID, entry.state.rawValue, "\(entry.attempts)",
                 entry.notification.createdAt.text, entry.notification.title]
            }, rightAligned: [0, 3])
    }
}
