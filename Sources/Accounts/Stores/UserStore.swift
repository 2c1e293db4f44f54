import Foundation
import SQLKit

/// A user row as stored. `passwordHash` never leaves the Accounts module's services.
public struct UserRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var email: String
    public var username: String
    public var displayName: String
    public var passwordHash: String
    public var emailVerifiedAt: Int64?
    public var disabledAt: Int64?
    public var createdAt: Int64
    public var updatedAt: Int64
    /// A guest's expiry (ms since the epoch); nil for an account (migration 0011).
    public var guestExpiresAt: Int64?
    /// `user` or `admin` (migration 0011).
    public var serverRole: String
    /// When its owner deleted the account (migration 0013; ``AccountDeletion``): the row stays
    /// as its messages' author, with nothing left that identifies the person.
    public var deletedAt: Int64? = nil

    public var isEmailVerified: Bool { emailVerifiedAt != nil }
    /// A guest (`POST /api/auth/guest`): no email, no password, one short session.
    public var isGuest: Bool { guestExpiresAt != nil }
    /// A server administrator (`/api/admin/...`), above every room role.
    public var isAdmin: Bool { serverRole == ServerRole.admin.rawValue }
}

/// A user's server-wide role (`users.server_role`).
public enum ServerRole: String, Codable, Sendable {
    case user, admin
}

/// Users table access. Every method takes the connection or transaction to run on,
/// so a service can group several stores' writes in one transaction.
///
/// Every write of `display_name` also writes `display_name_key` (migration 0015,
/// ``AccountValidation/nameKey(_:)``), which user search matches; so do ``GuestStore`` and
/// ``AccountDeletion``, the other writers of the column.
public struct UserStore: Sendable {
    public init() {}

    static let columns = "id, email, username, display_name, password_hash, email_verified_at, disabled_at, created_at, updated_at, guest_expires_at, server_role, deleted_at"

    public enum InsertOutcome: Sendable, Equatable {
        case created(UserRecord)
        case emailTaken
        case usernameTaken
    }

    /// Inserts a user unless the username or the email (in any letter case) is taken.
    ///
    /// Race-free on both dialects: the insert itself yields to a concurrent one
    /// (`ON CONFLICT DO NOTHING` on the unique indexes; on PostgreSQL it waits for the other
    /// transaction and then inserts nothing), and only then does it look for the owner of
    /// the name or address, so two simultaneous registrations never end in a constraint error.
    public func insert(email: String, username: String, displayName: String, passwordHash: String, now: Int64, on db: any SQLDatabase) async throws -> InsertOutcome {
        if try await findByUsername(username, on: db) != nil { return .usernameTaken }
        if try await findByEmail(email, on: db) != nil { return .emailTaken }
        let row = try await db.raw(
            """
            INSERT INTO users (email, email_key, username, display_name, display_name_key, password_hash, created_at, updated_at)
            VALUES (\(bind: email), \(bind: AccountValidation.emailKey(email)), \(bind: username), \(bind: displayName),
                    \(bind: AccountValidation.nameKey(displayName)), \(bind: passwordHash), \(bind: now), \(bind: now))
            ON CONFLICT DO NOTHING
            RETURNING \(unsafeRaw: Self.columns)
            """
        ).first(decoding: UserRecord.self, keyDecodingStrategy: .snakeCaseColumns)
        if let row { return .created(row) }
        // a concurrent registration committed the same username or address first
        if try await findByUsername(username, on: db) != nil { return .usernameTaken }
        if try await findByEmail(email, on: db) != nil { return .emailTaken }
        throw StoreError.noRowReturned
    }

    public func find(id: Int64, on db: any SQLDatabase) async throws -> UserRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM users WHERE id = \(bind: id)")
            .first(decoding: UserRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// The account of an address in any letter case (``AccountValidation/emailKey(_:)``).
    public func findByEmail(_ email: String, on db: any SQLDatabase) async throws -> UserRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM users WHERE email_key = \(bind: AccountValidation.emailKey(email))")
            .first(decoding: UserRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    public func findByUsername(_ username: String, on db: any SQLDatabase) async throws -> UserRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM users WHERE username = \(bind: username)")
            .first(decoding: UserRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    public func updatePasswordHash(id: Int64, hash: String, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE users SET password_hash = \(bind: hash), updated_at = \(bind: now) WHERE id = \(bind: id)").run()
    }

    /// Sets the display name and its search key (``AccountValidation/nameKey(_:)``) together.
    public func updateDisplayName(id: Int64, displayName: String, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            UPDATE users SET display_name = \(bind: displayName), display_name_key = \(bind: AccountValidation.nameKey(displayName)),
                updated_at = \(bind: now) WHERE id = \(bind: id)
            """
        ).run()
    }

    /// Stores when the user was last connected (`last_seen_at`, ms since the epoch).
    public func recordLastSeen(id: Int64, at millis: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE users SET last_seen_at = \(bind: millis) WHERE id = \(bind: id)").run()
    }

    public func markEmailVerified(id: Int64, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, \(bind: now)), updated_at = \(bind: now) WHERE id = \(bind: id)"
        ).run()
    }
}

public enum StoreError: Error {
    case noRowReturned
}
