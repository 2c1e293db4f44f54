@testable import Accounts
import Foundation
import Mail
import Models
import SQLKit
import Testing
import TestSupport

struct EmailHarness: Sendable {
    let db: any Database
    let auth: AuthService
    let flows: EmailFlows
    let clock: ManualClock
    let revocations: RevocationRecorder
    let outbox: MailOutbox
    static let client = ClientInfo(ip: "203.0.113.9", userAgent: "tests")
    static let password = "correct horse battery"

    static func with(
        _ kind: DatabaseKind, configure: @Sendable (inout EmailSettings) -> Void = { _ in },
        _ body: @Sendable (EmailHarness) async throws -> Void
    ) async throws {
        try await TestDatabases.with(kind) { db in
            let clock = ManualClock()
            let revocations = RevocationRecorder()
            var settings = EmailSettings(publicURL: "https://chat.example.test/", mailFrom: "Switchboard <no-reply@example.test>")
            configure(&settings)
            let outbox = MailOutbox()
            let tokens = await AccessTokenService(secret: String(repeating: "e", count: 40), ttl: .seconds(900), clock: clock.clock)
            let auth = AuthService(
                database: db, hasher: PasswordHasher(parameters: .testing), tokens: tokens, clock: clock.clock,
                mailHooks: EmailRegistrationHooks(settings: settings, outbox: outbox, clock: clock.clock),
                revocations: revocations, logger: TestDatabases.logger
            )
            let flows = EmailFlows(database: db, auth: auth, settings: settings, outbox: outbox, clock: clock.clock, logger: TestDatabases.logger)
            try await body(EmailHarness(db: db, auth: auth, flows: flows, clock: clock, revocations: revocations, outbox: outbox))
        }
    }

    @discardableResult
    func register(_ name: String = "alice") async throws -> UserRecord {
        try await auth.register(.init(email: "\(name)@Example.COM", username: name, password: Self.password, displayName: nil), client: Self.client)
        return try #require(try await db.read { db in try await UserStore().findByEmail("\(name)@example.com", on: db) })
    }

    func mails(to address: String, kind: String? = nil) async throws -> [OutboxRecord] {
        try await db.read { db in try await MailOutboxStore().all(on: db) }
            .filter { $0.recipient == address && (kind == nil || $0.kind == kind) }
    }

    /// The token of the newest mail of `kind` to `address`.
    func latestToken(to address: String, kind: String) async throws -> String {
        let mail = try #require(try await mails(to: address, kind: kind).last)
        return try #require(Self.token(in: mail.textBody))
    }

    static func token(in text: String) -> String? {
        guard let range = text.range(of: "token=") else { return nil }
        return String(text[range.upperBound...].prefix { !$0.isWhitespace })
    }

    func user(_ id: Int64) async throws -> UserRecord {
        try #require(try await auth.user(id: id))
    }
}

