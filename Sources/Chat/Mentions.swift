import Accounts
import Foundation
import SQLKit

/// `@username` mentions in a message body: which names a body mentions (``usernames(in:)``, no
/// database) and which of them are members of the room (``MentionStore``, at send and edit).
///
/// The rule (docs/PROTOCOL.md, "Mentions"):
/// - a mention is `@` followed by a run of the characters usernames are made of (`A-Z a-z 0-9 _ . -`,
///   ``AccountValidation/username(_:)``); the run ends at the first other character (space,
///   punctuation other than `_ . -`, any non-ASCII letter, end of text);
/// - the `@` must start the body or follow a character that cannot be part of a username or an
///   address (so `ann@example.com` and `@@ann` mention nobody; `(@ann)`, `hi @ann,` do);
/// - `.` and `-` at the end of the run are dropped (`@ann.` at the end of a sentence is `ann`), so a
///   username ending in `.` or `-` cannot be mentioned;
/// - letter case does not matter (usernames are stored lowercased);
/// - the name must then be 3–32 characters, the username length;
/// - at most ``maxPerMessage`` distinct names count, the first ones in the body;
/// - only current members of the room other than the author are mentioned (``MentionStore``):
///   a name of nobody, of a non-member or of the author is plain text.
///
/// The same kind of rule as Slack's and Mattermost's `@username` (word-boundary start, username
/// characters, trailing punctuation not part of the name).
public enum Mentions {
    /// The most distinct usernames one message mentions (later ones are plain text).
    public static let maxPerMessage = 20

    static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "." || scalar == "-"
    }

    /// The distinct lowercased usernames `body` mentions by the rule above, in order of first
    /// appearance, at most ``maxPerMessage``.
    public static func usernames(in body: String) -> [String] {
        var names: [String] = []
        var seen = Set<String>()
        let scalars = Array(body.unicodeScalars)
        var index = 0
        while index < scalars.count, names.count < maxPerMessage {
            defer { index += 1 }
            guard scalars[index] == "@" else { continue }
            if index > 0 {
                let previous = scalars[index - 1]
                if isNameCharacter(previous) || previous == "@" || previous.properties.isAlphabetic || previous.properties.numericType != nil { continue }
            }
            var end = index + 1
            while end < scalars.count, isNameCharacter(scalars[end]) { end += 1 }
            var run = String(String.UnicodeScalarView(scalars[(index + 1)..<end])).lowercased()
            while let last = run.last, last == "." || last == "-" { run.removeLast() }
            index = end - 1
            guard (3...32).contains(run.count), !seen.contains(run) else { continue }
            seen.insert(run)
            names.append(run)
        }
        return names
    }
}

/// `message_mentions` (migration 0009): one row per (message, mentioned member), with the
/// message's room so a member's count per room is one index range.
public struct MentionStore: Sendable {
    public init() {}

    /// Records the members of the message's room among `usernames` (lowercased, from
    /// ``Mentions/usernames(in:)``), except the author, as mentioned by `messageID`; one
    /// statement, in the caller's transaction (the send's or the edit's). Returns their user ids,
    /// ascending; no statement when `usernames` is empty.
    public func record(messageID: Int64, roomID: Int64, authorID: Int64, usernames: [String], on db: any SQLDatabase) async throws -> [Int64] {
        guard !usernames.isEmpty else { return [] }
        struct Row: Decodable { let userId: Int64 }
        var query: SQLQueryString = """
            INSERT INTO message_mentions (message_id, room_id, user_id)
            SELECT CAST(\(bind: messageID) AS BIGINT), ms.room_id, ms.user_id
            FROM users u JOIN memberships ms ON ms.user_id = u.id AND ms.room_id = \(bind: roomID)
            WHERE u.id <> \(bind: authorID) AND u.username IN (
            """
        for (index, name) in usernames.enumerated() {
            query += "\(unsafeRaw: index == 0 ? "" : ", ")\(bind: name)"
        }
        query += ") ON CONFLICT DO NOTHING RETURNING user_id"
        return try await db.raw(query).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns).map(\.userId).sorted()
    }

    /// Replaces a message's mentions after an edit (or a tombstone, whose empty body mentions
    /// nobody): deletes its rows, then ``record(messageID:roomID:authorID:usernames:on:)``.
    public func replace(messageID: Int64, roomID: Int64, authorID: Int64, body: String, on db: any SQLDatabase) async throws -> [Int64] {
        try await db.raw("DELETE FROM message_mentions WHERE message_id = \(bind: messageID)").run()
        return try await record(messageID: messageID, roomID: roomID, authorID: authorID, usernames: Mentions.usernames(in: body), on: db)
    }

    /// The users each of `messageIDs` mentions (history pages), by message id; messages that
    /// mention nobody are absent.
    public func mentioned(messageIDs: [Int64], on db: any SQLDatabase) async throws -> [Int64: [Int64]] {
        guard !messageIDs.isEmpty else { return [:] }
        struct Row: Decodable { let messageId: Int64; let userId: Int64 }
        var query: SQLQueryString = "SELECT message_id, user_id FROM message_mentions WHERE message_id IN ("
        for (index, id) in messageIDs.enumerated() {
            query += "\(unsafeRaw: index == 0 ? "" : ", ")\(bind: id)"
        }
        query += ") ORDER BY message_id, user_id"
        let rows = try await db.raw(query).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        return Dictionary(grouping: rows, by: \.messageId).mapValues { $0.map(\.userId) }
    }

    /// Messages in the room after `messageID` (my read cursor) that mention `userID`, capped at
    /// ``unreadCountCap`` like the unread count.
    public func count(roomID: Int64, userID: Int64, after messageID: Int64, on db: any SQLDatabase) async throws -> Int {
        struct Row: Decodable { let n: Int64 }
        let row = try await db.raw(
            """
            SELECT COUNT(*) AS n FROM (
                SELECT 1 FROM message_mentions WHERE user_id = \(bind: userID) AND room_id = \(bind: roomID) AND message_id > \(bind: messageID)
                LIMIT \(unsafeRaw: String(unreadCountCap))) AS mentioned
            """
        ).first(decoding: Row.self)
        return Int(row?.n ?? 0)
    }
}
