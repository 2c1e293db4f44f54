import AsyncHTTPClient
import Foundation
import Logging
import Models
import SQLKit

extension UserRecord {
    /// The `password_hash` of an account created by a provider: no scrypt PHC string equals
    /// it, and ``AuthService`` refuses it without hashing, so no password logs in. A password
    /// reset replaces it (and so gives the account a password). Migration 0012 documents it.
    public static let noPasswordMarker = "!no-password"

    /// Whether a password can log in to this account.
    public var hasPassword: Bool { passwordHash != Self.noPasswordMarker }
}

/// Sign-in with a provider: the authorization code flow with PKCE (RFC 7636, S256),
/// `state` (RFC 6749 §10.12) and, for OpenID Connect, `nonce`; then a normal session
/// (``AuthService`` issues it, with the same refresh-token rotation and revocation as a
/// password login).
///
/// A flow is bound to the browser that started it: the start sets an HttpOnly cookie (a
/// random 256-bit value; only its SHA-256 is stored, with the flow) that the callback and
/// the code exchange must present (RFC 9700 §4.7.1). `state` is stored as its SHA-256 and
/// used once.
///
/// Accounts: an identity already linked signs its user in. Otherwise the first sign-in
/// creates an account, verified, only when the provider says it verified the address
/// (`email_verified`; GitHub's verified primary address); an unverified one creates nothing
/// (``OAuthFailure/providerEmailUnverified``). Otherwise whoever controls a provider account
/// could claim someone else's address: the account would carry the attacker's linked identity,
/// and once the real owner took it over with "forgot password" the attacker could still sign
/// in through that identity (a pre-hijacked account). An address that belongs to an account is
/// never linked silently (``OAuthFailure/emailInUse``); its owner logs in and links from settings.
public struct OAuthService: Sendable {
    let settings: OAuthSettings
    let database: any Database
    let auth: AuthService
    let client: ProviderClient
    let clock: AccountsClock
    let mailHooks: (any RegistrationMailHooks)?
    let logger: Logger
    let flows = OAuthFlowStore()
    let identities = IdentityStore()
    let users = UserStore()

    public init(
        settings: OAuthSettings, database: any Database, auth: AuthService, httpClient: HTTPClient = .shared,
        clock: AccountsClock = .system, mailHooks: (any RegistrationMailHooks)?, logger: Logger
    ) {
        self.settings = settings
        self.database = database
        self.auth = auth
        self.client = ProviderClient(settings: settings, httpClient: httpClient, clock: clock, logger: logger)
        self.clock = clock
        self.mailHooks = mailHooks
        self.logger = logger
    }

    public var providers: [OAuthProvider] { settings.providers }
    var now: Int64 { clock.now().millis }

    // MARK: Start

    /// Sign-in starts per client address: 60 at once, refilled at one a second (a leaky
    /// bucket, ``ThrottleStore``), so one address cannot fill `oauth_flows` with rows.
    public static let startRule = ThrottleRule(limit: 60, ratePerSecond: 1)

    public struct Started: Sendable {
        /// Where to send the browser (the provider's authorization endpoint with the request).
        public let authorizationURL: String
        /// The value of the browser-binding cookie to set (the one presented, when usable).
        public let browserBinding: String
    }

    /// Starts a flow at `providerName`: to sign in, or with `linkUserID` to link the
    /// provider account to that (logged-in) user. Throws ``ServiceError`` `not_found` for a
    /// provider that is not configured, ``OAuthFailure/providerError`` when its discovery
    /// document cannot be read, 429 `rate_limited` when `clientIP` started more than
    /// ``startRule`` allows (each start writes a row).
    public func start(
        providerName: String, browserBinding presented: String?, linkUserID: Int64? = nil, clientIP: String? = nil
    ) async throws -> Started {
        guard let provider = settings.provider(named: providerName) else { throw ServiceError.notFound }
        if let clientIP {
            let now = self.now
            if let wait = try await database.write({ db in
                try await ThrottleStore().hit(key: "oauth-start:ip:\(clientIP)", rule: Self.startRule, now: now, on: db)
            }) {
                throw ServiceError.tooManyRequests(.tooManyRequests, retryAfter: wait)
            }
        }
        let binding = presented.flatMap { Self.isWellFormedToken($0) ? $0 : nil } ?? OpaqueToken.generate()
        let state = OpaqueToken.generate(), verifier = PKCE.makeVerifier(), nonce = OpaqueToken.generate(bits: 128)
        let url = try await client.authorizationURL(provider, state: state, codeVerifier: verifier, nonce: nonce)
        let now = self.now
        let expiresAt = now + settings.flowLifetime.millis
        try await database.write { db in
            try await flows.prune(now: now, on: db)
            try await flows.insertFlow(
                stateHash: OpaqueToken.hash(state), browserHash: OpaqueToken.hash(binding), provider: provider.name,
                codeVerifier: verifier, nonce: nonce, linkUserID: linkUserID, now: now, expiresAt: expiresAt, on: db
            )
        }
        return Started(authorizationURL: url, browserBinding: binding)
    }

    // MARK: Callback

