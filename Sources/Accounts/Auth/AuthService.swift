import Foundation
import Logging
import Models
import SQLKit

/// Settings of the auth flows; defaults follow the issue's numbers.
public struct AuthSettings: Sendable {
    public var sessionIdleTimeout: Duration = .seconds(7 * 86_400)
    public var sessionAbsoluteLifetime: Duration = .seconds(30 * 86_400)
    /// Failed logins per account identifier: 5 free, then one more every minute.
    public var accountRule = ThrottleRule(limit: 5, ratePerSecond: 1.0 / 60)
    /// Failed logins per client IP: 30 free, then one more every 10 s.
    public var ipRule = ThrottleRule(limit: 30, ratePerSecond: 0.1)
    /// Registrations per client IP: 10 free, then one every 6 minutes.
    public var registerRule = ThrottleRule(limit: 10, ratePerSecond: 1.0 / 360)
    /// A guest's one session ends this long after it starts (`GUEST_SESSION_LIFETIME`); the
    /// guest is swept after that (``GuestStore``).
    public var guestSessionLifetime: Duration = .seconds(4 * 3600)
    /// Guest sessions per client IP: a burst of 10, then one every 6 minutes (`GUESTS_PER_IP_PER_HOUR`).
    public var guestRule = ThrottleRule(limit: 10, ratePerSecond: 1.0 / 360)

    public init() {}
}

/// Where a request came from, for sessions and throttling.
public struct ClientInfo: Sendable {
    public var ip: String?
    public var userAgent: String?
    public init(ip: String?, userAgent: String?) {
        self.ip = ip
        self.userAgent = userAgent.map { String($0.prefix(256)) }
    }
}

/// What a successful login or refresh hands back.
public struct IssuedTokens: Sendable {
    public let accessToken: String
    public let accessTokenExpiresAt: Date
    public let refreshToken: String
    public let refreshTokenExpiresAt: Date
    public let user: UserRecord
    public let sessionID: String
}

/// Registration, login, sessions and credentials: the logic behind the auth routes.
public struct AuthService: Sendable {
    let database: any Database
    let hasher: PasswordHasher
    public let tokens: AccessTokenService
    let clock: AccountsClock
    let settings: AuthSettings
    let users = UserStore()
    let sessions = SessionStore()
    let throttle = ThrottleStore()
    let mailHooks: (any RegistrationMailHooks)?
    let revocations: (any SessionRevocationObserver)?
    let logger: Logger

    public init(
        database: any Database, hasher: PasswordHasher, tokens: AccessTokenService, clock: AccountsClock = .system,
        settings: AuthSettings = .init(), mailHooks: (any RegistrationMailHooks)? = nil,
        revocations: (any SessionRevocationObserver)? = nil, logger: Logger
    ) {
        self.database = database
        self.hasher = hasher
        self.tokens = tokens
        self.clock = clock
        self.settings = settings
        self.mailHooks = mailHooks
        self.revocations = revocations
        self.logger = logger
    }

    var now: Int64 { clock.now().millis }

    // MARK: Registration

    public struct Registration: Sendable {
        public var email: String
        public var username: String
        public var password: String
        public var displayName: String?
        public init(email: String, username: String, password: String, displayName: String?) {
            self.email = email
            self.username = username
            self.password = password
            self.displayName = displayName
        }
    }

    /// Creates the account. An address that already has an account gets the same
    /// outcome (and the same hashing work); its owner is mailed a notice instead.
    public func register(_ input: Registration, client: ClientInfo) async throws {
        var validator = FieldValidator()
        let email = validator.check("email", AccountValidation.email(input.email))
        let username = validator.check("username", AccountValidation.username(input.username))
        let password = validator.check("password", AccountValidation.password(input.password))
        let displayName = validator.check("displayName", AccountValidation.displayName(input.displayName ?? input.username))
        if let username, username.lowercased().hasPrefix(AccountDeletion.usernamePrefix) {
            validator.check("username", Result<String, FieldProblem>.failure(FieldProblem(stringLiteral: "must not start with \"\(AccountDeletion.usernamePrefix)\" (kept for deleted accounts)")))
        }
        if let username, username.hasPrefix(GuestStore.usernamePrefix) {
            validator.check("username", Result<String, FieldProblem>.failure(FieldProblem(stringLiteral: "must not start with \"\(GuestStore.usernamePrefix)\" (kept for guests)")))
        }
        try validator.throwIfInvalid()
        guard let email, let username, let password, let displayName else { return }

        if let ip = client.ip {
            let now = self.now
            if let wait = try await database.write({ db in try await throttle.hit(key: "register:ip:\(ip)", rule: settings.registerRule, now: now, on: db) }) {
                throw ServiceError.tooManyRequests(.tooManyRequests, retryAfter: wait)
            }
        }
        let hash = try await hashPassword(password)
        let now = self.now
        let mailHooks = self.mailHooks
        let outcome = try await database.write { db in
            let outcome = try await users.insert(email: email, username: username, displayName: displayName, passwordHash: hash, now: now, on: db)
            switch outcome {
            case .created(let user): try await mailHooks?.accountCreated(user, on: db)
            case .emailTaken:
                if let existing = try await users.findByEmail(email, on: db) {
                    try await mailHooks?.registrationAttempted(on: existing, on: db)
                }
            case .usernameTaken: break
            }
            return outcome
        }
        switch outcome {
        case .created(let user):
            logger.info("account registered", metadata: ["user.id": "\(user.id)"])
        case .emailTaken:
            logger.info("registration for an existing address; owner notified")
        case .usernameTaken:
            throw ServiceError(.usernameTaken, message: "That username is taken.", fields: ["username": "is taken"])
        }
    }

