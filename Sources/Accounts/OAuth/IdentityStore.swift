import Foundation
import SQLKit

/// A user's account at a provider (`identities`, migration 0012).
public struct IdentityRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var provider: String
    public var subject: String
    public var userId: Int64
    /// The address the provider gave at link time, shown in settings; nil when it gave none.
    public var email: String?
    public var createdAt: Int64
}

/// `identities` access; (provider, subject) is unique, so one provider account belongs to at
/// most one user.
public struct IdentityStore: Sendable {
    public init() {}

    static let columns = "id, provider, subject, user_id, email, created_at"

    public func find(provider: String, subject: String, on db: any SQLDatabase) async throws -> IdentityRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM identities WHERE provider = \(bind: provider) AND subject = \(bind: subject)")
            .first(decoding: IdentityRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    public func list(userID: Int64, on db: any SQLDatabase) async throws -> [IdentityRecord] {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM identities WHERE user_id = \(bind: userID) ORDER BY id")
            .all(decoding: IdentityRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// Links (provider, subject) to `userID`; nil when that provider account is linked
    /// already (to anyone; `ON CONFLICT DO NOTHING`, so a concurrent link never errors).
    public func insert(provider: String, subject: String, userID: Int64, email: String?, now: Int64, on db: any SQLDatabase) async throws -> IdentityRecord? {
        try await db.raw(
            """
            INSERT INTO identities (provider, subject, user_id, email, created_at)
            VALUES (\(bind: provider), \(bind: subject), \(bind: userID), \(bind: email), \(bind: now))
            ON CONFLICT DO NOTHING
            RETURNING \(unsafeRaw: Self.columns)
            """
        ).first(decoding: IdentityRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    @discardableResult
    public func delete(id: Int64, userID: Int64, on db: any SQLDatabase) async throws -> Bool {
        try await db.raw("DELETE FROM identities WHERE id = \(bind: id) AND user_id = \(bind: userID) RETURNING id")
            .first() != nil
    }
}

/// A started flow, as the callback reads it back.
struct OAuthFlowRecord: Codable, Sendable {
    var browserHash: String
    var provider: String
    var codeVerifier: String
    var nonce: String
    var linkUserId: Int64?
}

/// `oauth_flows` (started flows, keyed by the SHA-256 of `state`) and `oauth_handoffs` (the
/// one-time codes that hand a finished sign-in to the web app, keyed by their SHA-256).
/// Each row is used at most once: the read that uses it is an `UPDATE … WHERE used_at IS NULL
/// RETURNING`, so two callbacks with one `state` cannot both proceed. The browser binding is
/// part of that `WHERE`: a request from another browser uses nothing up, so it cannot burn
/// someone else's sign-in.
struct OAuthFlowStore: Sendable {
    func insertFlow(
        stateHash: String, browserHash: String, provider: String, codeVerifier: String, nonce: String, linkUserID: Int64?,
        now: Int64, expiresAt: Int64, on db: any SQLDatabase
    ) async throws {
        try await db.raw(
            """
            INSERT INTO oauth_flows (state_hash, browser_hash, provider, code_verifier, nonce, link_user_id, created_at, expires_at)
            VALUES (\(bind: stateHash), \(bind: browserHash), \(bind: provider), \(bind: codeVerifier), \(bind: nonce), \(bind: linkUserID), \(bind: now), \(bind: expiresAt))
            """
        ).run()
    }

    /// Marks the flow used and returns it; nil when it is unknown, used, expired or bound to
    /// another browser (left unused then).
    func consumeFlow(stateHash: String, browserHash: String, now: Int64, on db: any SQLDatabase) async throws -> OAuthFlowRecord? {
        try await db.raw(
            """
            UPDATE oauth_flows SET used_at = \(bind: now)
            WHERE state_hash = \(bind: stateHash) AND browser_hash = \(bind: browserHash) AND used_at IS NULL AND expires_at > \(bind: now)
            RETURNING browser_hash, provider, code_verifier, nonce, link_user_id
            """
        ).first(decoding: OAuthFlowRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    func insertHandoff(codeHash: String, browserHash: String, userID: Int64, now: Int64, expiresAt: Int64, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            INSERT INTO oauth_handoffs (code_hash, browser_hash, user_id, created_at, expires_at)
            VALUES (\(bind: codeHash), \(bind: browserHash), \(bind: userID), \(bind: now), \(bind: expiresAt))
            """
        ).run()
    }

    struct Handoff: Codable, Sendable {
        var browserHash: String
        var userId: Int64
    }

    /// Marks the code used and returns it; nil when it is unknown, used, expired or bound to
    /// another browser (left unused then).
    func consumeHandoff(codeHash: String, browserHash: String, now: Int64, on db: any SQLDatabase) async throws -> Handoff? {
        try await db.raw(
            """
            UPDATE oauth_handoffs SET used_at = \(bind: now)
            WHERE code_hash = \(bind: codeHash) AND browser_hash = \(bind: browserHash) AND used_at IS NULL AND expires_at > \(bind: now)
            RETURNING browser_hash, user_id
            """
        ).first(decoding: Handoff.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// Deletes flows and codes that expired before `now` (run when a flow starts, so the
    /// tables stay as small as the flows in progress).
    func prune(now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM oauth_flows WHERE expires_at < \(bind: now)").run()
        try await db.raw("DELETE FROM oauth_handoffs WHERE expires_at < \(bind: now)").run()
    }
}
