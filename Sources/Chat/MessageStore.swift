import Accounts
import Foundation
import Models
import SQLKit

public struct MessageRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var roomId: Int64
    public var authorId: Int64
    public var body: String
    public var clientMsgId: String?
    public var replyTo: Int64?
    public var createdAt: Int64
    public var editedAt: Int64?
    /// Set on a tombstone (whose body is '').
    public var deletedAt: Int64? = nil
    /// The parent of a reply (`LEFT JOIN`s of ``MessageStore/select``): its author's id and
    /// names, its first 400 scalars (``MessageRules/excerpt(_:)`` shortens them) and its deletion.
    public var parentAuthorId: Int64? = nil
    public var parentUsername: String? = nil
    public var parentDisplayName: String? = nil
    public var parentBody: String? = nil
    public var parentDeletedAt: Int64? = nil
    /// Per-emoji counts as one viewer sees them (``MessageStore/page(roomID:before:after:limit:viewer:on:)``); not a column.
    public var reactions: [ReactionCount]? = nil
    public var authorUsername: String?
    public var authorDisplayName: String?
    /// Set when the author is a guest (migration 0011): the wire marks it `guest: true`.
    public var authorGuestExpiresAt: Int64? = nil
    /// The mentioned members' ids (``MentionStore``), nil when none; not a column.
    public var mentions: [Int64]? = nil

    public var wire: ChatMessage {
        var message = ChatMessage(
            id: id, roomId: roomId, authorId: authorId, body: body, createdAt: WireTime.string(millis: createdAt),
            clientMsgId: clientMsgId, replyTo: replyTo, editedAt: editedAt.map { WireTime.string(millis: $0) },
            author: authorUsername.map { UserSummary(id: authorId, username: $0, displayName: authorDisplayName ?? $0, guest: authorGuestExpiresAt != nil) },
            mentions: mentions
        )
        if let deletedAt {
            message.body = ""
            message.deletedAt = WireTime.string(millis: deletedAt)
        } else {
            message.reactions = reactions.flatMap { $0.isEmpty ? nil : $0 }
        }
        if let replyTo, let parentAuthorId, let parentUsername {
            let deleted = parentDeletedAt != nil
            message.replyPreview = ReplyPreview(
                id: replyTo, authorId: parentAuthorId, username: parentUsername, displayName: parentDisplayName ?? parentUsername,
                excerpt: deleted ? nil : MessageRules.excerpt(parentBody ?? ""), deleted: deleted ? true : nil
            )
        }
        return message
    }
}

public struct MessageStore: Sendable {
    public init() {}

    static let select = """
        SELECT m.id, m.room_id, m.author_id, m.body, m.client_msg_id, m.reply_to, m.created_at, m.edited_at, m.deleted_at,
               u.username AS author_username, u.display_name AS author_display_name, u.guest_expires_at AS author_guest_expires_at,
               p.author_id AS parent_author_id, pu.username AS parent_username, pu.display_name AS parent_display_name,
               SUBSTR(p.body, 1, 400) AS parent_body, p.deleted_at AS parent_deleted_at
        FROM messages m JOIN users u ON u.id = m.author_id
        LEFT JOIN messages p ON p.id = m.reply_to LEFT JOIN users pu ON pu.id = p.author_id
        """

