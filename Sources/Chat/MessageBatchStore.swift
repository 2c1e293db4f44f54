import Accounts
import Models
import SQLKit

/// A sender's standing in a room, as a batch of sends reads it
/// (``MessageStore/standings(_:on:)``): what ``SenderStanding`` holds plus the author's
/// display fields (for the stored message) and, for a direct room, how many members it has.
struct BatchStanding: Sendable, Equatable {
    var roomExists: Bool
    /// nil: not a member.
    var role: String?
    /// ms since the epoch; nil: not verified.
    var emailVerifiedAt: Int64?
    /// When the sender's mute in the room ends (ms since the epoch; possibly past); nil: never muted there.
    var mutedUntil: Int64?
    var username: String?
    var displayName: String?
    var guestExpiresAt: Int64?
    /// Members of a direct room (nil for other kinds): fewer than two means the other person left
    /// (their account was deleted).
    var directMembers: Int64?
}

/// A reply target as a batch reads it (``MessageStore/parents(_:on:)``).
struct BatchParent: Sendable, Equatable {
    var roomID: Int64
    var authorID: Int64
    var username: String
    var displayName: String
    /// The first 400 scalars of the parent's body.
    var body: String
    var deletedAt: Int64?
}

/// One row of a batch insert's `RETURNING`.
struct BatchInserted: Sendable, Equatable {
    var id: Int64
    var roomID: Int64
    var authorID: Int64
    var clientMsgID: String?
}

/// The statements a group-committed batch of sends is written with: a fixed number per batch
/// (one standing read for every distinct sender and room, one read of the reply targets, one
/// multi-row `INSERT`, and a dedupe read only when a send may repeat a stored `clientMsgId`)
/// instead of one per send. Each is one prepare and, on PostgreSQL, one round trip.
///
/// Rows are read with `SQLRow.decode(column:as:)` rather than `Decodable` (the hot path; the
/// Codable row decoder was ~4 % of a send's CPU in the profile of docs/BENCHMARKS.md).
extension MessageStore {
    /// The standing of each (room, author) pair, keyed by the pair; a pair whose author does
    /// not exist is absent. One statement.
    func standings(_ pairs: [Pair], on db: any SQLDatabase) async throws -> [Pair: BatchStanding] {
        guard !pairs.isEmpty else { return [:] }
        // CASTs: PostgreSQL types a VALUES list's parameters only from their binds; being explicit
        // keeps the joins on BIGINT for both dialects.
        var query: SQLQueryString = "WITH v(room_id, user_id) AS (VALUES "
        for (index, pair) in pairs.enumerated() {
            query += "\(unsafeRaw: index == 0 ? "" : ", ")(CAST(\(bind: pair.roomID) AS BIGINT), CAST(\(bind: pair.authorID) AS BIGINT))"
        }
        query += """
            )
            SELECT v.room_id, v.user_id, r.id AS room_exists, m.role, u.email_verified_at, u.username, u.display_name,
                   u.guest_expires_at, mu.expires_at AS muted_until,
                   CASE WHEN r.kind = 'direct' THEN (SELECT COUNT(*) FROM memberships dm WHERE dm.room_id = v.room_id) END AS direct_members
            FROM v JOIN users u ON u.id = v.user_id
            LEFT JOIN rooms r ON r.id = v.room_id
            LEFT JOIN memberships m ON m.room_id = v.room_id AND m.user_id = v.user_id
            LEFT JOIN room_mutes mu ON mu.room_id = v.room_id AND mu.user_id = v.user_id
            """
        var result: [Pair: BatchStanding] = [:]
        for row in try await db.raw(query).all() {
            let pair = Pair(roomID: try row.decode(column: "room_id", as: Int64.self), authorID: try row.decode(column: "user_id", as: Int64.self))
            result[pair] = BatchStanding(
                roomExists: try row.decode(column: "room_exists", as: Int64?.self) != nil,
                role: try row.decode(column: "role", as: String?.self),
                emailVerifiedAt: try row.decode(column: "email_verified_at", as: Int64?.self),
                mutedUntil: try row.decode(column: "muted_until", as: Int64?.self),
                username: try row.decode(column: "username", as: String?.self),
                displayName: try row.decode(column: "display_name", as: String?.self),
                guestExpiresAt: try row.decode(column: "guest_expires_at", as: Int64?.self),
                directMembers: try row.decode(column: "direct_members", as: Int64?.self)
            )
        }
        return result
    }

