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
/// and its sign-in identities and pending email tokens are deleted; its sessions' user agents
/// and IP addresses and the login throttle rows keyed by its username or address go too. The
/// mail outbox forgets the old address (``MailOutboxStore/forget(address:replacement:on:)``); a
/// last mail to it says so, through the outbox in the same transaction, and forgets it once
/// sent. Revocations take effect at once on every node (sockets closed, tokens refused) through
/// ``AuthService/notifyRevoked``: ``begin(_:sessionID:)`` revokes first, ``erase(_:redact:)``
/// last. Leaving rooms is the caller's part (Chat), done between the two.
public struct AccountDeletion: Sendable {
    let auth: AuthService
    let mailer: AccountMailer?

    /// The name a deleted account shows, beside its messages.
    public static let displayName = "Deleted user"
    /// Deleted accounts' usernames are `deleted-<id>`; registration, sign-in providers and the
    /// admin CLI never give an account a username with this prefix (any letter case).
    public static let usernamePrefix = "deleted-"
    /// The domain of deleted accounts' placeholder addresses (`deleted-<id>@deleted.invalid`;
    /// `.invalid` is reserved by RFC 2606 §2): never mailed, like a guest's.
    public static let emailDomain = "deleted.invalid"

    /// Whether `address` is a deleted account's placeholder (any letter case); the mail path
    /// skips it (``AccountMailer``).
    public static func isPlaceholderEmail(_ address: String) -> Bool {
        address.lowercased().hasSuffix("@" + emailDomain)
    }

    /// `email`: the mail settings and outbox for the last mail (nil: none is sent).
    public init(auth: AuthService, email: (settings: EmailSettings, outbox: MailOutbox)?) {
        self.auth = auth
        self.mailer = email.map { AccountMailer(settings: $0.settings, outbox: $0.outbox) }
    }

    /// What a request of an already deleted account gets, as any request with a token of a
    /// revoked session (`BearerAuthenticator`): 401 `session_revoked`. The loser of two
    /// simultaneous deletions gets it too.
    public static let alreadyDeleted = ServiceError(.sessionRevoked, message: "This session has ended; log in again.")

    /// The account of `userID`, once `password` is its password. An account without a password
    /// (made by a sign-in provider, or a guest) needs none: the caller's valid access token of
    /// a live session is the proof, as for every other change to it.
    /// - Throws: `invalid_current_password` (field `password`) for a missing or wrong password;
    ///   `session_revoked` (``alreadyDeleted``) when the account is gone.
    public func confirm(userID: Int64, password: String?) async throws -> UserRecord {
        guard let user = try await auth.user(id: userID), user.deletedAt == nil else { throw Self.alreadyDeleted }
        guard user.hasPassword, !user.isGuest else { return user }
        guard let password, !password.isEmpty, try await auth.verifyPassword(password, against: user.passwordHash).matches else {
            throw ServiceError(.invalidCurrentPassword, message: "The password is incorrect.", fields: ["password": "is incorrect"])
        }
        return user
    }

    /// Starts the deletion of `user` from the session `sessionID` (the caller's): revokes every
    /// session of the account, which closes its sockets on every node, and decides which of two
    /// simultaneous deletions of one account (two tabs) runs. The one whose transaction revokes
    /// the caller's own session wins; the other finds its session already revoked, changes
    /// nothing and throws ``alreadyDeleted`` (401 `session_revoked`: its session has ended), so
    /// only the winner leaves the rooms and erases. Transactions of one account take turns on its
    /// `users` row (`FOR UPDATE` on PostgreSQL; SQLite has one writer).
    ///
    /// If a later step fails, the account is signed out but not deleted: logging in again and
    /// repeating the request finishes it.
    public func begin(_ user: UserRecord, sessionID: String) async throws {
        let now = auth.now
        let ended = try await auth.database.write { db -> [String] in
            if db.dialect.name == "postgresql" {
                try await db.raw("SELECT id FROM users WHERE id = \(bind: user.id) FOR UPDATE").run()
            }
            let ended = try await auth.sessions.revokeAll(userID: user.id, except: nil, reason: "account_deleted", now: now, on: db)
            guard ended.contains(sessionID) else { throw Self.alreadyDeleted }
            return ended
        }
        await auth.notifyRevoked(userID: user.id, sessionIDs: ended, reason: "account_deleted")
    }

