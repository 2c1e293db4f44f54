import Accounts
import Foundation
import Models
import SQLKit

public struct RoomRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var name: String?
    public var topic: String?
    public var passwordHash: String?
    public var joinCode: String?
    public var directKey: String?
    public var createdBy: Int64
    public var createdAt: Int64
    public var updatedAt: Int64
    public var lastMessageId: Int64?
    public var lastMessageAt: Int64?

    public var roomKind: RoomKind { RoomKind(rawValue: kind) ?? .private }
}

public struct MembershipRecord: Codable, Sendable, Equatable {
    public var roomId: Int64
    public var userId: Int64
    public var role: String
    public var joinedAt: Int64
    public var lastReadMessageId: Int64
    public var lastReadAt: Int64?

    public var roomRole: RoomRole { RoomRole(rawValue: role) ?? .member }
}

/// One row of "my rooms": the room, my membership, unread count and last message.
public struct RoomListRow: Codable, Sendable {
    public var id: Int64
    public var kind: String
    public var name: String?
    public var topic: String?
    public var joinCode: String?
    public var hasPassword: Int64
    public var createdAt: Int64
    public var role: String
    public var lastReadMessageId: Int64
    public var lastReadAt: Int64?
    public var unreadCount: Int64
    public var mentionCount: Int64
    /// `rooms.allow_guests` (0 or 1; migration 0011).
    public var allowGuests: Int64
    public var lastMessageId: Int64?
    public var lastMessageAuthorId: Int64?
    public var lastMessageBody: String?
    public var lastMessageCreatedAt: Int64?
    public var memberCount: Int64
}

public struct MemberRow: Codable, Sendable {
    public var userId: Int64
    public var username: String
    public var displayName: String
    public var role: String
    public var joinedAt: Int64
    public var lastSeenAt: Int64?
    /// Set for a guest (migration 0011).
    public var guestExpiresAt: Int64?
}

/// The sender's standing in a room (``RoomStore/senderStanding(roomID:userID:on:)``).
public struct SenderStanding: Sendable, Equatable {
    public var roomExists: Bool
    /// nil: not a member.
    public var role: RoomRole?
    /// ms since the epoch; nil: not verified.
    public var emailVerifiedAt: Int64?
    /// When the sender's mute in the room ends (ms since the epoch; possibly past); nil: never muted there.
    public var mutedUntil: Int64? = nil
    /// Members of a direct room (nil for other kinds): fewer than two means the other person left
    /// (their account was deleted), and nothing more can be sent there.
    public var directMembers: Int64? = nil
}

/// Unread counts are exact up to this cap (the badge shows "999+" beyond it).
public let unreadCountCap = 1000

public struct RoomStore: Sendable {
    public init() {}

    static let columns = "id, kind, name, topic, password_hash, join_code, direct_key, created_by, created_at, updated_at, last_message_id, last_message_at"

    /// `nameTaken`: a public room has the name (in any letter case); `codeCollision`: the join
    /// code is in use; `directExists`: the pair's direct room exists.
    public enum CreateOutcome: Sendable { case created(RoomRecord), nameTaken, codeCollision, directExists }

    /// Creates a room unless a unique key is taken: checked first, and again after an insert
    /// that yielded to a concurrent one (`ON CONFLICT DO NOTHING`; on PostgreSQL it waits for
    /// that transaction), so simultaneous creations never end in a constraint error.
    public func create(kind: RoomKind, name: String?, topic: String?, passwordHash: String?, joinCode: String?, directKey: String?,
                       createdBy: Int64, now: Int64, on db: any SQLDatabase) async throws -> CreateOutcome {
        if kind == .public, let name, try await publicNameTaken(name, on: db) { return .nameTaken }
        if let joinCode, try await db.raw("SELECT id FROM rooms WHERE join_code = \(bind: joinCode)").first() != nil {
            return .codeCollision
        }
        let row = try await db.raw(
            """
            INSERT INTO rooms (kind, name, name_key, topic, password_hash, join_code, direct_key, created_by, created_at, updated_at)
            VALUES (\(bind: kind.rawValue), \(bind: name), \(bind: name?.lowercased()), \(bind: topic), \(bind: passwordHash),
                    \(bind: joinCode), \(bind: directKey), \(bind: createdBy), \(bind: now), \(bind: now))
            ON CONFLICT DO NOTHING
            RETURNING \(unsafeRaw: Self.columns)
            """
        ).first(decoding: RoomRecord.self, keyDecodingStrategy: .snakeCaseColumns)
        if let row { return .created(row) }
        if kind == .public, let name, try await publicNameTaken(name, on: db) { return .nameTaken }
        if let joinCode, try await db.raw("SELECT id FROM rooms WHERE join_code = \(bind: joinCode)").first() != nil { return .codeCollision }
        if directKey != nil { return .directExists }
        throw StoreError.noRowReturned
    }