    /// The messages `ids` name, with their authors' names, keyed by id (absent: no such message).
    ///
    /// On PostgreSQL the rows are locked until the batch commits (`FOR SHARE OF p`: an edit or a
    /// delete of a reply target waits for the batch; one in progress is waited for and read as
    /// it committed). Without the lock a delete committing between this read and the batch's
    /// COMMIT left a stored reply announcing the deleted body as its excerpt. Taken before the
    /// batch's INSERT locks its rooms' rows (the foreign key), in the order a room deletion
    /// takes them (``RoomStore/delete(id:on:)``: the room's messages, then the room), so the two
    /// never wait for each other in a cycle.
    func parents(_ ids: [Int64], on db: any SQLDatabase) async throws -> [Int64: BatchParent] {
        guard !ids.isEmpty else { return [:] }
        var query: SQLQueryString = """
            SELECT p.id, p.room_id, p.author_id, u.username, u.display_name, SUBSTR(p.body, 1, 400) AS body, p.deleted_at
            FROM messages p JOIN users u ON u.id = p.author_id WHERE p.id IN (
            """
        for (index, id) in ids.enumerated() {
            query += "\(unsafeRaw: index == 0 ? "" : ", ")\(bind: id)"
        }
        query += ")"
        if db.dialect.name == "postgresql" { query += " FOR SHARE OF p" }
        var result: [Int64: BatchParent] = [:]
        for row in try await db.raw(query).all() {
            result[try row.decode(column: "id", as: Int64.self)] = BatchParent(
                roomID: try row.decode(column: "room_id", as: Int64.self),
                authorID: try row.decode(column: "author_id", as: Int64.self),
                username: try row.decode(column: "username", as: String.self),
                displayName: try row.decode(column: "display_name", as: String.self),
                body: try row.decode(column: "body", as: String.self),
                deletedAt: try row.decode(column: "deleted_at", as: Int64?.self)
            )
        }
        return result
    }

    /// Inserts `rows` in one statement, in order (so ids ascend in `rows`' order: SQLite's
    /// AUTOINCREMENT and PostgreSQL's identity both number a multi-row `VALUES` in its order),
    /// skipping any whose author's `clientMsgId` is already stored in the room
    /// (`ON CONFLICT DO NOTHING` on `messages_client_id`; PostgreSQL waits for a concurrent
    /// transaction holding the same key). Returns what was inserted, in no particular order
    /// (SQLite documents `RETURNING`'s order as arbitrary).
    func insertMany(_ rows: [MessageService.NewMessage], now: Int64, on db: any SQLDatabase) async throws -> [BatchInserted] {
        guard !rows.isEmpty else { return [] }
        var query: SQLQueryString = "INSERT INTO messages (room_id, author_id, body, client_msg_id, reply_to, created_at) VALUES "
        for (index, new) in rows.enumerated() {
            query += """
                \(unsafeRaw: index == 0 ? "" : ", ")(\(bind: new.roomID), \(bind: new.authorID), \(bind: new.body), \
                \(bind: new.clientMsgID), \(bind: new.replyTo), \(bind: now))
                """
        }
        query += " ON CONFLICT DO NOTHING RETURNING id, room_id, author_id, client_msg_id"
        return try await db.raw(query).all().map { row in
            BatchInserted(
                id: try row.decode(column: "id", as: Int64.self),
                roomID: try row.decode(column: "room_id", as: Int64.self),
                authorID: try row.decode(column: "author_id", as: Int64.self),
                clientMsgID: try row.decode(column: "client_msg_id", as: String?.self)
            )
        }
    }

    /// The stored messages of `keys` (room, author, `clientMsgId`), keyed the same way. One statement.
    func find(clientMessages keys: [ClientKey], on db: any SQLDatabase) async throws -> [ClientKey: MessageRecord] {
        guard !keys.isEmpty else { return [:] }
        var query: SQLQueryString = "\(unsafeRaw: Self.select) WHERE "
        for (index, key) in keys.enumerated() {
            query += """
                \(unsafeRaw: index == 0 ? "" : " OR ")(m.room_id = \(bind: key.roomID) AND m.author_id = \(bind: key.authorID) \
                AND m.client_msg_id = \(bind: key.clientMsgID))
                """
        }
        let records = try await db.raw(query).all(decoding: MessageRecord.self, keyDecodingStrategy: .snakeCaseColumns)
        var result: [ClientKey: MessageRecord] = [:]
        for record in records {
            guard let clientMsgID = record.clientMsgId else { continue }
            result[ClientKey(roomID: record.roomId, authorID: record.authorId, clientMsgID: clientMsgID)] = record
        }
        return result
    }

    /// A send's dedupe key, equal as the `messages_client_id` index compares it: `clientMsgID` by
    /// its UTF-8 bytes. Not by Swift's `String` equality, which is canonical equivalence: "café"
    /// with a precomposed é (NFC) and with e + U+0301 (NFD) are equal strings but two keys to
    /// both databases (SQLite's BINARY collation, PostgreSQL's deterministic collations), so a
    /// batch that merged them answered the second send with the first one's message.
    struct ClientKey: Hashable, Sendable {
        let roomID: Int64
        let authorID: Int64
        let clientMsgID: String

        static func == (lhs: ClientKey, rhs: ClientKey) -> Bool {
            lhs.roomID == rhs.roomID && lhs.authorID == rhs.authorID && lhs.clientMsgID.utf8.elementsEqual(rhs.clientMsgID.utf8)
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(roomID)
            hasher.combine(authorID)
            for byte in clientMsgID.utf8 { hasher.combine(byte) }
        }
    }
}
