import Foundation
import Logging
import Models
import SQLKit

/// Email verification and password reset: the logic behind their routes.
///
/// Every mail is enqueued in the transaction that creates the token it carries (or
/// makes the change it reports), and the outbox worker is woken after the commit.
public struct EmailFlows: Sendable {
    let database: any Database
    let auth: AuthService
    let mailer: AccountMailer
    let clock: AccountsClock
    let users = UserStore()
    let tokens = EmailTokenStore()
    let throttle = ThrottleStore()
    let logger: Logger

    public init(database: any Database, auth: AuthService, settings: EmailSettings, outbox: MailOutbox, clock: AccountsClock = .system, logger: Logger) {
        self.database = database
        self.auth = auth
        self.mailer = AccountMailer(settings: settings, outbox: outbox)
        self.clock = clock
        self.logger = logger
    }

    var settings: EmailSettings { mailer.settings }
    var now: Int64 { clock.now().millis }

    /// Tokens we issue are 43 characters; anything far from that is not one of ours.
    static func plausible(_ token: String) -> Bool {
        (16...256).contains(token.utf8.count)
    }

    // MARK: Verification

    /// Verifies the address the token was mailed to and uses the token up.
    /// Throws 400 `email_token_invalid` / `email_token_expired` / `email_token_used` / `email_token_superseded`.
    @discardableResult
    public func verifyEmail(token: String) async throws -> UserRecord {
        guard Self.plausible(token) else { throw ServiceError.emailTokenInvalid }
        let hash = OpaqueToken.hash(token)
        let now = self.now
        let user = try await database.write { db in
            guard let record = try await tokens.find(hash: hash, on: db) else { throw ServiceError.emailTokenInvalid }
            if let problem = record.problem(for: .verifyEmail, now: now) { throw problem }
            guard let user = try await users.find(id: record.userId, on: db), user.email == record.email else {
                throw ServiceError.emailTokenInvalid
            }
            guard try await tokens.consume(id: record.id, now: now, on: db) else { throw ServiceError.emailTokenUsed }
            try await users.markEmailVerified(id: user.id, now: now, on: db)
            return user
        }
        logger.info("email verified", metadata: ["user.id": "\(user.id)"])
        return user
    }

    /// Mails a new verification link, superseding older ones. At most once a minute and
    /// five times a day (429 `too_many_requests` with Retry-After); 409
    /// `email_already_verified` when there is nothing to verify.
    public func resendVerification(userID: Int64) async throws {
        let now = self.now
        let settings = self.settings
        let mailer = self.mailer
        try await database.write { db in
            guard let user = try await users.find(id: userID, on: db), user.disabledAt == nil else { throw ServiceError.unauthorized }
            guard !user.isEmailVerified else { throw ServiceError.emailAlreadyVerified }
            let minute = try await throttle.hit(key: "mail:resend_verification:minute:\(userID)", rule: settings.resendPerMinuteRule, now: now, on: db)
            let day = try await throttle.hit(key: "mail:resend_verification:day:\(userID)", rule: settings.resendPerDayRule, now: now, on: db)
            if let wait = [minute, day].compactMap({ $0 }).max() {
                // Thrown inside the transaction, so a refused attempt is not counted.
                throw ServiceError.tooManyRequests(.tooManyRequests, retryAfter: wait)
            }
            try await mailer.issueVerification(to: user, now: now, on: db)
        }
        mailer.outbox.wake()
        logger.info("verification mail re-sent", metadata: ["user.id": "\(userID)"])
    }

    // MARK: Password reset

    private struct Suppressed: Error {}

    /// Mails a reset link when the address has an (enabled) account; otherwise does the
    /// same work and sends nothing. Callers answer the same either way. Throws only for
    /// a malformed address (422) or too many requests from one IP (429); past the
    /// per-address limit it quietly sends nothing.
    public func forgotPassword(email raw: String, client: ClientInfo) async throws {
        var validator = FieldValidator()
        let email = validator.check("email", AccountValidation.email(raw))
        try validator.throwIfInvalid()
        guard let email else { return }
        let settings = self.settings
        if let ip = client.ip {
            let now = self.now
            try await database.write { db in
                if let wait = try await throttle.hit(key: "forgot:ip:\(ip)", rule: settings.forgotPerIPRule, now: now, on: db) {
                    throw ServiceError.tooManyRequests(.tooManyRequests, retryAfter: wait)
                }
            }
        }
        // Made (and hashed, inside issueReset or here) whether or not the account exists.
        let token = OpaqueToken.generate()
        let now = self.now
        let mailer = self.mailer
        do {
            let mailed = try await database.write { db -> Bool in
                if try await throttle.hit(key: "forgot:addr:\(AccountValidation.emailKey(email))", rule: settings.forgotPerAddressRule, now: now, on: db) != nil {
                    throw Suppressed()
                }
                guard let user = try await users.findByEmail(email, on: db), user.disabledAt == nil, !user.isGuest else {
                    _ = OpaqueToken.hash(token)
                    return false
                }
                try await mailer.issueReset(to: user, token: token, now: now, on: db)
                return true
            }
            if mailed { mailer.outbox.wake() }
            logger.info("password reset requested")
        } catch is Suppressed {
            logger.info("password reset request over the per-address limit; no mail")
        }
    }