    public func find(id: Int64, on db: any SQLDatabase) async throws -> MessageRecord? {
        try await db.raw("\(unsafeRaw: Self.select) WHERE m.id = \(bind: id)")
            .first(decoding: MessageRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    public func find(roomID: Int64, authorID: Int64, clientMsgID: String, on db: any SQLDatabase) async throws -> MessageRecord? {
        try await db.raw(
            "\(unsafeRaw: Self.select) WHERE m.room_id = \(bind: roomID) AND m.author_id = \(bind: authorID) AND m.client_msg_id = \(bind: clientMsgID)"
        ).first(decoding: MessageRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// Inserts a message, moves the room's last message and the author's read cursor.
    ///
    /// Returns nil, writing nothing, when a message with the same `clientMsgID` from this author
    /// in this room exists: one a concurrent transaction committed after the caller looked
    /// (`ON CONFLICT DO NOTHING` on `messages_client_id`; PostgreSQL waits for that transaction).
    public func insert(roomID: Int64, authorID: Int64, body: String, clientMsgID: String?, replyTo: Int64?, now: Int64, on db: any SQLDatabase) async throws -> MessageRecord? {
        struct Row: Decodable { let id: Int64 }
        guard let inserted = try await db.raw(
            """
            INSERT INTO messages (room_id, author_id, body, client_msg_id, reply_to, created_at)
            VALUES (\(bind: roomID), \(bind: authorID), \(bind: body), \(bind: clientMsgID), \(bind: replyTo), \(bind: now))
            ON CONFLICT DO NOTHING
            RETURNING id
            """
        ).first(decoding: Row.self) else { return nil }
        try await db.raw("UPDATE rooms SET last_message_id = \(bind: inserted.id), last_message_at = \(bind: now) WHERE id = \(bind: roomID)").run()
        try await db.raw(
            """
            UPDATE memberships SET last_read_message_id = \(bind: inserted.id), last_read_at = \(bind: now)
            WHERE room_id = \(bind: roomID) AND user_id = \(bind: authorID) AND last_read_message_id < \(bind: inserted.id)
            """
        ).run()
        guard let message = try await find(id: inserted.id, on: db) else { throw StoreError.noRowReturned }
        return message
    }

    /// A send's one statement when a group-committed batch is written send by send (the
    /// fallback of ``MessageService/insertBatch(_:now:verification:messages:on:)``): inserts the
    /// message only when the author is a member of the room, not muted there, the room is not a
    /// direct room its other person left (and, with `requireVerified`, has a verified email, and
    /// `replyTo`, when given, is a message of this room), unless this author's `clientMsgID` is
    /// stored in this room already (`ON CONFLICT DO NOTHING` on `messages_client_id`, which also
    /// sees a row written earlier in the same transaction). Returns the stored message with its
    /// author's display fields, or nil when nothing was written (the caller finds out why).
    ///
    /// Does not move the room's last message or the author's read cursor:
    /// ``moveLastMessages(_:on:)`` does that once per batch.
    public func insertIfAllowed(
        roomID: Int64, authorID: Int64, body: String, clientMsgID: String?, replyTo: Int64?, requireVerified: Bool, now: Int64,
        on db: any SQLDatabase
    ) async throws -> MessageRecord? {
        struct Row: Decodable { let id: Int64; let authorUsername: String?; let authorDisplayName: String?; let authorGuestExpiresAt: Int64? }
        // CASTs: PostgreSQL types a select list's parameters as text unless told.
        var query: SQLQueryString = """
            INSERT INTO messages (room_id, author_id, body, client_msg_id, reply_to, created_at)
            SELECT CAST(\(bind: roomID) AS BIGINT), CAST(\(bind: authorID) AS BIGINT), CAST(\(bind: body) AS TEXT),
                   CAST(\(bind: clientMsgID) AS TEXT), CAST(\(bind: replyTo) AS BIGINT), CAST(\(bind: now) AS BIGINT)
            WHERE EXISTS (SELECT 1 FROM memberships WHERE room_id = \(bind: roomID) AND user_id = \(bind: authorID))
              AND NOT EXISTS (SELECT 1 FROM room_mutes WHERE room_id = \(bind: roomID) AND user_id = \(bind: authorID) AND expires_at > \(bind: now))
              AND NOT EXISTS (SELECT 1 FROM rooms WHERE id = \(bind: roomID) AND kind = 'direct'
                              AND (SELECT COUNT(*) FROM memberships WHERE room_id = \(bind: roomID)) < 2)
            """
        if requireVerified {
            query += " AND EXISTS (SELECT 1 FROM users WHERE id = \(bind: authorID) AND email_verified_at IS NOT NULL)"
        }
        if let replyTo {
            query += " AND EXISTS (SELECT 1 FROM messages WHERE id = \(bind: replyTo) AND room_id = \(bind: roomID) AND deleted_at IS NULL)"
        }
        query += """

            ON CONFLICT DO NOTHING
            RETURNING id, (SELECT username FROM users WHERE users.id = author_id) AS author_username,
                      (SELECT display_name FROM users WHERE users.id = author_id) AS author_display_name,
                      (SELECT guest_expires_at FROM users WHERE users.id = author_id) AS author_guest_expires_at
            """
        guard let row = try await db.raw(query).first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns) else { return nil }
        var record = MessageRecord(
            id: row.id, roomId: roomID, authorId: authorID, body: body, clientMsgId: clientMsgID, replyTo: replyTo, createdAt: now,
            editedAt: nil, authorUsername: row.authorUsername, authorDisplayName: row.authorDisplayName
        )
        record.authorGuestExpiresAt = row.authorGuestExpiresAt
        if let replyTo { try await addParent(replyTo, to: &record, on: db) }
        return record
    }

    /// Fills a reply's parent fields (one statement, only for a reply).
    func addParent(_ parentID: Int64, to record: inout MessageRecord, on db: any SQLDatabase) async throws {
        struct Parent: Decodable { let authorId: Int64; let username: String; let displayName: String; let body: String; let deletedAt: Int64? }
        guard let parent = try await db.raw(
            """
            SELECT p.author_id, u.username, u.display_name, SUBSTR(p.body, 1, 400) AS body, p.deleted_at
            FROM messages p JOIN users u ON u.id = p.author_id WHERE p.id = \(bind: parentID)
            """
        ).first(decoding: Parent.self, keyDecodingStrategy: .snakeCaseColumns) else { return }
        record.parentAuthorId = parent.authorId
        record.parentUsername = parent.username
        record.parentDisplayName = parent.displayName
        record.parentBody = parent.body
        record.parentDeletedAt = parent.deletedAt
    }

    /// After a batch of ``insertIfAllowed(roomID:authorID:body:clientMsgID:replyTo:requireVerified:now:on:)``:
    /// each room's last message becomes its newest of the batch, each author's read cursor in the
    /// room moves to their newest there (never back), as ``insert(roomID:authorID:body:clientMsgID:replyTo:now:on:)``
    /// does per message: two statements for the whole batch (`WITH v(…) AS (VALUES …) UPDATE … FROM v`,
    /// which SQLite ≥ 3.33 and PostgreSQL both take).
    public func moveLastMessages(_ inserted: [MessageRecord], on db: any SQLDatabase) async throws {
        var newestInRoom: [Int64: MessageRecord] = [:]
        var newestOfAuthor: [Pair: MessageRecord] = [:]
        for message in inserted {
            if (newestInRoom[message.roomId]?.id ?? .min) < message.id { newestInRoom[message.roomId] = message }
            let pair = Pair(roomID: message.roomId, authorID: message.authorId)
            if (newestOfAuthor[pair]?.id ?? .min) < message.id { newestOfAuthor[pair] = message }
        }
        guard !newestInRoom.isEmpty else { return }
        var rooms: SQLQueryString = "WITH v(room_id, message_id, at) AS (VALUES "
        for (index, message) in newestInRoom.values.sorted(by: { $0.roomId < $1.roomId }).enumerated() {
            rooms += "\(unsafeRaw: index == 0 ? "" : ", ")(\(bind: message.roomId), \(bind: message.id), \(bind: message.createdAt))"
        }
        rooms += ") UPDATE rooms SET last_message_id = v.message_id, last_message_at = v.at FROM v WHERE rooms.id = v.room_id"
        try await db.raw(rooms).run()
        var cursors: SQLQueryString = "WITH v(room_id, user_id, message_id, at) AS (VALUES "
        for (index, (pair, message)) in newestOfAuthor.sorted(by: { ($0.key.roomID, $0.key.authorID) < ($1.key.roomID, $1.key.authorID) }).enumerated() {
            cursors += "\(unsafeRaw: index == 0 ? "" : ", ")(\(bind: pair.roomID), \(bind: pair.authorID), \(bind: message.id), \(bind: message.createdAt))"
        }
        cursors += """
            ) UPDATE memberships SET last_read_message_id = v.message_id, last_read_at = v.at FROM v
            WHERE memberships.room_id = v.room_id AND memberships.user_id = v.user_id AND memberships.last_read_message_id < v.message_id
            """
        try await db.raw(cursors).run()
    }

    struct Pair: Hashable { let roomID: Int64; let authorID: Int64 }


    /// `before`: the newest `limit` messages older than it; `after`: the oldest `limit` newer than it;
    /// neither: the newest `limit`. `hasMore` says whether the walk in that direction continues.
    /// Each message carries its reactions' counts as `viewer` sees them (``ReactionStore/counts(roomID:fromID:throughID:viewer:on:)``:
    /// one more statement per page).
    public func page(roomID: Int64, before: Int64?, after: Int64?, limit: Int, viewer: Int64, on db: any SQLDatabase) async throws -> (messages: [MessageRecord], hasMore: Bool) {
        let fetch = limit + 1
        var rows: [MessageRecord]
        let hasMore: Bool
        if let after {
            rows = try await db.raw("\(unsafeRaw: Self.select) WHERE m.room_id = \(bind: roomID) AND m.id > \(bind: after) ORDER BY m.id ASC LIMIT \(bind: fetch)")
                .all(decoding: MessageRecord.self, keyDecodingStrategy: .snakeCaseColumns)
            hasMore = rows.count > limit
            rows = Array(rows.prefix(limit))
        } else {
            let upper = before ?? Int64.max
            rows = try await db.raw("\(unsafeRaw: Self.select) WHERE m.room_id = \(bind: roomID) AND m.id < \(bind: upper) ORDER BY m.id DESC LIMIT \(bind: fetch)")
                .all(decoding: MessageRecord.self, keyDecodingStrategy: .snakeCaseColumns)
            hasMore = rows.count > limit
            rows = Array(rows.prefix(limit).reversed())
        }
        if let first = rows.first, let last = rows.last {
            let counts = try await ReactionStore().counts(roomID: roomID, fromID: first.id, throughID: last.id, viewer: viewer, on: db)
            for index in rows.indices { rows[index].reactions = counts[rows[index].id] }
        }
        return (rows, hasMore)
    }
}
