import Foundation
import Models
import SQLKit

extension AuthService {
    /// Starts a guest: a `users` row marked as a guest (``GuestStore``) and one session with a
    /// short absolute lifetime (``AuthSettings/guestSessionLifetime``): access and refresh tokens
    /// like a login's, but the session, and the guest with it, ends for good at that time.
    ///
    /// - Parameter displayName: 1–64 Unicode scalars after trimming, no control characters.
    /// - Throws: `validation_failed` (`fields.displayName`), `too_many_requests` (429 with
    ///   `retryAfter`) past ``AuthSettings/guestRule`` per client IP (callers without a known
    ///   address share one bucket), `server_busy`.
    public func startGuest(displayName raw: String, client: ClientInfo) async throws -> IssuedTokens {
        var validator = FieldValidator()
        let displayName = validator.check("displayName", AccountValidation.displayName(raw))
        try validator.throwIfInvalid()
        guard let displayName else { throw ServiceError.validation(["displayName": "is required"]) }
        let now = self.now
        let settings = self.settings
        let key = "guest:ip:\(client.ip ?? "-")"
        if let wait = try await database.write({ db in try await throttle.hit(key: key, rule: settings.guestRule, now: now, on: db) }) {
            throw ServiceError.tooManyRequests(.tooManyRequests, retryAfter: wait)
        }
        let lifetime = settings.guestSessionLifetime
        let expiresAt = now + lifetime.millis
        let guests = GuestStore()
        for _ in 0..<5 {
            if let user = try await database.write({ db in try await guests.insert(displayName: displayName, now: now, expiresAt: expiresAt, on: db) }) {
                logger.info("guest started", metadata: ["user.id": "\(user.id)"])
                return try await startSession(for: user, client: client, lifetime: lifetime)
            }
        }
        throw ServiceError.internalError
    }

    /// Ends an expired guest: its sessions are deleted (sockets closed and tokens refused at
    /// once, as any revocation) and, when nothing refers to it, its row. The caller has already
    /// taken it out of its rooms. Returns whether the row was deleted.
    public func removeExpiredGuest(userID: Int64) async throws -> Bool {
        let now = self.now
        let guests = GuestStore()
        let ended = try await database.write { db in try await guests.retire(userID: userID, now: now, on: db) }
        await notifyRevoked(userID: userID, sessionIDs: ended, reason: "guest_expired")
        do {
            return try await database.write { db in try await guests.deleteIfUnreferenced(userID: userID, on: db) }
        } catch {
            // Another table refers to the guest without ON DELETE CASCADE (e.g. an audit entry):
            // the row stays, marked expired, without sessions or memberships.
            logger.info("expired guest kept", metadata: ["user.id": "\(userID)", "error": "\(String(reflecting: type(of: error)))"])
            return false
        }
    }

    /// The ids of guests expired at the clock's now, at most `limit`.
    public func expiredGuests(limit: Int) async throws -> [Int64] {
        let now = self.now
        return try await database.read { db in try await GuestStore().expired(now: now, limit: limit, on: db) }
    }
}
