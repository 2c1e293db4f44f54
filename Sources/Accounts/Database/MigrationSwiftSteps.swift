import SQLKit

/// The part of a migration that SQL cannot compute, run by ``MigrationRunner`` in the
/// migration's own transaction right after its statements: applied with it or not at all, and
/// never run again once the migration is recorded. Keyed by the migration's name; the SQL file's
/// checksum does not cover it, so a step is never changed after release (add a migration instead).
enum MigrationSwiftSteps {
    static func step(for migration: String) -> (@Sendable (any SQLDatabase) async throws -> Void)? {
        switch migration {
        case "0015_users_name_key": return backfillDisplayNameKeys
        default: return nil
        }
    }

    /// Migration 0015: `users.display_name_key` of every existing row
    /// (``AccountValidation/nameKey(_:)``, which neither dialect's SQL can compute).
    @Sendable static func backfillDisplayNameKeys(on db: any SQLDatabase) async throws {
        struct Row: Decodable { let id: Int64; let displayName: String }
        let rows = try await db.raw("SELECT id, display_name FROM users")
            .all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        for row in rows {
            try await db.raw(
                "UPDATE users SET display_name_key = \(bind: AccountValidation.nameKey(row.displayName)) WHERE id = \(bind: row.id)"
            ).run()
        }
    }
}
