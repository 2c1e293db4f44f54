import Accounts
import Logging

/// Applies pending migrations as every start-up path does (`serve` and `migrate apply`),
/// holding back a migration until the data it needs holds, with an error that names the
/// rows to fix:
///
/// - `0005_users_email_key` (one account per case-folded address): the migrations before it
///   are applied first, then it is refused while two accounts' addresses differ only in
///   letter case (``EmailKeyCollisions`` lists them, with ids, addresses and usernames).
///
/// - Returns: the names of the migrations applied.
/// - Throws: ``EmailKeyCollisions``, or whatever ``MigrationRunner/apply()`` throws.
@discardableResult
func applyMigrations(_ migrations: [Migration], on database: any Database, logger: Logger) async throws -> [String] {
    let runner = MigrationRunner(database: database, migrations: migrations, logger: logger)
    guard try await runner.status().pending.contains(EmailKeyCollisions.migration) else {
        return try await runner.apply()
    }
    let before = migrations.filter { $0.name < EmailKeyCollisions.migration }
    var applied = try await MigrationRunner(database: database, migrations: before, logger: logger).apply()
    let kind = database.kind
    if let collisions = try await database.read({ db in try await EmailKeyCollisions.find(kind: kind, on: db) }) {
        logger.critical("refusing to apply a migration", metadata: ["migration": "\(EmailKeyCollisions.migration)", "accounts": "\(collisions.groups.joined().count)"])
        throw collisions
    }
    applied += try await runner.apply()
    return applied
}
