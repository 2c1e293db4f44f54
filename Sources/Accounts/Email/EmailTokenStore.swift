import Foundation
import SQLKit

/// What a one-time email token is for.
public enum EmailTokenPurpose: String, Sendable, Codable {
    case verifyEmail = "verify_email"
    case resetPassword = "reset_password"
}

/// An `email_tokens` row. The token itself is never stored, only its SHA-256.
public struct EmailTokenRecord: Codable, Sendable, Equatable {
    public var id: String
    public var userId: Int64
    public var purpose: String
    public var tokenHash: String
    public var email: String
    public var createdAt: Int64
    public var expiresAt: Int64
    public var consumedAt: Int64?
    public var supersededAt: Int64?
}

/// Verification and password-reset tokens.
public struct EmailTokenStore: Sendable {
    public init() {}

    static let columns = "id, user_id, purpose, token_hash, email, created_at, expires_at, consumed_at, superseded_at"

    /// Stores a new token, superseding the user's older live tokens of the same purpose.
    public func issue(
        userID: Int64, email: String, purpose: EmailTokenPurpose, tokenHash: String, now: Int64, expiresAt: Int64,
        on db: any SQLDatabase
    ) async throws {
        try await supersede(userID: userID, purpose: purpose, now: now, on: db)
        try await db.raw(
            """
            INSERT INTO email_tokens (id, user_id, purpose, token_hash, email, created_at, expires_at)
            VALUES (\(bind: UUID().uuidString.lowercased()), \(bind: userID), \(bind: purpose.rawValue), \(bind: tokenHash),
                    \(bind: email), \(bind: now), \(bind: expiresAt))
            """
        ).run()
    }

    public func find(hash: String, on db: any SQLDatabase) async throws -> EmailTokenRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM email_tokens WHERE token_hash = \(bind: hash)")
            .first(decoding: EmailTokenRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// Marks a live token used; false when it was already used, superseded or expired
    /// (the conditional UPDATE makes single use hold under concurrent requests).
    public func consume(id: String, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        let rows = try await db.raw(
            """
            UPDATE email_tokens SET consumed_at = \(bind: now)
            WHERE id = \(bind: id) AND consumed_at IS NULL AND superseded_at IS NULL AND expires_at > \(bind: now)
            RETURNING id
            """
        ).all()
        return rows.count == 1
    }

    /// Supersedes every live token of a user for a purpose.
    public func supersede(userID: Int64, purpose: EmailTokenPurpose, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            UPDATE email_tokens SET superseded_at = \(bind: now)
            WHERE user_id = \(bind: userID) AND purpose = \(bind: purpose.rawValue) AND consumed_at IS NULL AND superseded_at IS NULL
            """
        ).run()
    }

    /// Every token of a user, newest first (tests and support tooling).
    public func all(userID: Int64, on db: any SQLDatabase) async throws -> [EmailTokenRecord] {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM email_tokens WHERE user_id = \(bind: userID) ORDER BY created_at DESC")
            .all(decoding: EmailTokenRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }
}