    /// Whether a public room has `name` in any letter case.
    public func publicNameTaken(_ name: String, on db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT id FROM rooms WHERE kind = 'public' AND name_key = \(bind: name.lowercased())").first() != nil
    }

    /// Sets the name and/or the topic (nil leaves it as it is) and `updated_at` (ms).
    public func update(id: Int64, name: String?, topic: String?, now: Int64, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            UPDATE rooms SET name = COALESCE(\(bind: name), name), name_key = COALESCE(\(bind: name?.lowercased()), name_key),
                             topic = COALESCE(\(bind: topic), topic), updated_at = \(bind: now)
            WHERE id = \(bind: id)
            """
        ).run()
    }

    public func find(id: Int64, on db: any SQLDatabase) async throws -> RoomRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM rooms WHERE id = \(bind: id)")
            .first(decoding: RoomRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    public func find(joinCode: String, on db: any SQLDatabase) async throws -> RoomRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM rooms WHERE join_code = \(bind: joinCode)")
            .first(decoding: RoomRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    public func find(directKey: String, on db: any SQLDatabase) async throws -> RoomRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM rooms WHERE direct_key = \(bind: directKey)")
            .first(decoding: RoomRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    public func delete(id: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM messages WHERE room_id = \(bind: id)").run()
        try await db.raw("DELETE FROM memberships WHERE room_id = \(bind: id)").run()
        try await db.raw("DELETE FROM rooms WHERE id = \(bind: id)").run()
    }

    /// Public rooms whose name contains `query`, by name, after the `cursor` name.
    /// `onlyAllowingGuests`: only rooms that allow guests (what a guest may join).
    public func searchPublic(query: String, after cursor: String?, limit: Int, onlyAllowingGuests: Bool = false, on db: any SQLDatabase) async throws -> [(RoomRecord, Int64)] {
        struct Row: Decodable {
            let id: Int64, kind: String, name: String?, topic: String?, createdBy: Int64, createdAt: Int64, updatedAt: Int64
            let lastMessageAt: Int64?, memberCount: Int64
        }
        let pattern = "%" + query.lowercased().replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
        let rows = try await db.raw(
            """
            SELECT r.id, r.kind, r.name, r.topic, r.created_by, r.created_at, r.updated_at, r.last_message_at,
                   (SELECT COUNT(*) FROM memberships m WHERE m.room_id = r.id) AS member_count
            FROM rooms r
            WHERE r.kind = 'public' AND r.name_key LIKE \(bind: pattern) ESCAPE '\\' AND r.name_key > \(bind: cursor?.lowercased() ?? "")
              AND (\(bind: onlyAllowingGuests ? 1 : 0) = 0 OR r.allow_guests = 1)
            ORDER BY r.name_key
            LIMIT \(bind: limit)
            """
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        return rows.map {
            (RoomRecord(id: $0.id, kind: $0.kind, name: $0.name, topic: $0.topic, passwordHash: nil, joinCode: nil, directKey: nil,
                        createdBy: $0.createdBy, createdAt: $0.createdAt, updatedAt: $0.updatedAt, lastMessageId: nil, lastMessageAt: $0.lastMessageAt),
             $0.memberCount)
        }
    }

    // MARK: Memberships

    public func membership(roomID: Int64, userID: Int64, on db: any SQLDatabase) async throws -> MembershipRecord? {
        try await db.raw(
            "SELECT room_id, user_id, role, joined_at, last_read_message_id, last_read_at FROM memberships WHERE room_id = \(bind: roomID) AND user_id = \(bind: userID)"
        ).first(decoding: MembershipRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// What sending to a room must know about the sender, in one read: whether the room exists,
    /// the sender's role in it (nil: not a member) and when the sender verified their email (ms;
    /// for ``EmailVerificationGate``). nil when the user does not exist.
    public func senderStanding(roomID: Int64, userID: Int64, on db: any SQLDatabase) async throws -> SenderStanding? {
        struct Row: Decodable { let role: String?; let emailVerifiedAt: Int64?; let roomExists: Int64?; let mutedUntil: Int64?; let directMembers: Int64? }
        let row = try await db.raw(
            """
            SELECT m.role, u.email_verified_at, (SELECT 1 FROM rooms WHERE id = \(bind: roomID)) AS room_exists,
                   (SELECT expires_at FROM room_mutes WHERE room_id = \(bind: roomID) AND user_id = u.id) AS muted_until,
                   CASE WHEN (SELECT kind FROM rooms WHERE id = \(bind: roomID)) = 'direct'
                        THEN (SELECT COUNT(*) FROM memberships dm WHERE dm.room_id = \(bind: roomID)) END AS direct_members
            FROM users u LEFT JOIN memberships m ON m.user_id = u.id AND m.room_id = \(bind: roomID)
            WHERE u.id = \(bind: userID)
            """
        ).first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        return row.map {
            SenderStanding(roomExists: $0.roomExists != nil, role: $0.role.map { RoomRole(rawValue: $0) ?? .member }, emailVerifiedAt: $0.emailVerifiedAt,
                           mutedUntil: $0.mutedUntil, directMembers: $0.directMembers)
        }
    }

    /// Adds a member (no-op if already one); returns whether it was added. New members start
    /// with everything already posted marked read: history is there to scroll, not unread.
    @discardableResult
    public func addMember(roomID: Int64, userID: Int64, role: RoomRole, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        let rows = try await db.raw(
            """
            INSERT INTO memberships (room_id, user_id, role, joined_at, last_read_message_id, last_read_at)
            SELECT \(bind: roomID), \(bind: userID), \(bind: role.rawValue), \(bind: now), COALESCE(r.last_message_id, 0), \(bind: now)
            FROM rooms r WHERE r.id = \(bind: roomID)
            ON CONFLICT (room_id, user_id) DO NOTHING
            RETURNING user_id
            """
        ).all()
        return !rows.isEmpty
    }

    @discardableResult
    public func removeMember(roomID: Int64, userID: Int64, on db: any SQLDatabase) async throws -> Bool {
        let rows = try await db.raw("DELETE FROM memberships WHERE room_id = \(bind: roomID) AND user_id = \(bind: userID) RETURNING user_id").all()
        return !rows.isEmpty
    }

    public func setRole(roomID: Int64, userID: Int64, role: RoomRole, on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE memberships SET role = \(bind: role.rawValue) WHERE room_id = \(bind: roomID) AND user_id = \(bind: userID)").run()
    }

    /// The room's owners' ids, by user id.
    public func ownerIDs(roomID: Int64, on db: any SQLDatabase) async throws -> [Int64] {
        struct Row: Decodable { let userId: Int64 }
        return try await db.raw("SELECT user_id FROM memberships WHERE room_id = \(bind: roomID) AND role = 'owner' ORDER BY user_id")
            .all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns).map(\.userId)
    }

    public func memberIDs(roomID: Int64, on db: any SQLDatabase) async throws -> [Int64] {
        struct Row: Decodable { let userId: Int64 }
        return try await db.raw("SELECT user_id FROM memberships WHERE room_id = \(bind: roomID) ORDER BY joined_at, user_id")
            .all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns).map(\.userId)
    }

    public func roomIDs(userID: Int64, on db: any SQLDatabase) async throws -> [Int64] {
        struct Row: Decodable { let roomId: Int64 }
        return try await db.raw("SELECT room_id FROM memberships WHERE user_id = \(bind: userID)")
            .all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns).map(\.roomId)
    }

    public func members(roomID: Int64, on db: any SQLDatabase) async throws -> [MemberRow] {
        try await db.raw(
            """
            SELECT m.user_id, u.username, u.display_name, m.role, m.joined_at, u.last_seen_at, u.guest_expires_at
            FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.room_id = \(bind: roomID)
            ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'moderator' THEN 2 WHEN 'member' THEN 3 ELSE 4 END, u.username
            """
        ).all(decoding: MemberRow.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// The user's rooms with unread and mention counts (capped at ``unreadCountCap``; mentions by
    /// the index `message_mentions_user`) and the last message,
    /// most recently active first. One query: a membership index scan plus, per room, an
    /// index range scan over messages after the read cursor.
    public func listForUser(_ userID: Int64, onlyRoom roomID: Int64? = nil, on db: any SQLDatabase) async throws -> [RoomListRow] {
        let onlyRoom: SQLQueryString = roomID.map { "AND r.id = \(bind: $0)" } ?? ""
        return try await db.raw(
            """
            SELECT r.id, r.kind, r.name, r.topic,
                   CASE WHEN m.role IN ('owner', 'admin') THEN r.join_code END AS join_code,
                   CASE WHEN r.password_hash IS NULL THEN 0 ELSE 1 END AS has_password,
                   r.created_at, m.role, m.last_read_message_id, m.last_read_at, r.allow_guests,
                   (SELECT COUNT(*) FROM (
                        SELECT 1 FROM messages x
                        WHERE x.room_id = r.id AND x.id > m.last_read_message_id AND x.author_id <> m.user_id
                        LIMIT \(unsafeRaw: String(unreadCountCap))) AS unread) AS unread_count,
                   (SELECT COUNT(*) FROM (
                        SELECT 1 FROM message_mentions mm
                        WHERE mm.user_id = m.user_id AND mm.room_id = r.id AND mm.message_id > m.last_read_message_id
                        LIMIT \(unsafeRaw: String(unreadCountCap))) AS mentioned) AS mention_count,
                   lm.id AS last_message_id, lm.author_id AS last_message_author_id,
                   SUBSTR(lm.body, 1, 140) AS last_message_body, lm.created_at AS last_message_created_at,
                   (SELECT COUNT(*) FROM memberships mc WHERE mc.room_id = r.id) AS member_count
            FROM memberships m
            JOIN rooms r ON r.id = m.room_id
            LEFT JOIN messages lm ON lm.id = r.last_message_id
            WHERE m.user_id = \(bind: userID) \(onlyRoom)
            ORDER BY COALESCE(r.last_message_at, r.created_at) DESC, r.id DESC
            """
        ).all(decoding: RoomListRow.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// The other member of each of the user's direct rooms, by room id.
    public func directPeers(userID: Int64, on db: any SQLDatabase) async throws -> [Int64: UserSummary] {
        struct Row: Decodable { let roomId: Int64; let id: Int64; let username: String; let displayName: String }
        let rows = try await db.raw(
            """
            SELECT o.room_id, u.id, u.username, u.display_name
            FROM memberships mine
            JOIN rooms r ON r.id = mine.room_id AND r.kind = 'direct'
            JOIN memberships o ON o.room_id = r.id AND o.user_id <> mine.user_id
            JOIN users u ON u.id = o.user_id
            WHERE mine.user_id = \(bind: userID)
            """
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        return Dictionary(rows.map { ($0.roomId, UserSummary(id: $0.id, username: $0.username, displayName: $0.displayName)) }, uniquingKeysWith: { a, _ in a })
    }

    /// Users who share at least one room with `userID` (presence goes to them).
    public func contacts(of userID: Int64, on db: any SQLDatabase) async throws -> [Int64] {
        struct Row: Decodable { let userId: Int64 }
        return try await db.raw(
            """
            SELECT DISTINCT o.user_id FROM memberships mine JOIN memberships o ON o.room_id = mine.room_id
            WHERE mine.user_id = \(bind: userID) AND o.user_id <> \(bind: userID)
            """
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns).map(\.userId)
    }
}
