import Accounts
import Chat
import Foundation
import SQLKit

/// The queries behind `/api/admin/...` (issue 16). Every value is bound.
struct AdminStore: Sendable {
    /// One user as the admin screen lists it.
    struct UserRow: Decodable, Sendable {
        let id: Int64
        let email: String
        let username: String
        let displayName: String
        let emailVerifiedAt: Int64?
        let disabledAt: Int64?
        let createdAt: Int64
        let lastSeenAt: Int64?
        let guestExpiresAt: Int64?
        let serverRole: String
    }

    static let userColumns = "id, email, username, display_name, email_verified_at, disabled_at, created_at, last_seen_at, guest_expires_at, server_role"

    /// A LIKE pattern matching values that start with `prefix` (`\` escapes `%`, `_` and itself).
    static func prefixPattern(_ prefix: String) -> String {
        prefix.lowercased().replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%"
    }

    /// Users by id after `afterID`, at most `limit`; with `prefix`, only those whose username,
    /// email (the lower-cased key) or display name starts with it. Usernames and display names
    /// are matched as user search matches them (``UserDirectory``): the prefix folded by
    /// ``AccountValidation/nameKey(_:)`` against the username (already its own key) and
    /// `users.display_name_key` (migration 0015), never by SQL's `LOWER()`, which folds ASCII
    /// only on SQLite ("émile" would not find "Émile") and depends on `LC_CTYPE` on PostgreSQL.
    func users(prefix: String?, afterID: Int64, limit: Int, on db: any SQLDatabase) async throws -> [UserRow] {
        var query: SQLQueryString = "SELECT \(unsafeRaw: Self.userColumns) FROM users WHERE id > \(bind: afterID)"
        if let prefix, !prefix.isEmpty {
            let pattern = Self.prefixPattern(prefix)
            let keyPattern = UserDirectory.likeEscaped(AccountValidation.nameKey(prefix)) + "%"
            query += """
                 AND (username LIKE \(bind: keyPattern) ESCAPE '\\' OR email_key LIKE \(bind: pattern) ESCAPE '\\'
                      OR display_name_key LIKE \(bind: keyPattern) ESCAPE '\\')
                """
        }
        query += " ORDER BY id LIMIT \(bind: limit)"
        return try await db.raw(query).all(decoding: UserRow.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    func user(id: Int64, on db: any SQLDatabase) async throws -> UserRow? {
        try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM users WHERE id = \(bind: id)")
            .first(decoding: UserRow.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// Sets or clears `disabled_at` (ms); false when there is no such user.
    /// A deleted account (``AccountDeletion``) is neither disabled nor enabled again: false, as for no account.
    func setDisabled(userID: Int64, at millis: Int64?, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        !(try await db.raw(
            "UPDATE users SET disabled_at = \(bind: millis), updated_at = \(bind: now) WHERE id = \(bind: userID) AND deleted_at IS NULL RETURNING id"
        ).all()).isEmpty
    }

    /// Sets the server role of a username (any letter case); false when there is no such account (guests included).
    func setServerRole(username: String, role: ServerRole, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        !(try await db.raw(
            """
            UPDATE users SET server_role = \(bind: role.rawValue), updated_at = \(bind: now)
            WHERE username = \(bind: username.lowercased()) AND guest_expires_at IS NULL RETURNING id
            """
        ).all()).isEmpty
    }

    struct MessageRow: Decodable, Sendable {
        let id: Int64
        let roomId: Int64
        let roomName: String?
        let roomKind: String
        let body: String
        let createdAt: Int64
        let editedAt: Int64?
    }

    /// A user's messages, newest first, with ids below `beforeID`, at most `limit`.
    func messages(authorID: Int64, beforeID: Int64?, limit: Int, on db: any SQLDatabase) async throws -> [MessageRow] {
        try await db.raw(
            """
            SELECT m.id, m.room_id, r.name AS room_name, r.kind AS room_kind, m.body, m.created_at, m.edited_at
            FROM messages m JOIN rooms r ON r.id = m.room_id
            WHERE m.author_id = \(bind: authorID) AND m.id < \(bind: beforeID ?? Int64.max)
            ORDER BY m.id DESC LIMIT \(bind: limit)
            """
        ).all(decoding: MessageRow.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    struct RoomRow: Decodable, Sendable {
        let id: Int64
        let kind: String
        let name: String?
        let createdAt: Int64
        let lastMessageAt: Int64?
        let allowGuests: Int64
        let memberCount: Int64
        let activity: Int64
    }

    /// Rooms by last activity (last message, else creation), newest first, after the keyset
    /// cursor (`activity`, `id`), at most `limit`.
    func rooms(after cursor: (activity: Int64, id: Int64)?, limit: Int, on db: any SQLDatabase) async throws -> [RoomRow] {
        var query: SQLQueryString = """
            SELECT r.id, r.kind, r.name, r.created_at, r.last_message_at, r.allow_guests,
                   (SELECT COUNT(*) FROM memberships m WHERE m.room_id = r.id) AS member_count,
                   COALESCE(r.last_message_at, r.created_at) AS activity
            FROM rooms r
            """
        if let cursor {
            query += """
                 WHERE COALESCE(r.last_message_at, r.created_at) < \(bind: cursor.activity)
                    OR (COALESCE(r.last_message_at, r.created_at) = \(bind: cursor.activity) AND r.id < \(bind: cursor.id))
                """
        }
        query += " ORDER BY activity DESC, r.id DESC LIMIT \(bind: limit)"
        return try await db.raw(query).all(decoding: RoomRow.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    func roomExists(_ id: Int64, on db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT id FROM rooms WHERE id = \(bind: id)").first() != nil
    }

    struct Counts: Decodable, Sendable {
        let users: Int64
        let guests: Int64
        let admins: Int64
        let disabledUsers: Int64
        let rooms: Int64
        let messages: Int64
    }

    /// Server-wide counts; `guests` are the unexpired ones at `now` (ms), `users` the accounts.
    func counts(now: Int64, on db: any SQLDatabase) async throws -> Counts {
        try await db.raw(
            """
            SELECT (SELECT COUNT(*) FROM users WHERE guest_expires_at IS NULL) AS users,
                   (SELECT COUNT(*) FROM users WHERE guest_expires_at > \(bind: now)) AS guests,
                   (SELECT COUNT(*) FROM users WHERE server_role = 'admin') AS admins,
                   (SELECT COUNT(*) FROM users WHERE disabled_at IS NOT NULL AND guest_expires_at IS NULL) AS disabled_users,
                   (SELECT COUNT(*) FROM rooms) AS rooms,
                   (SELECT COUNT(*) FROM messages) AS messages
            """
        ).first(decoding: Counts.self, keyDecodingStrategy: .snakeCaseColumns)!
    }
}
