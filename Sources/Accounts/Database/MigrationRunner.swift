import Foundation
import Logging
import SQLKit

/// Applies pending migrations, each in its own transaction, recording them in
/// `schema_migrations` (name, checksum, applied_at). A migration with a Swift step
/// (``MigrationSwiftSteps``) runs it in the same transaction, after its statements.
///
/// On PostgreSQL a session advisory lock makes concurrent starters take turns;
/// on SQLite `BEGIN IMMEDIATE` does the same per migration. Each migration is
/// re-checked inside its transaction, so a process that waited never applies
/// one twice, and a process killed mid-way leaves nothing half-applied.
public struct MigrationRunner: Sendable {
    public struct Status: Sendable, Equatable {
        public var applied: [String]
        public var pending: [String]
    }

    public struct ChecksumMismatch: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            "migration \(name) was changed after it was applied (checksum differs); migrations are append-only: add a new one instead"
        }
    }

    /// The advisory lock key (an arbitrary constant: "SWBD").
    static let advisoryLockKey: Int64 = 0x5357_4244

    let database: any Database
    let migrations: [Migration]
    let logger: Logger

    public init(database: any Database, migrations: [Migration], logger: Logger) {
        self.database = database
        self.migrations = migrations
        self.logger = logger
    }

    struct AppliedRow: Decodable {
        let name: String
        let checksum: String
    }

    public func status() async throws -> Status {
        try await database.withConnection { db in
            try await ensureTable(db)
            let applied = try await appliedMigrations(db)
            try verifyChecksums(applied)
            return Status(
                applied: migrations.map(\.name).filter { applied[$0] != nil },
                pending: migrations.map(\.name).filter { applied[$0] == nil }
            )
        }
    }

    /// Applies every pending migration; returns the names applied by this call.
    @discardableResult
    public func apply() async throws -> [String] {
        let kind = database.kind
        return try await database.withConnection { db in
            if kind == .postgres {
                try await db.raw("SELECT pg_advisory_lock(\(bind: Self.advisoryLockKey))").run()
            }
            do {
                let result = try await applyPending(db, kind: kind)
                if kind == .postgres {
                    try await db.raw("SELECT pg_advisory_unlock(\(bind: Self.advisoryLockKey))").run()
                }
                return result
            } catch {
                if kind == .postgres {
                    try? await db.raw("SELECT pg_advisory_unlock(\(bind: Self.advisoryLockKey))").run()
                }
                throw error
            }
        }
    }

    private func applyPending(_ db: any SQLDatabase, kind: DatabaseKind) async throws -> [String] {
        try await ensureTable(db)
        try verifyChecksums(try await appliedMigrations(db))
        var appliedNow: [String] = []
        for migration in migrations {
            let begin = kind == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN"
            let didApply = try await runTransaction(on: db, begin: begin) { db in
                let already = try await db.raw(
                    "SELECT name, checksum FROM schema_migrations WHERE name = \(bind: migration.name)"
                ).first(decoding: AppliedRow.self)
                if let already {
                    guard already.checksum == migration.checksum else { throw ChecksumMismatch(name: migration.name) }
                    return false
                }
                for statement in migration.statements {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await MigrationSwiftSteps.step(for: migration.name)?(db)
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await db.raw(
                    """
                    INSERT INTO schema_migrations (name, checksum, applied_at)
                    VALUES (\(bind: migration.name), \(bind: migration.checksum), \(bind: now))
                    """
                ).run()
                return true
            }
            if didApply {
                logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
                appliedNow.append(migration.name)
            }
        }
        return appliedNow
    }

    private func ensureTable(_ db: any SQLDatabase) async throws {
        try await db.raw(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                name TEXT PRIMARY KEY,
                checksum TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )
            """
        ).run()
    }

    private func appliedMigrations(_ db: any SQLDatabase) async throws -> [String: String] {
        let rows = try await db.raw("SELECT name, checksum FROM schema_migrations").all(decoding: AppliedRow.self)
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.name, $0.checksum) })
    }

    private func verifyChecksums(_ applied: [String: String]) throws {
        for migration in migrations {
            if let checksum = applied[migration.name], checksum != migration.checksum {
                throw ChecksumMismatch(name: migration.name)
            }
        }
    }
}
