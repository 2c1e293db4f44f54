import Accounts
import Foundation
import SQLKit

/// One search hit as the store reads it; the snippet carries ``MessageSearchStore/matchStart`` /
/// ``MessageSearchStore/matchEnd`` around each matched word.
public struct MessageSearchRow: Codable, Sendable, Equatable {
    public var id: Int64
    public var roomId: Int64
    public var authorId: Int64
    public var createdAt: Int64
    public var authorUsername: String
    public var authorDisplayName: String
    public var snippet: String
}

/// Full-text search over message bodies with the database's own engine (migration 0009):
/// SQLite FTS5 (`messages_fts`, an external-content table kept in step with `messages` by
/// triggers; ranked by `bm25`, excerpted by `snippet`), PostgreSQL `to_tsvector('simple', body)`
/// under the GIN index `messages_body_fts` (ranked by `ts_rank`, excerpted by `ts_headline`).
///
/// Every query starts from the full-text index and joins the caller's memberships, so only
/// rooms the caller is a member of are read, and no table is scanned.
public struct MessageSearchStore: Sendable {
    public init() {}

    /// Marks the start and end of a matched word in ``MessageSearchRow/snippet``. Control
    /// characters (STX, ETX): message bodies cannot contain them (``AccountValidation/freeText(_:multiline:)``),
    /// so a marker is never text.
    public static let matchStart = "\u{2}"
    public static let matchEnd = "\u{3}"

    /// The FTS5 query for `terms`: each term a quoted string (`"` doubled inside, though
    /// ``MessageSearch/terms(in:)`` never yields one), joined by spaces, which FTS5 reads as
    /// AND. Quoted, no term is read as syntax (`AND`, `NEAR`, `*`, `^`, column filters).
    public static func fts5Query(_ terms: [String]) -> String {
        terms.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: " ")
    }

    /// The SQL of ``search(userID:terms:roomID:limit:offset:on:)`` (tests read its plan).
    public func query(kind: DatabaseKind, userID: Int64, terms: [String], roomID: Int64?, limit: Int, offset: Int) -> SQLQueryString {
        switch kind {
        case .sqlite:
            let inRoom: SQLQueryString = roomID.map { " AND m.room_id = \(bind: $0)" } ?? ""
            return """
                SELECT m.id, m.room_id, m.author_id, m.created_at, u.username AS author_username, u.display_name AS author_display_name,
                       snippet(messages_fts, 0, \(bind: Self.matchStart), \(bind: Self.matchEnd), \(bind: "…"), 16) AS snippet
                FROM messages_fts
                JOIN messages m ON m.id = messages_fts.rowid
                JOIN memberships ms ON ms.room_id = m.room_id AND ms.user_id = \(bind: userID)
                JOIN users u ON u.id = m.author_id
                WHERE messages_fts MATCH \(bind: Self.fts5Query(terms))\(inRoom)
                ORDER BY bm25(messages_fts), m.id DESC
                LIMIT \(bind: limit) OFFSET \(bind: offset)
                """
        case .postgres:
            let inRoom: SQLQueryString = roomID.map { " AND m.room_id = \(bind: $0)" } ?? ""
            let words = terms.joined(separator: " ")
            let options = "StartSel=\(Self.matchStart), StopSel=\(Self.matchEnd), MaxWords=20, MinWords=8"
            return """
                SELECT m.id, m.room_id, m.author_id, m.created_at, u.username AS author_username, u.display_name AS author_display_name,
                       ts_headline('simple', m.body, plainto_tsquery('simple', \(bind: words)), \(bind: options)) AS snippet
                FROM messages m
                JOIN memberships ms ON ms.room_id = m.room_id AND ms.user_id = \(bind: userID)
                JOIN users u ON u.id = m.author_id
                WHERE to_tsvector('simple', m.body) @@ plainto_tsquery('simple', \(bind: words))\(inRoom)
                ORDER BY ts_rank(to_tsvector('simple', m.body), plainto_tsquery('simple', \(bind: words))) DESC, m.id DESC
                LIMIT \(bind: limit) OFFSET \(bind: offset)
                """
        }
    }

    /// The best-ranked messages matching every one of `terms` (AND) in the rooms `userID` is a
    /// member of (only `roomID` when given), best first, ties newest first; `limit` rows after
    /// skipping `offset`. `terms` must not be empty.
    public func search(kind: DatabaseKind, userID: Int64, terms: [String], roomID: Int64?, limit: Int, offset: Int, on db: any SQLDatabase) async throws -> [MessageSearchRow] {
        try await db.raw(query(kind: kind, userID: userID, terms: terms, roomID: roomID, limit: limit, offset: offset))
            .all(decoding: MessageSearchRow.self, keyDecodingStrategy: .snakeCaseColumns)
    }
}