@Suite("Email verification and password reset")
struct EmailFlowsTests {
    @Test("registration mails a verification link from PUBLIC_URL; the link works once", arguments: TestDatabases.kinds)
    func verification(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind) { h in
            let user = try await h.register()
            let mails = try await h.mails(to: "alice@example.com")
            #expect(mails.map(\.kind) == ["verify_email"])
            let mail = try #require(mails.first)
            #expect(mail.textBody.contains("https://chat.example.test/verify-email?token="))
            #expect(mail.htmlBody.contains("https://chat.example.test/verify-email?token="))
            #expect(mail.sender == "Switchboard <no-reply@example.test>")
            #expect(mail.status == .pending)
            let token = try #require(EmailHarness.token(in: mail.textBody))
            #expect(token.count >= 43)  // 256 bits, base64url

            let stored = try await h.db.read { db in try await EmailTokenStore().all(userID: user.id, on: db) }
            #expect(stored.count == 1)
            #expect(stored[0].tokenHash == OpaqueToken.hash(token))
            #expect(stored[0].tokenHash != token)
            #expect(stored[0].expiresAt - stored[0].createdAt == 24 * 3600 * 1000)

            #expect(try await h.user(user.id).isEmailVerified == false)
            try await h.flows.verifyEmail(token: token)
            #expect(try await h.user(user.id).isEmailVerified)
            #expect(await apiCode { try await h.flows.verifyEmail(token: token) } == "email_token_used")
        }
    }

    @Test("a verification link expires after 24 hours", arguments: TestDatabases.kinds)
    func verificationExpiry(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind) { h in
            let user = try await h.register()
            let token = try await h.latestToken(to: "alice@example.com", kind: "verify_email")
            h.clock.advance(24 * 3600)
            #expect(await apiCode { try await h.flows.verifyEmail(token: token) } == "email_token_expired")
            #expect(try await h.user(user.id).isEmailVerified == false)
        }
    }

    @Test("resending supersedes the older link and is rate limited", arguments: TestDatabases.kinds)
    func resend(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind) { h in
            let user = try await h.register()
            let first = try await h.latestToken(to: "alice@example.com", kind: "verify_email")
            h.clock.advance(1)  // mails are ordered by time
            try await h.flows.resendVerification(userID: user.id)
            let second = try await h.latestToken(to: "alice@example.com", kind: "verify_email")
            #expect(first != second)
            #expect(await apiCode { try await h.flows.resendVerification(userID: user.id) } == "too_many_requests")
            for _ in 0..<4 {
                h.clock.advance(61)
                try await h.flows.resendVerification(userID: user.id)
            }
            h.clock.advance(61)
            do {
                try await h.flows.resendVerification(userID: user.id)
                Issue.record("expected the daily limit")
            } catch let error as ServiceError {
                #expect(error.code.rawValue == "too_many_requests")
                #expect((error.retryAfter ?? 0) > 3600)
            }
            #expect(try await h.mails(to: "alice@example.com", kind: "verify_email").count == 6)

            let latest = try await h.latestToken(to: "alice@example.com", kind: "verify_email")
            #expect(await apiCode { try await h.flows.verifyEmail(token: first) } == "email_token_superseded")
            #expect(await apiCode { try await h.flows.verifyEmail(token: second) } == "email_token_superseded")
            try await h.flows.verifyEmail(token: latest)
            #expect(await apiCode { try await h.flows.resendVerification(userID: user.id) } == "email_already_verified")
        }
    }

    @Test("wrong or misused tokens get email_token_invalid", arguments: TestDatabases.kinds)
    func wrongTokens(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind) { h in
            try await h.register()
            try await h.flows.forgotPassword(email: "alice@example.com", client: EmailHarness.client)
            let verify = try await h.latestToken(to: "alice@example.com", kind: "verify_email")
            let reset = try await h.latestToken(to: "alice@example.com", kind: "reset_password")
            #expect(await apiCode { try await h.flows.verifyEmail(token: OpaqueToken.generate()) } == "email_token_invalid")
            #expect(await apiCode { try await h.flows.verifyEmail(token: "x") } == "email_token_invalid")
            #expect(await apiCode { try await h.flows.verifyEmail(token: reset) } == "email_token_invalid")
            #expect(await apiCode { try await h.flows.resetPassword(token: verify, password: "a new password") } == "email_token_invalid")
            #expect(await apiCode { try await h.flows.resetPassword(token: String(repeating: "A", count: 500), password: "a new password") } == "email_token_invalid")
        }
    }

    @Test("registering an address that has an account mails its owner a notice instead", arguments: TestDatabases.kinds)
    func existingAddress(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind) { h in
            let user = try await h.register()
            h.clock.advance(1)
            try await h.auth.register(
                .init(email: "alice@EXAMPLE.com", username: "alice2", password: "another password", displayName: nil), client: EmailHarness.client
            )
            let kinds = try await h.mails(to: "alice@example.com").map(\.kind)
            #expect(kinds == ["verify_email", "registration_attempt"])
            let notice = try #require(try await h.mails(to: "alice@example.com", kind: "registration_attempt").first)
            #expect(notice.textBody.contains("https://chat.example.test/forgot-password"))
            #expect(!notice.textBody.contains("token="))
            let tokens = try await h.db.read { db in try await EmailTokenStore().all(userID: user.id, on: db) }
            #expect(tokens.count == 1)
        }
    }

    @Test("forgot-password mails only real accounts and quietly stops past the per-address limit", arguments: TestDatabases.kinds)
    func forgotPassword(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind) { h in
            try await h.register()
            try await h.flows.forgotPassword(email: "nobody@example.com", client: EmailHarness.client)
            #expect(try await h.mails(to: "nobody@example.com").isEmpty)
            for _ in 0..<4 {
                try await h.flows.forgotPassword(email: " alice@EXAMPLE.com", client: EmailHarness.client)
            }
            let resets = try await h.mails(to: "alice@example.com", kind: "reset_password")
            #expect(resets.count == 3)
            #expect(resets.allSatisfy { $0.textBody.contains("https://chat.example.test/reset-password?token=") })
            #expect(await apiCode { try await h.flows.forgotPassword(email: "not an address", client: EmailHarness.client) } == "validation_failed")
        }
    }

    @Test("forgot-password is limited per client IP", arguments: TestDatabases.kinds)
    func forgotPasswordPerIP(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind, configure: { $0.forgotPerIPRule = ThrottleRule(limit: 2, ratePerSecond: 1.0 / 60) }) { h in
            try await h.flows.forgotPassword(email: "a@example.com", client: EmailHarness.client)
            try await h.flows.forgotPassword(email: "b@example.com", client: EmailHarness.client)
            #expect(await apiCode { try await h.flows.forgotPassword(email: "c@example.com", client: EmailHarness.client) } == "too_many_requests")
            try await h.flows.forgotPassword(email: "c@example.com", client: ClientInfo(ip: "198.51.100.1", userAgent: nil))
        }
    }

    @Test("a reset sets the password, uses the link up, ends every session and verifies the address", arguments: TestDatabases.kinds)
    func reset(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind) { h in
            let user = try await h.register()
            let one = try await h.auth.login(login: "alice", password: EmailHarness.password, client: EmailHarness.client)
            let two = try await h.auth.login(login: "alice@example.com", password: EmailHarness.password, client: EmailHarness.client)
            try await h.flows.forgotPassword(email: "alice@example.com", client: EmailHarness.client)
            let token = try await h.latestToken(to: "alice@example.com", kind: "reset_password")

            #expect(await apiCode { try await h.flows.resetPassword(token: token, password: "short") } == "validation_failed")
            try await h.flows.resetPassword(token: token, password: "a brand new password")

            #expect(await apiCode { try await h.auth.refresh(token: one.refreshToken, client: EmailHarness.client) } == "session_expired")
            #expect(await apiCode { try await h.auth.refresh(token: two.refreshToken, client: EmailHarness.client) } == "session_expired")
            #expect(try await h.auth.isSessionActive(one.sessionID) == false)
            #expect(h.revocations.reasons == ["password_reset"])
            #expect(Set(h.revocations.sessionIDs) == [one.sessionID, two.sessionID])

            #expect(await apiCode { try await h.auth.login(login: "alice", password: EmailHarness.password, client: EmailHarness.client) } == "invalid_credentials")
            _ = try await h.auth.login(login: "alice", password: "a brand new password", client: EmailHarness.client)
            #expect(try await h.user(user.id).isEmailVerified)
            #expect(try await h.mails(to: "alice@example.com", kind: "password_changed").count == 1)
            #expect(await apiCode { try await h.flows.resetPassword(token: token, password: "yet another password") } == "email_token_used")
        }
    }

    @Test("a newer reset link supersedes the older; a link expires after an hour", arguments: TestDatabases.kinds)
    func resetSupersedeAndExpiry(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind) { h in
            try await h.register()
            try await h.flows.forgotPassword(email: "alice@example.com", client: EmailHarness.client)
            let older = try await h.latestToken(to: "alice@example.com", kind: "reset_password")
            h.clock.advance(10)
            try await h.flows.forgotPassword(email: "alice@example.com", client: EmailHarness.client)
            let newer = try await h.latestToken(to: "alice@example.com", kind: "reset_password")
            #expect(older != newer)
            #expect(await apiCode { try await h.flows.resetPassword(token: older, password: "a brand new password") } == "email_token_superseded")
            h.clock.advance(3600)
            #expect(await apiCode { try await h.flows.resetPassword(token: newer, password: "a brand new password") } == "email_token_expired")
            _ = try await h.auth.login(login: "alice", password: EmailHarness.password, client: EmailHarness.client)
        }
    }

    @Test("checking a reset link does not use it up, and answers as resetting would", arguments: TestDatabases.kinds)
    func resetLinkCheck(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind) { h in
            try await h.register()
            let check = { (token: String) in try await h.flows.checkResetToken(token: token, client: EmailHarness.client) }
            #expect(await apiCode { try await check("x") } == "email_token_invalid")
            #expect(await apiCode { try await check(String(repeating: "a", count: 43)) } == "email_token_invalid")
            try await h.flows.forgotPassword(email: "alice@example.com", client: EmailHarness.client)
            let older = try await h.latestToken(to: "alice@example.com", kind: "reset_password")
            try await check(older)
            try await check(older)  // still good: checking used nothing up
            h.clock.advance(10)
            try await h.flows.forgotPassword(email: "alice@example.com", client: EmailHarness.client)
            let newer = try await h.latestToken(to: "alice@example.com", kind: "reset_password")
            #expect(await apiCode { try await check(older) } == "email_token_superseded")
            try await check(newer)
            try await h.flows.resetPassword(token: newer, password: "a brand new password")
            #expect(await apiCode { try await check(newer) } == "email_token_used")
            h.clock.advance(3600)  // past the per-address limit of reset mails
            try await h.flows.forgotPassword(email: "alice@example.com", client: EmailHarness.client)
            let third = try await h.latestToken(to: "alice@example.com", kind: "reset_password")
            h.clock.advance(3600)
            #expect(await apiCode { try await check(third) } == "email_token_expired")
            // A verification token is not a reset token.
            try await h.register("bob")
            let verify = try await h.latestToken(to: "bob@example.com", kind: "verify_email")
            #expect(await apiCode { try await check(verify) } == "email_token_invalid")
        }
    }

    @Test("checking reset links is limited per client IP", arguments: TestDatabases.kinds)
    func resetLinkCheckPerIP(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind, configure: { $0.linkCheckPerIPRule = ThrottleRule(limit: 2, ratePerSecond: 1.0 / 60) }) { h in
            let token = String(repeating: "a", count: 43)
            for _ in 0..<2 {
                #expect(await apiCode { try await h.flows.checkResetToken(token: token, client: EmailHarness.client) } == "email_token_invalid")
            }
            #expect(await apiCode { try await h.flows.checkResetToken(token: token, client: EmailHarness.client) } == "too_many_requests")
            let other = ClientInfo(ip: "198.51.100.1", userAgent: nil)
            #expect(await apiCode { try await h.flows.checkResetToken(token: token, client: other) } == "email_token_invalid")
        }
    }

    @Test("the verified-email gate honours REQUIRE_VERIFIED_EMAIL", arguments: TestDatabases.kinds)
    func gate(kind: DatabaseKind) async throws {
        try await EmailHarness.with(kind) { h in
            let user = try await h.register()
            let required = EmailVerificationGate(database: h.db, isRequired: true)
            let optional = EmailVerificationGate(database: h.db, isRequired: false)
            #expect(await apiCode { try await required.requireVerified(userID: user.id) } == "email_unverified")
            try await optional.requireVerified(userID: user.id)
            #expect(await apiCode { try await required.requireVerified(userID: 999_999) } == "unauthorized")
            try await h.flows.verifyEmail(token: try await h.latestToken(to: "alice@example.com", kind: "verify_email"))
            try await required.requireVerified(userID: user.id)
            #expect(required.allows(try await h.user(user.id)))
        }
    }
}
