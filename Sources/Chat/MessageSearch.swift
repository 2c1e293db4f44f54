import Accounts
import Foundation
import Models

/// Message search: `GET /api/search/messages` over the rooms the caller is a member of
/// (``MessageSearchStore``: SQLite FTS5, PostgreSQL `tsvector` + GIN).
///
/// The query is read as literal words: ``terms(in:)`` keeps the runs of letters, marks and digits
/// and drops everything else, so full-text syntax (`"`, `*`, `NEAR(`, `AND`, `-`, `:`) is never
/// syntax: `NEAR(` searches for the word "near", `*` for nothing (no words: no results).
/// A message matches when it holds every word (AND), in any letter case (and on SQLite in any
/// diacritics: `unicode61 remove_diacritics 2`; PostgreSQL's `simple` configuration keeps them).
/// Whole words only: no stemming, no prefixes.
public struct MessageSearch: Sendable {
    let database: any Database
    let rooms = RoomStore()
    let store = MessageSearchStore()

    /// The longest query, in Unicode scalars (longer: 400 `search_query_too_long`).
    public static let maxQueryLength = 256
    /// The most words a query may have (more: 400 `search_query_too_long`).
    public static let maxTerms = 16
    /// The largest page (`limit`); the default is 20.
    public static let maxPageSize = 50
    /// Only the best this many hits can be paged to (deep offsets cost the whole ranking).
    public static let maxResults = 500

    public init(database: any Database) {
        self.database = database
    }

    /// A part of a hit's excerpt: `match` marks a word the query matched.
    public struct SnippetPart: Codable, Sendable, Equatable {
        public var text: String
        public var match: Bool
    }

    /// One result: the message's ids, author and time, and an excerpt of its body around the
    /// matched words (at most about 16–20 words; `…` where SQLite cut the body).
    public struct Hit: Codable, Sendable, Equatable {
        public var id: Int64
        public var roomId: Int64
        public var authorId: Int64
        public var author: UserSummary
        public var createdAt: String
        public var snippet: [SnippetPart]
    }

    public struct Page: Codable, Sendable, Equatable {
        public var results: [Hit]
        /// Pass as `cursor` for the next page; nil at the end.
        public var nextCursor: String?
    }

    /// The words of `query`: maximal runs of letters (L*), combining marks (M*) and digits (N*),
    /// as SQLite's unicode61 tokenizer splits text; distinct, in order.
    ///
    /// Throws `search_query_too_long` past ``maxQueryLength`` scalars or ``maxTerms`` words.
    public static func terms(in query: String) throws -> [String] {
        guard AccountValidation.length(query) <= maxQueryLength else {
            throw ServiceError(.searchQueryTooLong, message: "A search may be at most \(maxQueryLength) characters long.")
        }
        var terms: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty {
                let term = String(current)
                if !terms.contains(term) { terms.append(term) }
                current = String.UnicodeScalarView()
            }
        }
        for scalar in query.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
                current.append(scalar)
            default:
                flush()
            }
        }
        flush()
        guard terms.count <= maxTerms else {
            throw ServiceError(.searchQueryTooLong, message: "A search may have at most \(maxTerms) words.")
        }
        return terms
    }

    /// Searches the caller's rooms (only `roomID` when given) for `query`.
    ///
    /// - Parameters:
    ///   - limit: 1...``maxPageSize`` (the controller validates it).
    ///   - cursor: a previous page's `nextCursor`.
    /// - Throws: `search_query_too_long`; `validation_failed` (`q` empty, a cursor not from a
    ///   previous page); `room_not_found` for a `roomID` that does not exist or that the caller
    ///   is not a member of (the same answer, so a room's existence does not leak).
    public func search(userID: Int64, query: String, roomID: Int64?, limit: Int, cursor: String?) async throws -> Page {
        let terms = try Self.terms(in: query)
        if query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ServiceError.validation(["q": "is required"]) }
        var offset = 0
        if let cursor {
            guard let value = Int(cursor), value > 0, value < Self.maxResults, String(value) == cursor else {
                throw ServiceError.validation(["cursor": "must be a nextCursor of a previous page"])
            }
            offset = value
        }
        let kind = database.kind
        return try await database.read { [offset] db in
            if let roomID, try await rooms.membership(roomID: roomID, userID: userID, on: db) == nil { throw ServiceError.roomNotFound }
            guard !terms.isEmpty else { return Page(results: [], nextCursor: nil) }
            let take = min(limit, Self.maxResults - offset)
            let rows = try await store.search(kind: kind, userID: userID, terms: terms, roomID: roomID, limit: take + 1, offset: offset, on: db)
            let more = rows.count > take && offset + take < Self.maxResults
            return Page(results: rows.prefix(take).map(Self.hit), nextCursor: more ? String(offset + take) : nil)
        }
    }

    static func hit(_ row: MessageSearchRow) -> Hit {
        Hit(
            id: row.id, roomId: row.roomId, authorId: row.authorId,
            author: UserSummary(id: row.authorId, username: row.authorUsername, displayName: row.authorDisplayName),
            createdAt: WireTime.string(millis: row.createdAt), snippet: snippetParts(row.snippet)
        )
    }

    /// Splits an excerpt marked with ``MessageSearchStore/matchStart`` / ``MessageSearchStore/matchEnd``
    /// into parts; adjacent parts of the same kind are merged, empty ones dropped.
    public static func snippetParts(_ marked: String) -> [SnippetPart] {
        var parts: [SnippetPart] = []
        var current = String.UnicodeScalarView()
        var inMatch = false
        func flush() {
            guard !current.isEmpty else { return }
            if let last = parts.last, last.match == inMatch {
                parts[parts.count - 1].text += String(current)
            } else {
                parts.append(SnippetPart(text: String(current), match: inMatch))
            }
            current = String.UnicodeScalarView()
        }
        for scalar in marked.unicodeScalars {
            if scalar == "\u{2}" { flush(); inMatch = true } else if scalar == "\u{3}" { flush(); inMatch = false } else { current.append(scalar) }
        }
        flush()
        return parts
    }
}