    public enum Outcome: Sendable, Equatable {
        /// Signed in: the web app exchanges this one-time code (with the same browser's
        /// cookie) for a session.
        case signedIn(handoffCode: String)
        /// The provider account is now linked to the user who started the flow.
        case linked
    }

    /// What the provider sent back to the redirect URI (RFC 6749 §4.1.2 and §4.1.2.1).
    public struct CallbackParameters: Sendable {
        public var code: String?
        public var state: String?
        public var error: String?
        public init(code: String?, state: String?, error: String?) {
            self.code = code
            self.state = state
            self.error = error
        }
    }

    /// Finishes a flow. Throws ``OAuthFailure`` for everything a person can cause (and
    /// database errors as they are).
    ///
    /// Any callback naming a `state` from the browser that started the flow uses that flow up,
    /// whatever else is wrong with it; one from another browser uses nothing. An
    /// error answer without `state` (some providers drop it from `access_denied`, against
    /// RFC 6749 §4.1.2.1) is reported as that error: it can sign nobody in.
    public func callback(providerName: String, _ parameters: CallbackParameters, browserBinding: String?) async throws -> Outcome {
        guard let state = parameters.state, !state.isEmpty, state.utf8.count <= 512 else {
            if let error = parameters.error {
                throw error == "access_denied" ? OAuthFailure.accessDenied : OAuthFailure.provider("authorization error \(error.prefix(64)) without state")
            }
            throw OAuthFailure.state("no state")
        }
        let now = self.now
        // The binding is checked in the same statement that uses the flow up, so a callback
        // from another browser leaves the real one's flow usable (it cannot burn it).
        guard let browserBinding else { throw OAuthFailure.state("no browser-binding cookie") }
        guard let flow = try await database.write({ db in
            try await flows.consumeFlow(stateHash: OpaqueToken.hash(state), browserHash: OpaqueToken.hash(browserBinding), now: now, on: db)
        }) else {
            throw OAuthFailure.state("unknown, used or expired state, or one started in another browser")
        }
        guard flow.provider == providerName, let provider = settings.provider(named: providerName) else {
            throw OAuthFailure.state("state of another provider")
        }
        if let error = parameters.error {
            throw error == "access_denied" ? OAuthFailure.accessDenied : OAuthFailure.provider("authorization error \(error.prefix(64))")
        }
        guard let code = parameters.code, !code.isEmpty, code.utf8.count <= 2048 else { throw OAuthFailure.provider("no code") }
        let identity = try await client.identity(provider, code: code, codeVerifier: flow.codeVerifier, nonce: flow.nonce)
        if let linkUserID = flow.linkUserId {
            try await link(identity, provider: provider, to: linkUserID)
            logger.info("sign-in identity linked", metadata: ["user.id": "\(linkUserID)", "oauth.provider": "\(provider.name)"])
            return .linked
        }
        let user = try await userSigningIn(identity, provider: provider)
        let handoff = OpaqueToken.generate()
        let later = self.now
        try await database.write { db in
            try await flows.insertHandoff(
                codeHash: OpaqueToken.hash(handoff), browserHash: flow.browserHash, userID: user.id, now: later,
                expiresAt: later + settings.handoffLifetime.millis, on: db
            )
        }
        return .signedIn(handoffCode: handoff)
    }

    private func link(_ identity: ProviderIdentity, provider: OAuthProvider, to userID: Int64) async throws {
        let now = self.now
        try await database.write { db in
            if let existing = try await identities.find(provider: provider.name, subject: identity.subject, on: db) {
                guard existing.userId == userID else { throw OAuthFailure.identityInUse }
                return
            }
            guard try await identities.insert(
                provider: provider.name, subject: identity.subject, userID: userID, email: identity.email, now: now, on: db
            ) != nil else { throw OAuthFailure.identityInUse }
        }
    }

    /// The user an identity signs in: the linked one, or a new account.
    func userSigningIn(_ identity: ProviderIdentity, provider: OAuthProvider) async throws -> UserRecord {
        let now = self.now
        if let linked = try await database.read({ db -> UserRecord? in
            guard let found = try await identities.find(provider: provider.name, subject: identity.subject, on: db) else { return nil }
            return try await users.find(id: found.userId, on: db)
        }) {
            guard linked.disabledAt == nil else { throw OAuthFailure.accountDisabled }
            return linked
        }
        guard let raw = identity.email, case .success(let email) = AccountValidation.email(raw) else { throw OAuthFailure.emailMissing }
        // Only an address the provider verified creates an account (see the type's docs).
        guard identity.emailVerified else { throw OAuthFailure.providerEmailUnverified }
        let displayName: String
        if let name = identity.name, case .success(let valid) = AccountValidation.displayName(name) { displayName = valid } else { displayName = "" }
        let user = try await database.write { db -> UserRecord in
            if try await users.findByEmail(email, on: db) != nil { throw OAuthFailure.emailInUse }
            let base = Self.usernameBase(preferred: identity.preferredUsername, email: email)
            for attempt in 0..<8 {
                let username = attempt == 0 ? base : "\(base.prefix(26))_\(Int.random(in: 1000...99999))"
                switch try await users.insert(
                    email: email, username: username, displayName: displayName.isEmpty ? username : displayName,
                    passwordHash: UserRecord.noPasswordMarker, now: now, on: db
                ) {
                case .created(var user):
                    try await users.markEmailVerified(id: user.id, now: now, on: db)
                    user.emailVerifiedAt = now
                    guard try await identities.insert(
                        provider: provider.name, subject: identity.subject, userID: user.id, email: identity.email, now: now, on: db
                    ) != nil else { throw OAuthFailure.identityInUse }
                    return user
                case .emailTaken: throw OAuthFailure.emailInUse
                case .usernameTaken: continue
                }
            }
            throw OAuthFailure.provider("no free username")
        }
        logger.info("account created by sign-in", metadata: ["user.id": "\(user.id)", "oauth.provider": "\(provider.name)"])
        return user
    }

