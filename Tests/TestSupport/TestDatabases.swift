import Accounts
import Foundation
import Logging
import PostgresNIO
import SQLKit

/// The databases every store test runs against: SQLite always, PostgreSQL when
/// TEST_DATABASE_URL is set (scripts/test starts one).
public enum TestDatabases {
    public static var kinds: [DatabaseKind] { TestDatabaseServer.kinds }

    public static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }

    public static var migrationsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Migrations").path
    }

    /// A fresh, migrated database of `kind` for the duration of `body`.
    public static func with<T: Sendable>(_ kind: DatabaseKind, migrate: Bool = true, _ body: @Sendable (any Database) async throws -> T) async throws -> T {
        switch kind {
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbtest-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let db = try await SQLiteDatabase.open(path: dir.appendingPathComponent("test.sqlite").path, logger: logger)
            do {
                if migrate { try await runMigrations(db) }
                let value = try await body(db)
                await db.shutdown()
                return value
            } catch {
                await db.shutdown()
                throw error
            }
        case .postgres:
            let location = try TestDatabaseServer.freshPostgresDatabase()
            let db = await PostgresDatabase.open(location: location, maxConnections: 4, logger: logger)
            do {
                if migrate { try await runMigrations(db) }
                let value = try await body(db)
                await db.shutdown()
                return value
            } catch {
                await db.shutdown()
                throw error
            }
        }
    }

    public static func runMigrations(_ db: any Database) async throws {
        let migrations = try MigrationLoader.load(directory: migrationsDirectory, kind: db.kind)
        try await MigrationRunner(database: db, migrations: migrations, logger: logger).apply()
    }
}

/// A test could not set up what it needs (not a failure of the code under test).
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
