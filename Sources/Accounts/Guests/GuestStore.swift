import Foundation
import SQLKit

/// Guest rows of `users` (migration 0011): created by `POST /api/auth/guest`, swept after
/// `guest_expires_at`.
///
/// A guest has neither an email nor a password, but the columns are NOT NULL, so it gets
/// placeholders that can never be used: the address `<username>@guest.invalid` (`.invalid` is
/// reserved by RFC 2606 §2 and never resolves; the mail path refuses it too,
/// ``isPlaceholderEmail(_:)``) and the password hash ``passwordHashPlaceholder``, which is not a
/// PHC string and so never verifies (login refuses guests before looking at it).
/// `email_verified_at` is set at creation: a guest has no address to verify, and the room
/// owner's `allowGuests` is what lets it post (the `REQUIRE_VERIFIED_EMAIL` check of the send
/// path reads that column).
public struct GuestStore: Sendable {
    public init() {}

    /// Every guest username starts with this; registration refuses it.
    public static let usernamePrefix = "guest-"
    /// The domain of guests' placeholder addresses.
    public static let emailDomain = "guest.invalid"
    public static let passwordHashPlaceholder = "!guest"

    public static func isPlaceholderEmail(_ address: String) -> Bool {
        address.lowercased().hasSuffix("@" + emailDomain)
    }

    /// A fresh guest username: the prefix and 10 random characters of `a-z0-9` (system CSPRNG).
    static func makeUsername() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return usernamePrefix + String((0..<10).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// Inserts a guest named `displayName` expiring at `expiresAt` (ms); nil when the random
    /// username collided (the caller draws another).
    public func insert(displayName: String, now: Int64, expiresAt: Int64, on db: any SQLDatabase) async throws -> UserRecord? {
        let username = Self.makeUsername()
        let email = "\(username)@\(Self.emailDomain)"
        return try await db.raw(
            """
            INSERT INTO users (email, email_key, username, display_name, display_name_key, password_hash, email_verified_at, created_at, updated_at, guest_expires_at)
            VALUES (\(bind: email), \(bind: email), \(bind: username), \(bind: displayName), \(bind: AccountValidation.nameKey(displayName)), \(bind: Self.passwordHashPlaceholder),
                    \(bind: now), \(bind: now), \(bind: now), \(bind: expiresAt))
            ON CONFLICT DO NOTHING
            RETURNING \(unsafeRaw: UserStore.columns)
            """
        ).first(decoding: UserRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// Guests whose expiry is at or before `now` (ms) and that were not retired yet
    /// (``retire(userID:now:on:)`` sets `disabled_at` at or after the expiry), oldest first, at most `limit`.
    public func expired(now: Int64, limit: Int, on db: any SQLDatabase) async throws -> [Int64] {
        struct Row: Decodable { let id: Int64 }
        return try await db.raw(
            """
            SELECT id FROM users
            WHERE guest_expires_at IS NOT NULL AND guest_expires_at <= \(bind: now)
              AND (disabled_at IS NULL OR disabled_at < guest_expires_at)
            ORDER BY guest_expires_at, id LIMIT \(bind: limit)
            """
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns).map(\.id)
    }

    /// Retires an expired guest: deletes its sessions (their refresh tokens cascade) and marks
    /// it disabled at `now`; returns the ids of the sessions that had not been revoked (expired
    /// ones included: their sockets may still be open), for
    /// ``AuthService/notifyRevoked(userID:sessionIDs:reason:)``.
    public func retire(userID: Int64, now: Int64, on db: any SQLDatabase) async throws -> [String] {
        struct Row: Decodable { let id: String; let revokedAt: Int64?; let expiresAt: Int64 }
        try await db.raw("UPDATE users SET disabled_at = \(bind: now), updated_at = \(bind: now) WHERE id = \(bind: userID)").run()
        let rows = try await db.raw("DELETE FROM sessions WHERE user_id = \(bind: userID) RETURNING id, revoked_at, expires_at")
            .all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        // Every session not already revoked, including those that ended at the guest's expiry
        // (all of them: a guest's session ends exactly at `guest_expires_at`): their sockets
        // are still open and must be closed.
        return rows.filter { $0.revokedAt == nil }.map(\.id)
    }

    /// Deletes the guest's row when nothing refers to it any more; false when something does
    /// (its messages keep their author: the row stays, without sessions or memberships, and
    /// `guest_expires_at` keeps it marked as an expired guest).
    public func deleteIfUnreferenced(userID: Int64, on db: any SQLDatabase) async throws -> Bool {
        if try await db.raw("SELECT 1 AS one FROM messages WHERE author_id = \(bind: userID) LIMIT 1").first() != nil { return false }
        let rows = try await db.raw(
            "DELETE FROM users WHERE id = \(bind: userID) AND guest_expires_at IS NOT NULL RETURNING id"
        ).all()
        return !rows.isEmpty
    }
}
