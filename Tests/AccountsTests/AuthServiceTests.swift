@testable import Accounts
import Foundation
import Models
import Synchronization
import Testing
import TestSupport

/// Records revocation events.
final class RevocationRecorder: SessionRevocationObserver {
    let events = Mutex<[(Int64, [String], String)]>([])
    func sessionsRevoked(userID: Int64, sessionIDs: [String], reason: String) async {
        events.withLock { $0.append((userID, sessionIDs, reason)) }
    }
    var reasons: [String] { events.withLock { $0.map(\.2) } }
    var sessionIDs: [String] { events.withLock { $0.flatMap(\.1) } }
}

struct AuthHarness {
    let auth: AuthService
    let clock: ManualClock
    let revocations: RevocationRecorder
    static let client = ClientInfo(ip: "203.0.113.7", userAgent: "tests")

    static func with(_ kind: DatabaseKind, settings: AuthSettings = .init(), _ body: @Sendable (AuthHarness) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { db in
            let clock = ManualClock()
            let revocations = RevocationRecorder()
            let tokens = await AccessTokenService(secret: String(repeating: "s", count: 40), ttl: .seconds(900), clock: clock.clock)
            let auth = AuthService(
                database: db, hasher: PasswordHasher(parameters: .testing), tokens: tokens, clock: clock.clock,
                settings: settings, revocations: revocations, logger: TestDatabases.logger
            )
            try await body(AuthHarness(auth: auth, clock: clock, revocations: revocations))
        }
    }

    func register(_ name: String = "alice", password: String = "correct horse battery") async throws {
        try await auth.register(.init(email: "\(name)@Example.COM", username: name, password: password, displayName: nil), client: Self.client)
    }
}

