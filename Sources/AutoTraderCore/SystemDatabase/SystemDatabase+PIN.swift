import Foundation
import GRDB

/// How many wrong PINs are tolerated, counted across every client and every restart.
///
/// At most `perHour` wrong PINs in any hour, from however many addresses; after each wrong one the
/// next attempt waits `backoff × 2^(n−1)` seconds (n = wrong PINs this hour, capped at `maxBackoff`).
/// A right PIN starts the count again. With the defaults a four-digit PIN survives on average
/// 500 hours of guessing, a six-digit one 50,000 (5.7 years), and every wrong PIN is shown to the owner.
public struct PINGuessPolicy: Sendable, Equatable {
    public var perHour = 10
    public var backoff: Double = 1
    public var maxBackoff: Double = 900
    public init() {}

    public static let window: Int64 = 3600

    /// Seconds until the next attempt may be checked (rounded up), or nil when it may be checked now.
    /// `failures` are the wrong PINs since the last right one within the window, oldest first.
    public func wait(failures: [Timestamp], now: Timestamp) -> Int64? {
        let recent = failures.filter { now.secondsSinceEpoch - $0.secondsSinceEpoch < Self.window }
        guard let last = recent.last else { return nil }
        var until = Double(last.secondsSinceEpoch) + min(maxBackoff, backoff * pow(2, Double(recent.count - 1)))
        if recent.count >= perHour {
            // The hour is used up: the next attempt once the oldest counted one is an hour old.
            until = max(until, Double(recent[recent.count - perHour].secondsSinceEpoch + Self.window))
        }
        let left = Int64((until - Double(now.secondsSinceEpoch)).rounded(.up))
        return left > 0 ? left : nil
    }
}

/// The answer to one PIN check.
public enum PINCheck: Equatable, Sendable {
    case right
    /// Wrong; counted. `failuresThisHour` includes this one; `retryAfter` is the wait it started.
    case wrong(failuresThisHour: Int, retryAfter: Int64?)
    /// Not checked at all: too many wrong PINs lately.
    case lockedOut(retryAfter: Int64)
}

/// What the owner should see about the PIN: how strong it is and whether someone has been guessing.
public struct PINStatus: Equatable, Sendable {
    public let strength: Validation.PINStrength
    public let failuresLastHour: Int
    public let failuresLastDay: Int
    public let lastFailure: Timestamp?
    public let lockedForSeconds: Int64?
}

// system_config's PIN and the pin_attempts log: all of system.db's PIN statements.
extension SystemDatabase {
    public func pin() throws -> String {
        try pool.read { db in try Self.storedPIN(db) }
    }

    /// Sets a new PIN; it must follow the rules for new PINs (`Validation.newPINProblem`).
    public func setPIN(_ pin: String) throws {
        guard Validation.newPINProblem(pin) == nil else { throw AutoTraderError.invalidPIN }
        try pool.write { db in
            try db.execute(
                sql: "INSERT INTO system_config (key, value) VALUES ('pin', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [pin])
        }
    }

    /// Checks `candidate` unless too many wrong PINs came lately, and records the attempt, all in one
    /// IMMEDIATE transaction: racing requests, from one api or several, are counted one after another.
    public func checkPIN(_ candidate: String, client: String, policy: PINGuessPolicy, now: Timestamp = .now()) throws -> PINCheck {
        try pool.write { db in
            var failures = try Self.recentFailures(db, now: now)
            if let wait = policy.wait(failures: failures, now: now) { return .lockedOut(retryAfter: wait) }
            let right = Self.constantTimeEquals(candidate, try Self.storedPIN(db))
            try db.execute(
                sql: "INSERT INTO pin_attempts (at, client, outcome) VALUES (?, ?, ?)",
                arguments: [now.text, String(client.prefix(64)), right ? "right" : "wrong"])
            // Kept for a month: enough to show the owner, bounded whatever an attacker does (≤ 240 wrong a day).
            try db.execute(sql: "DELETE FROM pin_attempts WHERE at < ?", arguments: [now.adding(seconds: -30 * 86_400).text])
            if right { return .right }
            failures.append(now)
            try Self.notifyPINLockout(db, failures: failures, policy: policy, client: client, now: now)
            return .wrong(failuresThisHour: failures.count, retryAfter: policy.wait(failures: failures, now: now))
        }
    }

    /// Seconds until a PIN may be checked again, or nil (a read: nothing is recorded).
    public func pinLockout(policy: PINGuessPolicy, now: Timestamp = .now()) throws -> Int64? {
        try pool.read { db in policy.wait(failures: try Self.recentFailures(db, now: now), now: now) }
    }

    public func pinStatus(policy: PINGuessPolicy, now: Timestamp = .now()) throws -> PINStatus {
        try pool.read { db in
            let failures = try String.fetchAll(
                db, sql: "SELECT at FROM pin_attempts WHERE outcome = 'wrong' AND at >= ? ORDER BY id",
                arguments: [now.adding(seconds: -86_400).text]
            ).compactMap { (text: String) -> Timestamp? in Timestamp(text) }
            let lastHour = failures.filter { now.secondsSinceEpoch - $0.secondsSinceEpoch < PINGuessPolicy.window }
            return PINStatus(
                strength: Validation.strength(ofPIN: try Self.storedPIN(db), factory: SystemSchema.defaultPIN),
                failuresLastHour: lastHour.count, failuresLastDay: failures.count, lastFailure: failures.last,
                lockedForSeconds: policy.wait(failures: try Self.recentFailures(db, now: now), now: now))
        }
    }

    static func storedPIN(_ db: Database) throws -> String {
        try String.fetchOne(db, sql: "SELECT value FROM system_config WHERE key = 'pin'") ?? SystemSchema.defaultPIN
    }

    /// The wrong PINs of the last hour that came after the last right one, oldest first.
    static func recentFailures(_ db: Database, now: Timestamp) throws -> [Timestamp] {
        try String.fetchAll(db, sql: """
            SELECT at FROM pin_attempts
            WHERE outcome = 'wrong' AND at > ?
              AND id > COALESCE((SELECT MAX(id) FROM pin_attempts WHERE outcome = 'right'), 0)
            ORDER BY id
            """, arguments: [now.adding(seconds: -PINGuessPolicy.window).text]
        ).compactMap { (text: String) -> Timestamp? in Timestamp(text) }
    }

    /// Compares every byte whatever the inputs (the time depends only on the longer length).
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        let length = max(x.count, y.count)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<length {
            let left = index < x.count ? x[index] : 0
            let right = index < y.count ? y[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}
