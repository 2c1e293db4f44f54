import Accounts
import Foundation
import SQLKit
import Testing
import TestSupport

@Suite("Migrations")
struct MigrationTests {
    @Test("applies every migration once and records it", arguments: TestDatabases.kinds)
    func appliesOnce(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind, migrate: false) { db in
            let migrations = try MigrationLoader.load(directory: TestDatabases.migrationsDirectory, kind: kind)
            let runner = MigrationRunner(database: db, migrations: migrations, logger: TestDatabases.logger)
            let before = try await runner.status()
            #expect(before.applied.isEmpty)
            #expect(before.pending == migrations.map(\.name))
            let applied = try await runner.apply()
            #expect(applied == migrations.map(\.name))
            #expect(try await runner.apply().isEmpty)
            let after = try await runner.status()
            #expect(after.pending.isEmpty)
            #expect(after.applied == migrations.map(\.name))
        }
    }

    @Test("concurrent runners apply each migration exactly once", arguments: TestDatabases.kinds)
    func concurrentRunners(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind, migrate: false) { db in
            let migrations = try MigrationLoader.load(directory: TestDatabases.migrationsDirectory, kind: kind)
            let results = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<3 {
                    group.addTask { try await MigrationRunner(database: db, migrations: migrations, logger: TestDatabases.logger).apply() }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(results.sorted() == migrations.map(\.name).sorted())
        }
    }

    @Test("a changed applied migration stops start-up", arguments: TestDatabases.kinds)
    func checksumMismatch(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            var migrations = try MigrationLoader.load(directory: TestDatabases.migrationsDirectory, kind: kind)
            migrations[0] = Migration(name: migrations[0].name, sql: migrations[0].sql + "\n-- edited\n")
            await #expect(throws: MigrationRunner.ChecksumMismatch.self) {
                try await MigrationRunner(database: db, migrations: migrations, logger: TestDatabases.logger).apply()
            }
        }
    }

    @Test("a failing migration leaves nothing half-applied", arguments: TestDatabases.kinds)
    func failingMigrationRollsBack(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            var migrations = try MigrationLoader.load(directory: TestDatabases.migrationsDirectory, kind: kind)
            migrations.append(Migration(name: "9999_broken", sql: "CREATE TABLE half_done (id INTEGER);\nTHIS IS NOT SQL;"))
            let runner = MigrationRunner(database: db, migrations: migrations, logger: TestDatabases.logger)
            await #expect(throws: (any Error).self) { try await runner.apply() }
            #expect(try await runner.status().pending == ["9999_broken"])
            // The table created before the failing statement was rolled back with it.
            try await db.write { sql in try await sql.raw("CREATE TABLE half_done (id INTEGER)").run() }
        }
    }

    @Test("the splitter keeps semicolons inside strings and drops comments")
    func splitter() {
        let migration = Migration(name: "0001_x", sql: "-- a comment; with semicolon\nCREATE TABLE a (b TEXT DEFAULT 'x;y');\n\nINSERT INTO a VALUES ('z'); -- trailing\n")
        #expect(migration.statements == ["CREATE TABLE a (b TEXT DEFAULT 'x;y')", "INSERT INTO a VALUES ('z')"])
    }

    @Test("the splitter keeps a trigger's body, up to its END, in one statement")
    func splitterTrigger() {
        let sql = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n    INSERT INTO b VALUES (1);\n    INSERT INTO b VALUES (2);\nEND;\nCREATE TABLE append_end (x TEXT);\nSELECT 1"
        #expect(Migration(name: "0001_x", sql: sql).statements == [
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n    INSERT INTO b VALUES (1);\n    INSERT INTO b VALUES (2);\nEND",
            "CREATE TABLE append_end (x TEXT)", "SELECT 1",
        ])
    }
}
