import Foundation
import SQLKit

public struct SessionRecord: Codable, Sendable, Equatable {
    public var id: String
    public var userId: Int64
    public var createdAt: Int64
    public var lastUsedAt: Int64
    public var expiresAt: Int64
    public var revokedAt: Int64?
    public var revokedReason: String?
    public var userAgent: String?
    public var ip: String?
}

/// A refresh token's row joined with its session.
public struct RefreshTokenLookup: Codable, Sendable {
    public var tokenHash: String
    public var rotatedAt: Int64?
    public var sessionId: String
    public var userId: Int64
    public var lastUsedAt: Int64
    public var expiresAt: Int64
    public var revokedAt: Int64?
}

/// Sessions and their refresh tokens. Tokens are stored only as SHA-256 hashes.
public struct SessionStore: Sendable {
    public init() {}

    static let columns = "id, user_id, created_at, last_used_at, expires_at, revoked_at, revoked_reason, user_agent, ip"

    public func create(id: String, userID: Int64, refreshTokenHash: String, now: Int64, expiresAt: Int64, userAgent: String?, ip: String?, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
            VALUES (\(bind: id), \(bind: userID), \(bind: now), \(bind: now), \(bind: expiresAt), \(bind: userAgent), \(bind: ip))
            """
        ).run()
        try await insertRefreshToken(hash: refreshTokenHash, sessionID: id, now: now, on: db)
    }

    public func insertRefreshToken(hash: String, sessionID: String, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (\(bind: hash), \(bind: sessionID), \(bind: now))"
        ).run()
    }

    public func lookupRefreshToken(hash: String, on db: any SQLDatabase) async throws -> RefreshTokenLookup? {
        try await db.raw(
            """
            SELECT t.token_hash, t.rotated_at, s.id AS session_id, s.user_id, s.last_used_at, s.expires_at, s.revoked_at
            FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
            WHERE t.token_hash = \(bind: hash)
            """
        ).first(decoding: RefreshTokenLookup.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// Marks a token used; false when another request rotated it first.
    public func markRotated(hash: String, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        let rows = try await db.raw(
            "UPDATE refresh_tokens SET rotated_at = \(bind: now) WHERE token_hash = \(bind: hash) AND rotated_at IS NULL RETURNING token_hash"
        ).all()
        return rows.count == 1
    }

    public func touch(id: String, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE sessions SET last_used_at = \(bind: now) WHERE id = \(bind: id)").run()
    }

    public func find(id: String, on db: any SQLDatabase) async throws -> SessionRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM sessions WHERE id = \(bind: id)")
            .first(decoding: SessionRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    public func active(userID: Int64, now: Int64, idleTimeout: Int64, on db: any SQLDatabase) async throws -> [SessionRecord] {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.columns) FROM sessions
            WHERE user_id = \(bind: userID) AND revoked_at IS NULL AND expires_at > \(bind: now) AND last_used_at > \(bind: now - idleTimeout)
            ORDER BY last_used_at DESC
            """
        ).all(decoding: SessionRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// Revokes one session; returns whether it was active.
    @discardableResult
    public func revoke(id: String, reason: String, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        let rows = try await db.raw(
            "UPDATE sessions SET revoked_at = \(bind: now), revoked_reason = \(bind: reason) WHERE id = \(bind: id) AND revoked_at IS NULL RETURNING id"
        ).all()
        return !rows.isEmpty
    }

    /// Revokes every live session of a user except `keeping`; returns the ids revoked.
    public func revokeAll(userID: Int64, except keeping: String?, reason: String, now: Int64, on db: any SQLDatabase) async throws -> [String] {
        struct Row: Decodable { let id: String }
        let rows = try await db.raw(
            """
            UPDATE sessions SET revoked_at = \(bind: now), revoked_reason = \(bind: reason)
            WHERE user_id = \(bind: userID) AND revoked_at IS NULL AND id <> \(bind: keeping ?? "")
            RETURNING id
            """
        ).all(decoding: Row.self)
        return rows.map(\.id)
    }
}
