import Foundation
import Logging
import Mail
import Models
import SQLKit

/// Deleting one's own account (`DELETE /api/me`, issue 18), the Accounts half: proving it is
/// the owner, then erasing what identified the person.
///
/// The row stays, so that the account's messages keep an author: in one transaction the
/// email (and its key), username, display name and password are overwritten (`deleted-<id>`,
/// "Deleted user", an address under RFC 2606's `.invalid` that is never mailed, the
/// no-password marker), `deleted_at` and `disabled_at` are set, every session is revoked,
/// and its sign-in identities and pending email tokens are deleted. A last mail to the old
/// address says so, through the outbox in the same transaction. Revocations then take effect
/// at once on every node (sockets closed, tokens refused) through ``AuthService/notifyRevoked``.
/// Leaving rooms is the caller's part (Chat), done before ``erase(_:)``.
public struct AccountDeletion: Sendable {
    let auth: AuthService
    let mailer: AccountMailer?

    /// The name a deleted account shows, beside its messages.
    public static let displayName = "Deleted user"
    /// Deleted accounts' usernames are `deleted-<id>`; registration, sign-in providers and the
    /// admin CLI never give an account a username with this prefix (any letter case).
    public static let usernamePrefix = "deleted-"

    /// `email`: the mail settings and outbox for the last mail (nil: none is sent).
    public init(auth: AuthService, email: (settings: EmailSettings, outbox: MailOutbox)?) {
        self.auth = auth
        self.mailer = email.map { AccountMailer(settings: $0.settings, outbox: $0.outbox) }
    }

    /// The account of `userID`, once `password` is its password. An account without a password
    /// (made by a sign-in provider, or a guest) needs none: the caller's valid access token of
    /// a live session is the proof, as for every other change to it.
    /// - Throws: `invalid_current_password` (field `password`) for a missing or wrong password;
    ///   `unauthorized` when the account is gone.
    public func confirm(userID: Int64, password: String?) async throws -> UserRecord {
        guard let user = try await auth.user(id: userID), user.deletedAt == nil else { throw ServiceError.unauthorized }
        guard user.hasPassword, !user.isGuest else { return user }
        guard let password, !password.isEmpty, try await auth.verifyPassword(password, against: user.passwordHash).matches else {
            throw ServiceError(.invalidCurrentPassword, message: "The password is incorrect.", fields: ["password": "is incorrect"])
        }
        return user
    }

    /// Erases `user` (see the type's description); returns the revoked session ids.
    @discardableResult
    public func erase(_ user: UserRecord) async throws -> [String] {
        let now = auth.now
        let mailer = self.mailer
        let placeholder = "deleted-\(user.id)@deleted.invalid"
        // An account registered before the prefix was reserved may hold the name: then a random suffix.
        let preferred = Self.usernamePrefix + "\(user.id)"
        let revoked = try await auth.database.write { db -> [String] in
            let ended = try await auth.sessions.revokeAll(userID: user.id, except: nil, reason: "account_deleted", now: now, on: db)
            let taken = try await auth.users.findByUsername(preferred, on: db).map { $0.id != user.id } ?? false
            let username = taken ? preferred + "-" + String(UInt32.random(in: .min ... .max), radix: 16) : preferred
            try await db.raw(
                """
                UPDATE users SET email = \(bind: placeholder), email_key = \(bind: placeholder), username = \(bind: username),
                    display_name = \(bind: Self.displayName), password_hash = \(bind: UserRecord.noPasswordMarker),
                    email_verified_at = NULL, disabled_at = \(bind: now), deleted_at = \(bind: now), updated_at = \(bind: now)
                WHERE id = \(bind: user.id)
                """
            ).run()
            try await db.raw("DELETE FROM identities WHERE user_id = \(bind: user.id)").run()
            try await db.raw("DELETE FROM email_tokens WHERE user_id = \(bind: user.id)").run()
            if let mailer, !user.isGuest { try await mailer.enqueueAccountDeleted(to: user, now: now, on: db) }
            return ended
        }
        mailer?.outbox.wake()
        await auth.notifyRevoked(userID: user.id, sessionIDs: revoked, reason: "account_deleted")
        auth.logger.notice("account deleted", metadata: ["user.id": "\(user.id)"])
        return revoked
    }
}
