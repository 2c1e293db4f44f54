import Models

/// What the chat code asks before actions that need a verified address (creating a
/// room, posting): 403 `email_unverified` when `REQUIRE_VERIFIED_EMAIL` is on and the
/// user has not verified theirs.
public struct EmailVerificationGate: Sendable {
    /// Whether verification is required at all (`REQUIRE_VERIFIED_EMAIL`).
    public let isRequired: Bool
    let database: any Database
    let users = UserStore()

    public init(database: any Database, isRequired: Bool) {
        self.database = database
        self.isRequired = isRequired
    }

    /// Throws ``ServiceError/emailUnverified`` when the user must verify first;
    /// ``ServiceError/unauthorized`` when the user does not exist.
    public func requireVerified(userID: Int64) async throws {
        guard isRequired else { return }
        guard let user = try await database.read({ db in try await users.find(id: userID, on: db) }) else { throw ServiceError.unauthorized }
        try check(user)
    }

    /// The same check for a user already loaded.
    public func check(_ user: UserRecord) throws {
        try check(emailVerifiedAt: user.emailVerifiedAt)
    }

    /// The same check from the user's `email_verified_at` (ms; nil: not verified), for a caller
    /// that read it in its own query (sending a message reads it with the membership, in one round trip).
    public func check(emailVerifiedAt: Int64?) throws {
        if isRequired && emailVerifiedAt == nil { throw ServiceError.emailUnverified }
    }

    /// Whether the user may act (no throw).
    public func allows(_ user: UserRecord) -> Bool {
        !isRequired || user.isEmailVerified
    }
}
