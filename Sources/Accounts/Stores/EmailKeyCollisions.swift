import SQLKit

/// Accounts whose addresses differ only in the case of ASCII letters: the rows that stop
/// migration `0005_users_email_key` (one mailbox, one account) until an operator merges,
/// renames or deletes them. Reads the `email` column only, so it works before the migration.
public struct EmailKeyCollisions: Error, CustomStringConvertible, Sendable {
    /// The migration these rows stop.
    public static let migration = "0005_users_email_key"

    public struct Row: Decodable, Sendable, Equatable {
        public let id: Int64
        public let email: String
        public let username: String
    }

    /// Colliding accounts, grouped by their shared key; each group sorted by id.
    public let groups: [[Row]]

    public var description: String {
        var lines = [
            "migration \(Self.migration) cannot be applied: \(groups.count) email address(es) belong to more than one account "
                + "when letter case is ignored (one mailbox, one account). Merge, rename or delete these accounts, then start again:",
        ]
        for group in groups {
            lines.append("  " + AccountValidation.emailKey(group[0].email) + ": "
                + group.map { "id \($0.id) <\($0.email)> (username \($0.username))" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    /// The colliding accounts in `db`, or nil when there are none. The folding is the
    /// migration's own (ASCII letters only), spelled per dialect.
    public static func find(kind: DatabaseKind, on db: any SQLDatabase) async throws -> EmailKeyCollisions? {
        let fold = kind == .postgres ? #"lower(email COLLATE "C")"# : "lower(email)"
        let rows = try await db.raw(
            """
            SELECT id, email, username FROM users
            WHERE \(unsafeRaw: fold) IN (SELECT \(unsafeRaw: fold) FROM users GROUP BY \(unsafeRaw: fold) HAVING COUNT(*) > 1)
            ORDER BY \(unsafeRaw: fold), id
            """
        ).all(decoding: Row.self)
        guard !rows.isEmpty else { return nil }
        var groups: [[Row]] = []
        for row in rows {
            if let last = groups.last?.last, AccountValidation.emailKey(last.email) == AccountValidation.emailKey(row.email) {
                groups[groups.count - 1].append(row)
            } else {
                groups.append([row])
            }
        }
        return EmailKeyCollisions(groups: groups)
    }
}