    /// Whether a password-reset link can still be used, without using it up: the reset page
    /// asks when it opens, so a used or expired link is said before anyone types a new
    /// password twice. The answer is about the token alone (never whose it is); tokens are
    /// 256 random bits, and checks are limited per client IP by `settings.linkCheckPerIPRule`
    /// (429 `too_many_requests` with Retry-After), as forgot-password is.
    /// Throws 400 `email_token_invalid` / `email_token_expired` / `email_token_used` / `email_token_superseded`,
    /// the same codes, in the same cases, as ``resetPassword(token:password:)``.
    public func checkResetToken(token: String, client: ClientInfo) async throws {
        let now = self.now
        if let ip = client.ip {
            let settings = self.settings
            try await database.write { db in
                if let wait = try await throttle.hit(key: "link-check:ip:\(ip)", rule: settings.linkCheckPerIPRule, now: now, on: db) {
                    throw ServiceError.tooManyRequests(.tooManyRequests, retryAfter: wait)
                }
            }
        }
        guard Self.plausible(token) else { throw ServiceError.emailTokenInvalid }
        let hash = OpaqueToken.hash(token)
        try await database.read { db in
            guard let record = try await tokens.find(hash: hash, on: db) else { throw ServiceError.emailTokenInvalid }
            if let problem = record.problem(for: .resetPassword, now: now) { throw problem }
            guard let user = try await users.find(id: record.userId, on: db), user.email == record.email, user.disabledAt == nil else {
                throw ServiceError.emailTokenInvalid
            }
        }
    }

    /// Sets a new password with a reset token: uses the token up (and any other reset
    /// link of the account), marks the address verified (the link proved control of it),
    /// ends every session, mails a "password changed" notice. Logs nobody in.
    public func resetPassword(token: String, password: String) async throws {
        guard Self.plausible(token) else { throw ServiceError.emailTokenInvalid }
        let hash = OpaqueToken.hash(token)
        // The link first: someone holding a dead link learns that before choosing a password.
        let found = try await database.read { db in try await tokens.find(hash: hash, on: db) }
        guard let record = found else { throw ServiceError.emailTokenInvalid }
        if let problem = record.problem(for: .resetPassword, now: self.now) { throw problem }

        var validator = FieldValidator()
        let newPassword = validator.check("password", AccountValidation.password(password))
        try validator.throwIfInvalid()
        let passwordHash = try await auth.hashPassword(newPassword!)

        let now = self.now
        let auth = self.auth
        let mailer = self.mailer
        let (user, revoked) = try await database.write { db -> (UserRecord, [String]) in
            guard let user = try await users.find(id: record.userId, on: db), user.email == record.email, user.disabledAt == nil else {
                throw ServiceError.emailTokenInvalid
            }
            guard try await tokens.consume(id: record.id, now: now, on: db) else {
                // Lost a race with another use, or expired while the password was hashed.
                let current = try await tokens.find(hash: hash, on: db)
                throw current?.problem(for: .resetPassword, now: now) ?? ServiceError.emailTokenUsed
            }
            try await tokens.supersede(userID: user.id, purpose: .resetPassword, now: now, on: db)
            try await users.updatePasswordHash(id: user.id, hash: passwordHash, now: now, on: db)
            try await users.markEmailVerified(id: user.id, now: now, on: db)
            let revoked = try await auth.revokeAll(userID: user.id, keeping: nil, reason: "password_reset", on: db)
            // Whoever was locked out by failed logins may now log in with the new password.
            try await throttle.reset(key: "login:acct:\(AccountValidation.emailKey(user.email))", on: db)
            try await throttle.reset(key: "login:acct:\(user.username)", on: db)
            try await mailer.enqueuePasswordChanged(to: user, now: now, on: db)
            return (user, revoked)
        }
        await auth.notifyRevoked(userID: user.id, sessionIDs: revoked, reason: "password_reset")
        mailer.outbox.wake()
        logger.info("password reset", metadata: ["user.id": "\(user.id)", "sessions.revoked": "\(revoked.count)"])
    }
}