    // MARK: Login

    public func login(login rawLogin: String, password: String, client: ClientInfo) async throws -> IssuedTokens {
        let login = normalizedLogin(rawLogin)
        var problems: [String: String] = [:]
        if login.isEmpty || login.utf8.count > 254 { problems["login"] = "is required (an email or username)" }
        if password.isEmpty || password.utf8.count > 1024 { problems["password"] = "is required" }
        if !problems.isEmpty { throw ServiceError.validation(problems) }
        let accountKey = "login:acct:\(login)"
        let ipKey = client.ip.map { "login:ip:\($0)" }
        let start = self.now
        let settings = self.settings
        let blocked = try await database.read { db -> Int? in
            let account = try await throttle.blockedFor(key: accountKey, rule: settings.accountRule, now: start, on: db)
            let ip = try await ipKey.asyncFlatMap { try await throttle.blockedFor(key: $0, rule: settings.ipRule, now: start, on: db) }
            return [account, ip].compactMap { $0 }.max()
        }
        if let blocked { throw ServiceError.tooManyRequests(retryAfter: blocked) }

        let user = try await database.read { db in
            login.contains("@") ? try await users.findByEmail(login, on: db) : try await users.findByUsername(login, on: db)
        }
        var verified = false
        var needsRehash = false
        // A guest has no password (its hash never verifies); it is refused like an unknown login.
        if let user, user.disabledAt == nil, !user.isGuest {
            let result = try await verifyPassword(password, against: user.passwordHash)
            verified = result.matches
            needsRehash = result.needsRehash
        } else {
            try await burnHash(password)
        }
        guard verified, let user else {
            let now = self.now
            _ = try await database.write { db in
                try await throttle.hit(key: accountKey, rule: settings.accountRule, now: now, on: db)
                if let ipKey { try await throttle.hit(key: ipKey, rule: settings.ipRule, now: now, on: db) }
            }
            throw ServiceError(.invalidCredentials, message: "The login or password is incorrect.")
        }
        if needsRehash {
            let newHash = try await hashPassword(password)
            let now = self.now
            try await database.write { db in try await users.updatePasswordHash(id: user.id, hash: newHash, now: now, on: db) }
            logger.info("password rehashed with current parameters", metadata: ["user.id": "\(user.id)"])
        }
        try await database.write { db in try await throttle.reset(key: accountKey, on: db) }
        return try await startSession(for: user, client: client)
    }

    /// Starts a session; it ends at the latest `lifetime` from now (default: the absolute lifetime).
    func startSession(for user: UserRecord, client: ClientInfo, lifetime: Duration? = nil) async throws -> IssuedTokens {
        let sessionID = OpaqueToken.generate(bits: 128)
        let refresh = OpaqueToken.generate()
        let now = self.now
        let expiresAt = now + (lifetime ?? settings.sessionAbsoluteLifetime).millis
        try await database.write { db in
            try await sessions.create(
                id: sessionID, userID: user.id, refreshTokenHash: OpaqueToken.hash(refresh), now: now,
                expiresAt: expiresAt, userAgent: client.userAgent, ip: client.ip, on: db
            )
        }
        let access = try await tokens.issue(userID: user.id, sessionID: sessionID, notAfter: Date(millis: expiresAt))
        logger.info("session started", metadata: ["user.id": "\(user.id)"])
        return IssuedTokens(
            accessToken: access.token, accessTokenExpiresAt: access.expiresAt, refreshToken: refresh,
            refreshTokenExpiresAt: Date(millis: min(expiresAt, now + settings.sessionIdleTimeout.millis)),
            user: user, sessionID: sessionID
        )
    }

    // MARK: Refresh

