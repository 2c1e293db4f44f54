import Accounts
import Foundation
import Models
import SQLKit

/// A stored mute (`room_mutes`, migration 0010). Times are ms since the epoch.
public struct MuteRecord: Codable, Sendable, Equatable {
    public var roomId: Int64
    public var userId: Int64
    public var mutedBy: Int64?
    public var reason: String?
    public var createdAt: Int64
    public var expiresAt: Int64
}

/// A stored ban (`room_bans`, migration 0010). Times are ms since the epoch.
public struct BanRecord: Codable, Sendable, Equatable {
    public var roomId: Int64
    public var userId: Int64
    public var bannedBy: Int64?
    public var reason: String?
    public var createdAt: Int64
}

/// One row of `room_audit_log` with the names of its actor and target.
public struct AuditRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var action: String
    public var actorId: Int64?
    public var actorUsername: String?
    public var actorDisplayName: String?
    public var targetId: Int64?
    public var targetUsername: String?
    public var targetDisplayName: String?
    /// `users.guest_expires_at` of the actor and the target: set for a guest (its summary says `guest: true`).
    public var actorGuestExpiresAt: Int64? = nil
    public var targetGuestExpiresAt: Int64? = nil
    public var role: String?
    public var reason: String?
    public var expiresAt: Int64?
    public var createdAt: Int64

    public var wire: AuditEntry {
        func summary(_ id: Int64?, _ username: String?, _ name: String?, _ guestExpiresAt: Int64?) -> UserSummary? {
            guard let id, let username else { return nil }
            return UserSummary(id: id, username: username, displayName: name ?? username, guest: guestExpiresAt != nil)
        }
        return AuditEntry(
            id: id, action: ModerationAction(rawValue: action) ?? .role, actor: summary(actorId, actorUsername, actorDisplayName, actorGuestExpiresAt),
            target: summary(targetId, targetUsername, targetDisplayName, targetGuestExpiresAt), role: role.flatMap(RoomRole.init(rawValue:)), reason: reason,
            until: expiresAt.map { WireTime.string(millis: $0) }, createdAt: WireTime.string(millis: createdAt)
        )
    }
}

/// Mutes, bans and the audit log of rooms; every method runs on the caller's connection or
/// transaction, every value bound.
public struct ModerationStore: Sendable {
    public init() {}

    // MARK: Mutes

    /// Mutes a member until `expiresAt` (ms), replacing an earlier mute of theirs in the room.
    public func mute(roomID: Int64, userID: Int64, by actorID: Int64, reason: String?, now: Int64, expiresAt: Int64, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            INSERT INTO room_mutes (room_id, user_id, muted_by, reason, created_at, expires_at)
            VALUES (\(bind: roomID), \(bind: userID), \(bind: actorID), \(bind: reason), \(bind: now), \(bind: expiresAt))
            ON CONFLICT (room_id, user_id) DO UPDATE SET muted_by = excluded.muted_by, reason = excluded.reason,
                created_at = excluded.created_at, expires_at = excluded.expires_at
            """
        ).run()
    }

    /// Ends a member's mute; returns whether one was in force at `now` (an expired row is removed too).
    public func unmute(roomID: Int64, userID: Int64, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        struct Row: Decodable { let expiresAt: Int64 }
        let rows = try await db.raw(
            "DELETE FROM room_mutes WHERE room_id = \(bind: roomID) AND user_id = \(bind: userID) RETURNING expires_at"
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        return rows.contains { $0.expiresAt > now }
    }

    /// The mutes in force at `now`, soonest to end first.
    public func activeMutes(roomID: Int64, now: Int64, on db: any SQLDatabase) async throws -> [MuteRecord] {
        try await db.raw(
            """
            SELECT room_id, user_id, muted_by, reason, created_at, expires_at FROM room_mutes
            WHERE room_id = \(bind: roomID) AND expires_at > \(bind: now) ORDER BY expires_at, user_id
            """
        ).all(decoding: MuteRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    // MARK: Bans

    /// Bans a user from the room; returns false (changing nothing) when they are banned already.
    public func ban(roomID: Int64, userID: Int64, by actorID: Int64, reason: String?, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        let rows = try await db.raw(
            """
            INSERT INTO room_bans (room_id, user_id, banned_by, reason, created_at)
            VALUES (\(bind: roomID), \(bind: userID), \(bind: actorID), \(bind: reason), \(bind: now))
            ON CONFLICT (room_id, user_id) DO NOTHING
            RETURNING user_id
            """
        ).all()
        return !rows.isEmpty
    }

    /// Lifts a ban; returns whether there was one.
    public func unban(roomID: Int64, userID: Int64, on db: any SQLDatabase) async throws -> Bool {
        !(try await db.raw("DELETE FROM room_bans WHERE room_id = \(bind: roomID) AND user_id = \(bind: userID) RETURNING user_id").all()).isEmpty
    }

    public func isBanned(roomID: Int64, userID: Int64, on db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT 1 AS banned FROM room_bans WHERE room_id = \(bind: roomID) AND user_id = \(bind: userID)").first() != nil
    }

    /// A room's bans, newest first.
    public func bans(roomID: Int64, on db: any SQLDatabase) async throws -> [BanRecord] {
        try await db.raw(
            "SELECT room_id, user_id, banned_by, reason, created_at FROM room_bans WHERE room_id = \(bind: roomID) ORDER BY created_at DESC, user_id"
        ).all(decoding: BanRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    // MARK: Audit log

    /// Appends one entry to the room's audit log.
    public func audit(roomID: Int64, actorID: Int64, action: ModerationAction, targetID: Int64?, role: RoomRole? = nil, reason: String?,
                      expiresAt: Int64? = nil, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            INSERT INTO room_audit_log (room_id, actor_id, action, target_id, role, reason, expires_at, created_at)
            VALUES (\(bind: roomID), \(bind: actorID), \(bind: action.rawValue), \(bind: targetID), \(bind: role?.rawValue), \(bind: reason),
                    \(bind: expiresAt), \(bind: now))
            """
        ).run()
    }

    /// A page of the room's audit log, newest first: the `limit` entries with ids below `before`
    /// (all when nil).
    public func auditLog(roomID: Int64, before: Int64?, limit: Int, on db: any SQLDatabase) async throws -> [AuditRecord] {
        try await db.raw(
            """
            SELECT a.id, a.action, a.actor_id, ua.username AS actor_username, ua.display_name AS actor_display_name,
                   a.target_id, ut.username AS target_username, ut.display_name AS target_display_name,
                   ua.guest_expires_at AS actor_guest_expires_at, ut.guest_expires_at AS target_guest_expires_at,
                   a.role, a.reason, a.expires_at, a.created_at
            FROM room_audit_log a
            LEFT JOIN users ua ON ua.id = a.actor_id
            LEFT JOIN users ut ON ut.id = a.target_id
            WHERE a.room_id = \(bind: roomID) AND a.id < \(bind: before ?? Int64.max)
            ORDER BY a.id DESC
            LIMIT \(bind: limit)
            """
        ).all(decoding: AuditRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }
}