    /// A username from the provider's (`preferred_username`, GitHub's `login`) or the
    /// address's local part: lowercased, characters outside `[a-z0-9_.-]` as `_`, 3-32
    /// characters (``AccountValidation/username(_:)``); "user" when nothing usable is left.
    public static func usernameBase(preferred: String?, email: String) -> String {
        func clean(_ raw: String) -> String {
            var out = ""
            for scalar in raw.lowercased().unicodeScalars {
                let ok = ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || "_.-".unicodeScalars.contains(scalar)
                let next: Character = ok ? Character(scalar) : "_"
                if next == "_" && out.last == "_" { continue }
                out.append(next)
            }
            return String(out.trimmingCharacters(in: CharacterSet(charactersIn: "_.-")).prefix(32))
        }
        let local = String(email.split(separator: "@", omittingEmptySubsequences: false).first ?? "")
        for candidate in [preferred, local].compactMap({ $0 }) {
            var value = clean(candidate)
            // The prefixes of guests' and deleted accounts' usernames are never given to an account.
            for reserved in [GuestStore.usernamePrefix, AccountDeletion.usernamePrefix] where value.hasPrefix(reserved) {
                value = "u" + value
            }
            if value.count >= 3 { return value }
            if !value.isEmpty { return value + "_user" }
        }
        return "user"
    }

    // MARK: Exchange

    /// Exchanges a sign-in's one-time code for a session. The code must come with the
    /// browser-binding cookie of the flow. Throws `oauth_code_invalid` (unknown, used,
    /// expired, or another browser's code) or `session_expired` (the account was disabled
    /// meanwhile).
    public func exchange(code: String, browserBinding: String?, client: ClientInfo) async throws -> IssuedTokens {
        let now = self.now
        // Binding checked in the statement that uses the code: another browser cannot burn it.
        guard let browserBinding, let handoff = try await database.write({ db in
            try await flows.consumeHandoff(codeHash: OpaqueToken.hash(code), browserHash: OpaqueToken.hash(browserBinding), now: now, on: db)
        }) else {
            throw ServiceError(.oauthCodeInvalid, message: "This sign-in link is not valid any more; sign in again.")
        }
        guard let user = try await auth.user(id: handoff.userId), user.disabledAt == nil else {
            throw ServiceError(.oauthCodeInvalid, message: "This sign-in link is not valid any more; sign in again.")
        }
        return try await auth.startSession(for: user, client: client)
    }

    // MARK: Identities

    /// The user's linked identities, and whether a password can log in.
    public func identities(userID: Int64) async throws -> (identities: [IdentityRecord], hasPassword: Bool) {
        try await database.read { db in
            guard let user = try await users.find(id: userID, on: db) else { throw ServiceError.unauthorized }
            return (try await identities.list(userID: userID, on: db), user.hasPassword)
        }
    }

    /// Unlinks one of the user's identities while another way in remains (a password or
    /// another identity). Throws `not_found` (not theirs) or `last_sign_in_method`.
    public func unlink(userID: Int64, identityID: Int64) async throws {
        try await database.write { db in
            // Serializes a user's unlinks on PostgreSQL (SQLite has one writer), so two at
            // once cannot both see the other's identity as the one that remains.
            if db.dialect.name == "postgresql" {
                try await db.raw("SELECT id FROM users WHERE id = \(bind: userID) FOR UPDATE").run()
            }
            guard let user = try await users.find(id: userID, on: db) else { throw ServiceError.unauthorized }
            let linked = try await identities.list(userID: userID, on: db)
            guard linked.contains(where: { $0.id == identityID }) else { throw ServiceError.notFound }
            guard user.hasPassword || linked.count > 1 else {
                throw ServiceError(
                    .lastSignInMethod, message: "This is your only way to sign in. Set a password (Forgot your password?) or link another provider first."
                )
            }
            try await identities.delete(id: identityID, userID: userID, on: db)
        }
        logger.info("sign-in identity unlinked", metadata: ["user.id": "\(userID)"])
    }

    /// Whether `value` looks like one of our tokens (base64url, 16-128 characters), so a
    /// cookie of another shape is replaced rather than stored.
    static func isWellFormedToken(_ value: String) -> Bool {
        (16...128).contains(value.utf8.count)
            && value.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }
}
