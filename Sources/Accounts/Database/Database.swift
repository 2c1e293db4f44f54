import Logging
import SQLKit

/// The SQL dialect a ``Database`` speaks; migrations pick their dialect folder by it.
public enum DatabaseKind: String, Sendable {
    case sqlite
    case postgres
}

/// The one way stores reach SQL.
///
/// `read` runs on any connection and must not write; `write` runs its body in a
/// transaction that commits when the body returns and rolls back when it throws.
/// SQLite serialises writers in-process (one writer connection), so a burst of
/// writers waits on an async queue instead of spinning in `busy_timeout` on the
/// shared thread pool.
public protocol Database: Sendable {
    var kind: DatabaseKind { get }
    func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// A connection held for the whole body, outside any transaction (migrations use it to hold a lock).
    func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Cheap liveness probe used by `/health`.
    func ping() async throws
    func shutdown() async
}

extension Database {
    public func ping() async throws {
        _ = try await read { db in try await db.raw("SELECT 1 AS one").first() }
    }
}

/// Runs `body` between BEGIN and COMMIT on `db`, rolling back on error.
func runTransaction<T: Sendable>(
    on db: any SQLDatabase,
    begin: String = "BEGIN",
    _ body: @Sendable (any SQLDatabase) async throws -> T
) async throws -> T {
    try await db.raw(SQLQueryString(begin)).run()
    do {
        let value = try await body(db)
        try await db.raw("COMMIT").run()
        return value
    } catch {
        try? await db.raw("ROLLBACK").run()
        throw error
    }
}