    /// Rotates a refresh token. A token that was already rotated revokes its whole
    /// session (RFC 9700 §4.14.2 reuse detection).
    public func refresh(token: String, client: ClientInfo) async throws -> IssuedTokens {
        let hash = OpaqueToken.hash(token)
        let now = self.now
        let settings = self.settings
        enum Outcome: Sendable { case rotated(String, Int64, Int64), reused(String, Int64), expired(Int64), unknown }
        let newRefresh = OpaqueToken.generate()
        let outcome: Outcome = try await database.write { db in
            guard let found = try await sessions.lookupRefreshToken(hash: hash, on: db) else { return .unknown }
            if found.revokedAt != nil || found.expiresAt <= now || found.lastUsedAt + settings.sessionIdleTimeout.millis <= now {
                return .expired(found.userId)
            }
            guard found.rotatedAt == nil, try await sessions.markRotated(hash: hash, now: now, on: db) else {
                try await sessions.revoke(id: found.sessionId, reason: "refresh_token_reuse", now: now, on: db)
                return .reused(found.sessionId, found.userId)
            }
            try await sessions.insertRefreshToken(hash: OpaqueToken.hash(newRefresh), sessionID: found.sessionId, now: now, on: db)
            try await sessions.touch(id: found.sessionId, now: now, on: db)
            return .rotated(found.sessionId, found.userId, found.expiresAt)
        }
        switch outcome {
        case .unknown:
            throw ServiceError(.invalidRefreshToken, message: "The refresh token is not valid.")
        case .expired(let userID):
            // A deleted account's sessions were revoked: it answers as any revoked session does,
            // never `account_disabled` (which would tell that the account existed and is gone).
            if let user = try await database.read({ db in try await users.find(id: userID, on: db) }), user.disabledAt != nil, user.deletedAt == nil {
                throw ServiceError(.accountDisabled, message: "This account has been disabled by an administrator.")
            }
            throw ServiceError(.sessionExpired, message: "The session has ended; log in again.")
        case .reused(let sessionID, let userID):
            logger.warning("refresh token reuse detected; session revoked", metadata: ["user.id": "\(userID)"])
            await notifyRevoked(userID: userID, sessionIDs: [sessionID], reason: "refresh_token_reuse")
            throw ServiceError(.refreshTokenReused, message: "This refresh token was already used; the session has been ended.")
        case .rotated(let sessionID, let userID, let absoluteExpiry):
            guard let user = try await database.read({ db in try await users.find(id: userID, on: db) }), user.deletedAt == nil else {
                throw ServiceError(.sessionExpired, message: "The session has ended; log in again.")
            }
            guard user.disabledAt == nil else {
                throw ServiceError(.accountDisabled, message: "This account has been disabled by an administrator.")
            }
            let access = try await tokens.issue(userID: userID, sessionID: sessionID, notAfter: Date(millis: absoluteExpiry))
            return IssuedTokens(
                accessToken: access.token, accessTokenExpiresAt: access.expiresAt, refreshToken: newRefresh,
                refreshTokenExpiresAt: Date(millis: min(absoluteExpiry, now + settings.sessionIdleTimeout.millis)),
                user: user, sessionID: sessionID
            )
        }
    }

    // MARK: Sessions

    /// Whether the session behind an access token is still live (not revoked, not expired).
    public func isSessionActive(_ sessionID: String) async throws -> Bool {
        let now = self.now
        let idle = settings.sessionIdleTimeout.millis
        guard let session = try await database.read({ db in try await sessions.find(id: sessionID, on: db) }) else { return false }
        return session.revokedAt == nil && session.expiresAt > now && session.lastUsedAt + idle > now
    }

    /// A fresh access token for a live session (the relay's refresh-on-event).
    public func reissueAccessToken(for identity: AccessIdentity) async throws -> (token: String, expiresAt: Date)? {
        let now = self.now
        let idle = settings.sessionIdleTimeout.millis
        guard let session = try await database.read({ db in try await sessions.find(id: identity.sessionID, on: db) }),
              session.revokedAt == nil, session.expiresAt > now, session.lastUsedAt + idle > now else { return nil }
        try await database.write { db in try await sessions.touch(id: identity.sessionID, now: now, on: db) }
        return try await tokens.issue(userID: identity.userID, sessionID: identity.sessionID, notAfter: Date(millis: session.expiresAt))
    }

    public func logout(_ identity: AccessIdentity) async throws {
        try await revoke(userID: identity.userID, sessionID: identity.sessionID, reason: "logout")
    }

    public func logoutAll(_ identity: AccessIdentity) async throws {
        let now = self.now
        let ids = try await database.write { db in
            try await sessions.revokeAll(userID: identity.userID, except: nil, reason: "logout_all", now: now, on: db)
        }
        await notifyRevoked(userID: identity.userID, sessionIDs: ids, reason: "logout_all")
    }

