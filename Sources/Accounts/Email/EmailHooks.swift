import Foundation
import Mail
import SQLKit

/// The mail side of registration, run inside the transaction that creates the account:
/// a verification token and its mail, or, for an address that already has an account,
/// a notice to its owner (so registering reveals nothing about which addresses exist).
public struct EmailRegistrationHooks: RegistrationMailHooks {
    let mailer: AccountMailer
    let clock: AccountsClock

    public init(settings: EmailSettings, outbox: MailOutbox, clock: AccountsClock = .system) {
        self.mailer = AccountMailer(settings: settings, outbox: outbox)
        self.clock = clock
    }

    public func accountCreated(_ user: UserRecord, on db: any SQLDatabase) async throws {
        try await mailer.issueVerification(to: user, now: clock.now().millis, on: db)
        mailer.outbox.wake()
    }

    public func registrationAttempted(on existing: UserRecord, on db: any SQLDatabase) async throws {
        guard existing.disabledAt == nil else { return }
        let now = clock.now().millis
        let throttled = try await ThrottleStore().hit(
            key: "mail:registration_notice:\(AccountValidation.emailKey(existing.email))", rule: mailer.settings.registrationNoticeRule, now: now, on: db
        )
        guard throttled == nil else { return }
        try await mailer.enqueueRegistrationNotice(to: existing, now: now, on: db)
        mailer.outbox.wake()
    }
}

/// Issues tokens and renders and enqueues the account mails, always on the caller's
/// transaction.
struct AccountMailer: Sendable {
    let settings: EmailSettings
    let outbox: MailOutbox
    let tokens = EmailTokenStore()
    var templates: MailTemplates { MailTemplates(productName: settings.productName) }

    enum Kind {
        static let verifyEmail = "verify_email"
        static let resetPassword = "reset_password"
        static let passwordChanged = "password_changed"
        static let registrationAttempt = "registration_attempt"
        static let accountDeleted = "account_deleted"
    }

    /// A new verification token (older ones superseded) and the mail carrying it.
    func issueVerification(to user: UserRecord, now: Int64, on db: any SQLDatabase) async throws {
        let token = OpaqueToken.generate()
        let lifetime = settings.verificationTokenLifetime
        try await tokens.issue(
            userID: user.id, email: user.email, purpose: .verifyEmail, tokenHash: OpaqueToken.hash(token), now: now,
            expiresAt: now + lifetime.millis, on: db
        )
        let content = templates.verification(displayName: user.displayName, link: settings.verificationLink(token: token), expiresIn: lifetime)
        try await enqueue(content, to: user.email, kind: Kind.verifyEmail, now: now, on: db)
    }

    /// A new reset token (older ones superseded) and the mail carrying it.
    func issueReset(to user: UserRecord, token: String, now: Int64, on db: any SQLDatabase) async throws {
        let lifetime = settings.resetTokenLifetime
        try await tokens.issue(
            userID: user.id, email: user.email, purpose: .resetPassword, tokenHash: OpaqueToken.hash(token), now: now,
            expiresAt: now + lifetime.millis, on: db
        )
        let content = templates.passwordReset(displayName: user.displayName, link: settings.resetLink(token: token), expiresIn: lifetime)
        try await enqueue(content, to: user.email, kind: Kind.resetPassword, now: now, on: db)
    }

    func enqueuePasswordChanged(to user: UserRecord, now: Int64, on db: any SQLDatabase) async throws {
        let content = templates.passwordChanged(displayName: user.displayName, changedAt: Date(millis: now), resetPageLink: settings.resetPageLink)
        try await enqueue(content, to: user.email, kind: Kind.passwordChanged, now: now, on: db)
    }

    func enqueueAccountDeleted(to user: UserRecord, now: Int64, on db: any SQLDatabase) async throws {
        let content = templates.accountDeleted(displayName: user.displayName, deletedAt: Date(millis: now))
        try await enqueue(content, to: user.email, kind: Kind.accountDeleted, now: now, on: db)
    }

    func enqueueRegistrationNotice(to user: UserRecord, now: Int64, on db: any SQLDatabase) async throws {
        let content = templates.registrationAttempt(displayName: user.displayName, signInLink: settings.signInLink, resetPageLink: settings.resetPageLink)
        try await enqueue(content, to: user.email, kind: Kind.registrationAttempt, now: now, on: db)
    }

    private func enqueue(_ content: MailContent, to address: String, kind: String, now: Int64, on db: any SQLDatabase) async throws {
        // A guest's or a deleted account's placeholder address (RFC 2606 `.invalid`) is never mailed.
        guard !GuestStore.isPlaceholderEmail(address), !AccountDeletion.isPlaceholderEmail(address) else { return }
        try await outbox.enqueue(OutgoingMail(from: settings.mailFrom, to: [address], content: content), kind: kind, now: now, on: db)
    }
}