    /// Erases `user` (see the type's description); returns the revoked session ids (those not
    /// already revoked by ``begin(_:sessionID:)``).
    ///
    /// Exactly once: the overwrite is conditional (`WHERE deleted_at IS NULL`): of two erases
    /// of one account the transaction that commits first wins; the other changes nothing (no
    /// second mail) and throws ``alreadyDeleted``. On PostgreSQL the loser's UPDATE waits for the
    /// winner's row lock and then finds no row to update (READ COMMITTED re-checks the
    /// condition); SQLite has one writer at a time.
    ///
    /// `redact`, when given, runs in the same transaction after the overwrite, with the account
    /// as it was (old username and display name) and as it is now: the Server's part, which
    /// rewrites the old names in the durable event log (``AccountDeletion`` cannot see it).
    @discardableResult
    public func erase(
        _ user: UserRecord,
        redact: (@Sendable (_ before: UserRecord, _ after: UserRecord, _ db: any SQLDatabase) async throws -> Void)? = nil
    ) async throws -> [String] {
        let now = auth.now
        let mailer = self.mailer
        let placeholder = "deleted-\(user.id)@\(Self.emailDomain)"
        // An account registered before the prefix was reserved may hold the name: then a random suffix.
        let preferred = Self.usernamePrefix + "\(user.id)"
        let revoked = try await auth.database.write { db -> [String] in
            let taken = try await auth.users.findByUsername(preferred, on: db).map { $0.id != user.id } ?? false
            let username = taken ? preferred + "-" + String(UInt32.random(in: .min ... .max), radix: 16) : preferred
            // The conditional overwrite decides which of two simultaneous deletions runs.
            guard let after = try await db.raw(
                """
                UPDATE users SET email = \(bind: placeholder), email_key = \(bind: placeholder), username = \(bind: username),
                    display_name = \(bind: Self.displayName), display_name_key = \(bind: AccountValidation.nameKey(Self.displayName)),
                    password_hash = \(bind: UserRecord.noPasswordMarker),
                    email_verified_at = NULL, disabled_at = \(bind: now), deleted_at = \(bind: now), updated_at = \(bind: now)
                WHERE id = \(bind: user.id) AND deleted_at IS NULL
                RETURNING \(unsafeRaw: UserStore.columns)
                """
            ).first(decoding: UserRecord.self, keyDecodingStrategy: .snakeCaseColumns) else { throw Self.alreadyDeleted }
            let ended = try await auth.sessions.revokeAll(userID: user.id, except: nil, reason: "account_deleted", now: now, on: db)
            try await db.raw("DELETE FROM identities WHERE user_id = \(bind: user.id)").run()
            try await db.raw("DELETE FROM email_tokens WHERE user_id = \(bind: user.id)").run()
            try await MailOutboxStore().forget(address: user.email, replacement: placeholder, on: db)
            // Revoked sessions stay (a token of one answers session_revoked) without the client
            // they came from; throttle rows keyed by the old login names go (AuthService.login,
            // EmailFlows.forgotPassword name them so).
            try await db.raw("UPDATE sessions SET user_agent = NULL, ip = NULL WHERE user_id = \(bind: user.id)").run()
            let emailKey = AccountValidation.emailKey(user.email)
            for key in ["login:acct:\(emailKey)", "login:acct:\(user.username)", "forgot:addr:\(emailKey)"] {
                try await auth.throttle.reset(key: key, on: db)
            }
            if let mailer, !user.isGuest { try await mailer.enqueueAccountDeleted(to: user, now: now, on: db) }
            try await redact?(user, after, db)
            return ended
        }
        mailer?.outbox.wake()
        await auth.notifyRevoked(userID: user.id, sessionIDs: revoked, reason: "account_deleted")
        auth.logger.notice("account deleted", metadata: ["user.id": "\(user.id)"])
        return revoked
    }
}