    public func activeSessions(userID: Int64) async throws -> [SessionRecord] {
        let now = self.now
        let idle = settings.sessionIdleTimeout.millis
        return try await database.read { db in try await sessions.active(userID: userID, now: now, idleTimeout: idle, on: db) }
    }

    /// Revokes one of the user's sessions; false when it is not theirs or already ended.
    @discardableResult
    public func revoke(userID: Int64, sessionID: String, reason: String) async throws -> Bool {
        let now = self.now
        let revoked = try await database.write { db -> Bool in
            guard let session = try await sessions.find(id: sessionID, on: db), session.userId == userID else { return false }
            return try await sessions.revoke(id: sessionID, reason: reason, now: now, on: db)
        }
        if revoked { await notifyRevoked(userID: userID, sessionIDs: [sessionID], reason: reason) }
        return revoked
    }

    /// Revokes every session of a user but `keeping` (password change/reset).
    public func revokeAll(userID: Int64, keeping: String?, reason: String, on db: any SQLDatabase) async throws -> [String] {
        try await sessions.revokeAll(userID: userID, except: keeping, reason: reason, now: now, on: db)
    }

    /// Makes committed revocations take effect: every access token of these sessions fails
    /// from now on on this node (``SessionLiveness``), and their sockets are closed.
    /// Every revocation path calls this after its transaction commits.
    public func notifyRevoked(userID: Int64, sessionIDs: [String], reason: String) async {
        guard !sessionIDs.isEmpty else { return }
        await tokens.sessionLiveness?.ended(sessionIDs)
        await revocations?.sessionsRevoked(userID: userID, sessionIDs: sessionIDs, reason: reason)
    }

    // MARK: Profile and password

    public func user(id: Int64) async throws -> UserRecord? {
        try await database.read { db in try await users.find(id: id, on: db) }
    }

    public func updateDisplayName(userID: Int64, displayName raw: String) async throws -> UserRecord {
        var validator = FieldValidator()
        let displayName = validator.check("displayName", AccountValidation.displayName(raw))
        try validator.throwIfInvalid()
        let now = self.now
        return try await database.write { db in
            try await users.updateDisplayName(id: userID, displayName: displayName!, now: now, on: db)
            guard let user = try await users.find(id: userID, on: db) else { throw ServiceError.notFound }
            return user
        }
    }

    /// Changes the password after checking the current one; revokes every other session.
    public func changePassword(_ identity: AccessIdentity, current: String, new: String) async throws {
        var validator = FieldValidator()
        let newPassword = validator.check("newPassword", AccountValidation.password(new))
        try validator.throwIfInvalid()
        guard let user = try await user(id: identity.userID) else { throw ServiceError.unauthorized }
        guard !user.isGuest else { throw ServiceError(.guestNotAllowed, message: "Guests have no password.") }
        guard try await verifyPassword(current, against: user.passwordHash).matches else {
            throw ServiceError(.invalidCurrentPassword, message: "The current password is incorrect.", fields: ["currentPassword": "is incorrect"])
        }
        let hash = try await hashPassword(newPassword!)
        let now = self.now
        let revoked = try await database.write { db in
            try await users.updatePasswordHash(id: user.id, hash: hash, now: now, on: db)
            return try await sessions.revokeAll(userID: user.id, except: identity.sessionID, reason: "password_changed", now: now, on: db)
        }
        await notifyRevoked(userID: user.id, sessionIDs: revoked, reason: "password_changed")
    }

    // MARK: Hashing with load shedding

    public func hashPassword(_ password: String) async throws -> String {
        do { return try await hasher.hash(password) } catch PasswordHasher.PasswordHasherError.overloaded { throw Self.busy }
    }

    func verifyPassword(_ password: String, against hash: String) async throws -> PasswordHasher.Verification {
        // An account made by a sign-in provider has no password (UserRecord.noPasswordMarker):
        // it never matches, after the same work as a wrong password.
        if hash == UserRecord.noPasswordMarker {
            try await burnHash(password)
            return PasswordHasher.Verification(matches: false, needsRehash: false)
        }
        do { return try await hasher.verify(password, against: hash) } catch PasswordHasher.PasswordHasherError.overloaded { throw Self.busy }
    }

    func burnHash(_ password: String) async throws {
        do { try await hasher.burnVerification(password) } catch PasswordHasher.PasswordHasherError.overloaded { throw Self.busy }
    }

    static let busy = ServiceError.serverBusy

    func normalizedLogin(_ raw: String) -> String {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        // An address in any letter case is one login (and one throttle bucket).
        if trimmed.contains("@"), case .success(let email) = AccountValidation.email(trimmed) { return AccountValidation.emailKey(email) }
        return trimmed.lowercased()
    }
}

extension Optional {
    /// `flatMap` whose transform may suspend.
    public func asyncFlatMap<U>(_ transform: (Wrapped) async throws -> U?) async rethrows -> U? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