@Suite("Auth service")
struct AuthServiceTests {
    @Test("register then login by email or username", arguments: TestDatabases.kinds)
    func registerAndLogin(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            try await h.register()
            let byEmail = try await h.auth.login(login: "alice@example.com", password: "correct horse battery", client: AuthHarness.client)
            #expect(byEmail.user.email == "alice@example.com")
            #expect(byEmail.user.displayName == "alice")
            let byName = try await h.auth.login(login: "ALICE", password: "correct horse battery", client: AuthHarness.client)
            #expect(byName.user.id == byEmail.user.id)
            #expect(byName.sessionID != byEmail.sessionID)
            let identity = try await h.auth.tokens.verify(byName.accessToken)
            #expect(identity.userID == byName.user.id && identity.sessionID == byName.sessionID)
        }
    }

    @Test("validation reports every bad field", arguments: TestDatabases.kinds)
    func validation(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            do {
                try await h.auth.register(.init(email: "nope", username: "A!", password: "short", displayName: "  "), client: AuthHarness.client)
                Issue.record("expected validation error")
            } catch let error as ServiceError {
                #expect(error.code.rawValue == "validation_failed")
                #expect(Set(error.fields?.keys.map { $0 } ?? []) == ["email", "username", "password", "displayName"])
            }
        }
    }

    @Test("a registered email answers like a new one; a taken username is a 409", arguments: TestDatabases.kinds)
    func noEnumeration(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            try await h.register()
            // Same email, other username: same (successful) outcome.
            try await h.auth.register(.init(email: "alice@example.com", username: "alice2", password: "another password", displayName: nil), client: AuthHarness.client)
            #expect(await apiCode { try await h.auth.login(login: "alice2", password: "another password", client: AuthHarness.client) } == "invalid_credentials")
            #expect(await apiCode { try await h.auth.register(.init(email: "x@example.com", username: "alice", password: "whatever123", displayName: nil), client: AuthHarness.client) } == "username_taken")
        }
    }

    @Test("unknown user and wrong password are indistinguishable", arguments: TestDatabases.kinds)
    func invalidCredentials(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            try await h.register()
            var errors: [ServiceError] = []
            for login in ["alice", "nobody"] {
                do { _ = try await h.auth.login(login: login, password: "wrong password", client: AuthHarness.client) } catch let e as ServiceError { errors.append(e) }
            }
            #expect(errors.count == 2)
            #expect(errors[0].code.httpStatus == errors[1].code.httpStatus && errors[0].code == errors[1].code && errors[0].message == errors[1].message)
        }
    }

    @Test("failed logins throttle per account, and the lock decays", arguments: TestDatabases.kinds)
    func throttling(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            try await h.register()
            for _ in 0..<5 {
                #expect(await apiCode { try await h.auth.login(login: "alice", password: "bad password", client: AuthHarness.client) } == "invalid_credentials")
            }
            // Locked now, even with the right password.
            #expect(await apiCode { try await h.auth.login(login: "alice", password: "correct horse battery", client: AuthHarness.client) } == "too_many_attempts")
            h.clock.advance(61)
            _ = try await h.auth.login(login: "alice", password: "correct horse battery", client: AuthHarness.client)
        }
    }

    @Test("failed logins throttle per IP across accounts", arguments: TestDatabases.kinds)
    func ipThrottling(kind: DatabaseKind) async throws {
        var settings = AuthSettings()
        settings.ipRule = ThrottleRule(limit: 3, ratePerSecond: 0.1)
        try await AuthHarness.with(kind, settings: settings) { h in
            for i in 0..<3 {
                #expect(await apiCode { try await h.auth.login(login: "user\(i)", password: "bad password", client: AuthHarness.client) } == "invalid_credentials")
            }
            #expect(await apiCode { try await h.auth.login(login: "user9", password: "bad password", client: AuthHarness.client) } == "too_many_attempts")
            let otherIP = ClientInfo(ip: "198.51.100.1", userAgent: nil)
            #expect(await apiCode { try await h.auth.login(login: "user9", password: "bad password", client: otherIP) } == "invalid_credentials")
            h.clock.advance(11)
            #expect(await apiCode { try await h.auth.login(login: "user9", password: "bad password", client: AuthHarness.client) } == "invalid_credentials")
        }
    }

    @Test("refresh rotates; reusing a rotated token revokes the session", arguments: TestDatabases.kinds)
    func refreshRotationAndReuse(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            try await h.register()
            let first = try await h.auth.login(login: "alice", password: "correct horse battery", client: AuthHarness.client)
            let second = try await h.auth.refresh(token: first.refreshToken, client: AuthHarness.client)
            #expect(second.refreshToken != first.refreshToken)
            #expect(second.sessionID == first.sessionID)
            let third = try await h.auth.refresh(token: second.refreshToken, client: AuthHarness.client)
            // Replaying the first token: reuse → the whole session dies, including the newest token.
            #expect(await apiCode { try await h.auth.refresh(token: first.refreshToken, client: AuthHarness.client) } == "refresh_token_reused")
            #expect(h.revocations.reasons == ["refresh_token_reuse"])
            #expect(h.revocations.sessionIDs == [first.sessionID])
            #expect(await apiCode { try await h.auth.refresh(token: third.refreshToken, client: AuthHarness.client) } == "session_expired")
            #expect(try await h.auth.isSessionActive(first.sessionID) == false)
            #expect(await apiCode { try await h.auth.refresh(token: "made-up", client: AuthHarness.client) } == "invalid_refresh_token")
        }
    }

    @Test("access tokens and sessions expire", arguments: TestDatabases.kinds)
    func expiry(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            try await h.register()
            let issued = try await h.auth.login(login: "alice", password: "correct horse battery", client: AuthHarness.client)
            h.clock.advance(901)
            await #expect(throws: AccessTokenService.TokenError.expired) { try await h.auth.tokens.verify(issued.accessToken) }
            // Idle timeout: 7 days without use ends the session.
            h.clock.advance(7 * 86_400)
            #expect(await apiCode { try await h.auth.refresh(token: issued.refreshToken, client: AuthHarness.client) } == "session_expired")
        }
    }

    @Test("a session used regularly still ends at its absolute lifetime", arguments: TestDatabases.kinds)
    func absoluteLifetime(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            try await h.register()
            var issued = try await h.auth.login(login: "alice", password: "correct horse battery", client: AuthHarness.client)
            for days in [5, 5, 5, 5, 5, 4] {  // day 29: still inside the 30-day lifetime
                h.clock.advance(Double(days) * 86_400)
                issued = try await h.auth.refresh(token: issued.refreshToken, client: AuthHarness.client)
            }
            h.clock.advance(2 * 86_400)
            #expect(await apiCode { try await h.auth.refresh(token: issued.refreshToken, client: AuthHarness.client) } == "session_expired")
        }
    }

    @Test("logout, logout-all and deleting a session", arguments: TestDatabases.kinds)
    func logoutFlows(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            try await h.register()
            let a = try await h.auth.login(login: "alice", password: "correct horse battery", client: AuthHarness.client)
            let b = try await h.auth.login(login: "alice", password: "correct horse battery", client: AuthHarness.client)
            let c = try await h.auth.login(login: "alice", password: "correct horse battery", client: AuthHarness.client)
            #expect(try await h.auth.activeSessions(userID: a.user.id).count == 3)
            try await h.auth.logout(try await h.auth.tokens.verify(a.accessToken))
            #expect(await apiCode { try await h.auth.refresh(token: a.refreshToken, client: AuthHarness.client) } == "session_expired")
            #expect(try await h.auth.revoke(userID: a.user.id, sessionID: b.sessionID, reason: "deleted"))
            #expect(try await h.auth.revoke(userID: a.user.id + 1, sessionID: c.sessionID, reason: "deleted") == false)
            try await h.auth.logoutAll(try await h.auth.tokens.verify(c.accessToken))
            #expect(try await h.auth.activeSessions(userID: a.user.id).isEmpty)
            #expect(h.revocations.reasons == ["logout", "deleted", "logout_all"])
        }
    }

    @Test("changing the password revokes the other sessions", arguments: TestDatabases.kinds)
    func passwordChange(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            try await h.register()
            let keep = try await h.auth.login(login: "alice", password: "correct horse battery", client: AuthHarness.client)
            let other = try await h.auth.login(login: "alice", password: "correct horse battery", client: AuthHarness.client)
            let identity = try await h.auth.tokens.verify(keep.accessToken)
            #expect(await apiCode { try await h.auth.changePassword(identity, current: "wrong one", new: "new password 1") } == "invalid_current_password")
            try await h.auth.changePassword(identity, current: "correct horse battery", new: "new password 1")
            #expect(h.revocations.sessionIDs == [other.sessionID])
            #expect(try await h.auth.isSessionActive(keep.sessionID))
            #expect(await apiCode { try await h.auth.refresh(token: other.refreshToken, client: AuthHarness.client) } == "session_expired")
            _ = try await h.auth.login(login: "alice", password: "new password 1", client: AuthHarness.client)
        }
    }

    @Test("hashes made with old parameters are upgraded at login", arguments: TestDatabases.kinds)
    func rehash(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            let tokens = await AccessTokenService(secret: String(repeating: "k", count: 40))
            let weak = AuthService(database: db, hasher: PasswordHasher(parameters: .init(cost: 1 << 9, blockSize: 8, parallelism: 1)), tokens: tokens, logger: TestDatabases.logger)
            try await weak.register(.init(email: "r@example.com", username: "rehash", password: "password one", displayName: nil), client: AuthHarness.client)
            let strong = AuthService(database: db, hasher: PasswordHasher(parameters: .testing), tokens: tokens, logger: TestDatabases.logger)
            _ = try await strong.login(login: "rehash", password: "password one", client: AuthHarness.client)
            let stored = try await db.read { sql in try await UserStore().findByUsername("rehash", on: sql) }
            #expect(stored?.passwordHash.hasPrefix("$scrypt$ln=10,r=8,p=1$") == true)
            _ = try await strong.login(login: "rehash", password: "password one", client: AuthHarness.client)
        }
    }

    @Test("a guest's access token ends with its session; the expiry sweep revokes its (expired) session", arguments: TestDatabases.kinds)
    func guestExpiryRevokes(kind: DatabaseKind) async throws {
        var settings = AuthSettings()
        settings.guestSessionLifetime = .seconds(120)
        try await AuthHarness.with(kind, settings: settings) { h in
            let started = h.clock.now
            let guest = try await h.auth.startGuest(displayName: "Visitor", client: AuthHarness.client)
            // The access TTL is 900 s; the guest's session ends after 120 s: so does the token.
            #expect(guest.accessTokenExpiresAt <= started.addingTimeInterval(120))
            h.clock.advance(60)
            let identity = try await h.auth.tokens.verify(guest.accessToken)
            let reissued = try #require(try await h.auth.reissueAccessToken(for: identity))
            #expect(reissued.expiresAt <= started.addingTimeInterval(120))
            h.clock.advance(61)
            #expect(await apiCode { _ = try await h.auth.tokens.verify(guest.accessToken) } != nil)
            // The sweep: the session ended at the guest's expiry, yet its sockets must be closed.
            #expect(try await h.auth.expiredGuests(limit: 10) == [guest.user.id])
            _ = try await h.auth.removeExpiredGuest(userID: guest.user.id)
            #expect(h.revocations.sessionIDs == [guest.sessionID])
            #expect(h.revocations.reasons == ["guest_expired"])
        }
    }
}
