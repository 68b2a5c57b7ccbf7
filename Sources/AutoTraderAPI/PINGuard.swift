import AutoTraderCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Checks the PIN of state-changing requests against system.db's, through system.db's count of wrong
/// PINs (`PINGuessPolicy`: a few an hour from all clients together, kept across restarts).
///
/// The count is global on purpose: an attacker on the LAN can claim as many addresses as it likes, so a
/// per-address count only multiplies its guesses. The price is that someone guessing also makes the owner
/// wait; the owner is told (log, dashboard) and can always act from the Pi itself with the CLI.
struct PINGuard: Sendable {
    let system: SystemDatabase
    let policy: PINGuessPolicy
    let mode: TradingMode
    let logger: Logger

    /// Whether the request would move money (create a card, sell its shares): refused with the factory PIN
    /// outside simulated mode.
    enum Purpose { case movesMoney, other }

    /// Refuses at once while PINs are not being checked (429 with Retry-After), before a body is read.
    func checkNotLockedOut() throws {
        if let seconds = try system.pinLockout(policy: policy) { throw Self.lockedOut(seconds) }
    }

    /// Missing → 401 (not counted); wrong → 403 (counted); locked → 429; right → passes, unless the
    /// request moves money while the factory PIN is still set in paper or live mode (403, change it first).
    func verify(_ pin: String?, context: APIRequestContext, purpose: Purpose = .other) throws {
        try checkNotLockedOut()
        guard let pin, !pin.isEmpty else {
            throw APIError(.unauthorized, "this request needs the PIN (header X-PIN or field \"pin\")")
        }
        switch try system.checkPIN(pin, client: context.clientKey, policy: policy) {
        case .right:
            if purpose == .movesMoney, mode != .simulated, pin == SystemSchema.defaultPIN {
                throw APIError(
                    .forbidden,
                    "the factory PIN is still set: change it (PUT /api/pin, or `autotrader set-pin` on the Pi) before trading in \(mode.rawValue) mode",
                    extra: ["pin_change_required": .bool(true)])
            }
        case .wrong(let failures, let retryAfter):
            logger.warning("wrong PIN", metadata: [
                "client": "\(context.clientKey)", "wrong_pins_this_hour": "\(failures)",
                "next_attempt_in_s": "\(retryAfter ?? 0)",
            ])
            var headers: HTTPFields = [:]
            var extra: [String: JSONValue] = [:]
            if let retryAfter {
                headers[.retryAfter] = String(retryAfter)
                extra["retry_after"] = .number(Decimal(retryAfter))
            }
            throw APIError(.forbidden, "wrong PIN", headers: headers, extra: extra)
        case .lockedOut(let seconds):
            throw Self.lockedOut(seconds)
        }
    }

    static func lockedOut(_ seconds: Int64) -> APIError {
        APIError(
            .tooManyRequests, "too many wrong PINs: try again in \(seconds) s",
            headers: [.retryAfter: String(seconds)], extra: ["retry_after": .number(Decimal(seconds))])
    }
}
