import Accounts
import Models
import SQLKit

/// The `reactions` table (migration 0008): one row per (message, emoji, user).
public struct ReactionStore: Sendable {
    public init() {}

    /// Adds a reaction; false, writing nothing, when this user already reacted with this emoji.
    public func add(messageID: Int64, emoji: String, userID: Int64, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        struct Row: Decodable { let messageId: Int64 }
        return try await db.raw(
            """
            INSERT INTO reactions (message_id, emoji, user_id, created_at)
            VALUES (\(bind: messageID), \(bind: emoji), \(bind: userID), \(bind: now))
            ON CONFLICT DO NOTHING RETURNING message_id
            """
        ).first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns) != nil
    }

    /// Removes a reaction; false when there was none.
    public func remove(messageID: Int64, emoji: String, userID: Int64, on db: any SQLDatabase) async throws -> Bool {
        struct Row: Decodable { let messageId: Int64 }
        return try await db.raw(
            """
            DELETE FROM reactions WHERE message_id = \(bind: messageID) AND emoji = \(bind: emoji) AND user_id = \(bind: userID)
            RETURNING message_id
            """
        ).first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns) != nil
    }

    /// Removes every reaction of a message (it became a tombstone).
    public func removeAll(messageID: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM reactions WHERE message_id = \(bind: messageID)").run()
    }

    /// The different emoji on a message.
    public func emoji(messageID: Int64, on db: any SQLDatabase) async throws -> Set<String> {
        struct Row: Decodable { let emoji: String }
        return Set(try await db.raw("SELECT DISTINCT emoji FROM reactions WHERE message_id = \(bind: messageID)")
            .all(decoding: Row.self).map(\.emoji))
    }

    /// Per-message counts for the messages of a room with ids `fromID...throughID` (a history
    /// page), each emoji with whether `viewer` is among its users, emoji in the order each was
    /// first used. One statement over the primary key's range.
    public func counts(roomID: Int64, fromID: Int64, throughID: Int64, viewer: Int64, on db: any SQLDatabase) async throws -> [Int64: [ReactionCount]] {
        struct Row: Decodable { let messageId: Int64; let emoji: String; let total: Int64; let mine: Int64; let firstAt: Int64 }
        let rows = try await db.raw(
            """
            SELECT r.message_id, r.emoji, COUNT(*) AS total,
                   MAX(CASE WHEN r.user_id = \(bind: viewer) THEN 1 ELSE 0 END) AS mine, MIN(r.created_at) AS first_at
            FROM reactions r JOIN messages m ON m.id = r.message_id
            WHERE r.message_id >= \(bind: fromID) AND r.message_id <= \(bind: throughID) AND m.room_id = \(bind: roomID)
            GROUP BY r.message_id, r.emoji
            ORDER BY r.message_id, first_at, r.emoji
            """
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        var counts: [Int64: [ReactionCount]] = [:]
        for row in rows {
            counts[row.messageId, default: []].append(ReactionCount(emoji: row.emoji, count: Int(row.total), me: row.mine != 0))
        }
        return counts
    }

    /// Who reacted to a message: per emoji (in the order each was first used; only `emoji`
    /// when given) its count and its first `limit` users by reaction time. One statement
    /// (window functions, SQLite ≥ 3.25 and PostgreSQL).
    public func users(messageID: Int64, emoji: String?, limit: Int, on db: any SQLDatabase) async throws -> [ReactionUsers] {
        struct Row: Decodable {
            let emoji: String; let userId: Int64; let username: String; let displayName: String; let total: Int64; let n: Int64
        }
        var inner: SQLQueryString = """
            SELECT r.emoji, r.user_id, u.username, u.display_name,
                   ROW_NUMBER() OVER (PARTITION BY r.emoji ORDER BY r.created_at, r.user_id) AS n,
                   COUNT(*) OVER (PARTITION BY r.emoji) AS total,
                   MIN(r.created_at) OVER (PARTITION BY r.emoji) AS first_at
            FROM reactions r JOIN users u ON u.id = r.user_id
            WHERE r.message_id = \(bind: messageID)
            """
        if let emoji { inner += " AND r.emoji = \(bind: emoji)" }
        let rows = try await db.raw(
            "SELECT emoji, user_id, username, display_name, total, n FROM (\(inner)) x WHERE n <= \(bind: limit) ORDER BY first_at, emoji, n"
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        var groups: [ReactionUsers] = []
        for row in rows {
            if groups.last?.emoji != row.emoji {
                groups.append(ReactionUsers(emoji: row.emoji, count: Int(row.total), users: [], hasMore: row.total > Int64(limit)))
            }
            groups[groups.count - 1].users.append(UserSummary(id: row.userId, username: row.username, displayName: row.displayName))
        }
        return groups
    }
}
