import Accounts
import Foundation
import Hummingbird
import Models
import SQLKit

/// Finding people to write to: `GET /api/users?q=…` (issue 18, "start a direct message by
/// searching users by name").
///
/// A user is found when their username or display name starts with `q` (any letter case:
/// Unicode, on both dialects alike, ``AccountValidation/nameKey(_:)``) and they share a room
/// with the caller, or when `q` is exactly their username (usernames are public handles: a
/// direct message can already be started by one). Disabled accounts and the caller are never
/// listed. Nothing else about a user is revealed (no email), and a prefix never finds a
/// stranger, so the endpoint cannot be used to list the server's users.
public struct UserDirectory: Sendable {
    let database: any Database
    let store = UserDirectoryStore()

    /// The longest query, in Unicode scalars (a username is at most 32, a display name 64).
    public static let maxQueryLength = 64
    /// The most users one answer lists (`limit`, default 10).
    public static let maxLimit = 20

    public init(database: any Database) {
        self.database = database
    }

    /// Up to `limit` users for `query` (trimmed; an `@` in front is ignored), ordered by
    /// username. Throws `validation_failed` (`q`) for an empty or over-long query, or one with
    /// a control or format character (Unicode Cc, Cf).
    public func search(userID: Int64, query: String, limit: Int) async throws -> [UserSummary] {
        var q = query.trimmingCharacters(in: .whitespacesAndNewlines)
        if q.hasPrefix("@") { q.removeFirst() }
        guard !q.isEmpty else { throw ServiceError.validation(["q": "is required"]) }
        guard q.unicodeScalars.count <= Self.maxQueryLength else {
            throw ServiceError.validation(["q": "must be at most \(Self.maxQueryLength) characters"])
        }
        // No name holds one (AccountValidation.displayName, username), and PostgreSQL refuses
        // a NUL in text outright.
        guard case .success = AccountValidation.freeText(q) else {
            throw ServiceError.validation(["q": "must not contain control characters"])
        }
        let key = AccountValidation.nameKey(q)
        return try await database.read { db in
            try await store.search(userID: userID, key: key, limit: limit, on: db)
        }
    }

    /// `text` as a LIKE prefix pattern with `\` escaping `%`, `_` and `\` (ESCAPE '\').
    static func likePrefix(_ text: String) -> String {
        likeEscaped(text) + "%"
    }

    /// `text` for a LIKE pattern, `\` escaping `%`, `_` and `\` (ESCAPE '\').
    public static func likeEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text.unicodeScalars {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.unicodeScalars.append(character)
        }
        return escaped
    }

    /// The least string greater than every string that starts with `prefix`, in code point
    /// order (UTF-8 byte order, as SQLite's BINARY and PostgreSQL's "C" collations compare): the
    /// last scalar that can be incremented is, and the ones after it dropped; nil when there is
    /// none (every scalar is U+10FFFF), i.e. no upper bound. So `key >= prefix AND key < bound`
    /// is exactly "starts with prefix", and one index range serves it.
    static func prefixUpperBound(_ prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }  // surrogates are not scalars
            if let scalar = Unicode.Scalar(next) {
                scalars.append(scalar)
                var bound = ""
                bound.unicodeScalars.append(contentsOf: scalars)
                return bound
            }
        }
        return nil
    }
}

/// The SQL behind ``UserDirectory``, the same on both dialects. Names are matched by their
/// keys, folded in Swift (``AccountValidation/nameKey(_:)``), never by SQL's `lower()` (SQLite's
/// folds ASCII only; PostgreSQL's depends on the database's `LC_CTYPE`): a display name by
/// `users.display_name_key` (migration 0015; a prefix is one range of it, which its index
/// can serve, the column being byte-ordered on both dialects), a username as stored (always
/// `[a-z0-9_.-]`, its own key). Two branches, so neither dialect scans `users`: the exact username is a lookup of its
/// unique index; a prefix is tried only on the caller's contacts (the members of the caller's
/// rooms, through the memberships indexes, then the users primary key).
public struct UserDirectoryStore: Sendable {
    struct Row: Decodable {
        let id: Int64
        let username: String
        let displayName: String
        let guestExpiresAt: Int64?
    }

    /// Up to `limit` users for the folded query `key` (``AccountValidation/nameKey(_:)``), the
    /// exact username first, then by username.
    public func search(userID: Int64, key: String, limit: Int, on db: any SQLDatabase) async throws -> [UserSummary] {
        let upper: SQLQueryString = UserDirectory.prefixUpperBound(key).map { "AND u.display_name_key < \(bind: $0)" } ?? ""
        // Byte order on both dialects (PostgreSQL's database collation may order '.', '_', '-' otherwise).
        let byUsername = db.dialect.name == "postgresql" ? #"username COLLATE "C""# : "username"
        let rows = try await db.raw(
            """
            SELECT id, username, display_name, guest_expires_at FROM (
                SELECT u.id, u.username, u.display_name, u.guest_expires_at, 0 AS exact_first FROM users u
                WHERE u.username = \(bind: key) AND u.id <> \(bind: userID) AND u.disabled_at IS NULL
                UNION
                SELECT u.id, u.username, u.display_name, u.guest_expires_at, CASE WHEN u.username = \(bind: key) THEN 0 ELSE 1 END AS exact_first
                FROM users u
                WHERE u.id IN (SELECT theirs.user_id FROM memberships mine JOIN memberships theirs ON theirs.room_id = mine.room_id
                               WHERE mine.user_id = \(bind: userID))
                  AND u.id <> \(bind: userID) AND u.disabled_at IS NULL
                  AND (u.username LIKE \(bind: UserDirectory.likePrefix(key)) ESCAPE '\\' OR (u.display_name_key >= \(bind: key) \(upper)))
            ) found
            ORDER BY exact_first, \(unsafeRaw: byUsername)
            LIMIT \(bind: limit)
            """
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        return rows.map { UserSummary(id: $0.id, username: $0.username, displayName: $0.displayName, guest: $0.guestExpiresAt != nil) }
    }
}

/// `GET /api/users?q=…&limit=…` (``UserDirectory``).
public struct UsersController<Context: IdentityRequestContext>: Sendable {
    let directory: UserDirectory
    let tokens: AccessTokenService

    public init(directory: UserDirectory, tokens: AccessTokenService) {
        self.directory = directory
        self.tokens = tokens
    }

    public func addRoutes(to group: RouterGroup<Context>) {
        group.group().add(middleware: BearerAuthenticator<Context>(tokens: tokens)).get("users", use: search)
    }

    struct UsersResponse: ResponseEncodable {
        let users: [UserSummary]
    }

    /// `q` (required, ≤ 64 characters), `limit` (1–20, default 10).
    @Sendable func search(_ request: Request, context: Context) async throws -> UsersResponse {
        let identity = try context.requireIdentity()
        let query = request.uri.queryParameters
        var problems: [String: String] = [:]
        let limit = RoomsController<Context>.pageSize(query, max: UserDirectory.maxLimit, default: 10, problems: &problems)
        if !problems.isEmpty { throw ServiceError.validation(problems) }
        return UsersResponse(users: try await directory.search(userID: identity.userID, query: query.get("q") ?? "", limit: limit))
    }
}
