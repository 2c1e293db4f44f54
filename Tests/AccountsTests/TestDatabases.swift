import Accounts
import Foundation
import Logging
import PostgresNIO
import SQLKit

/// The databases every store test runs against: SQLite always, PostgreSQL when
/// TEST_DATABASE_URL is set (scripts/test starts one).
enum TestDatabases {
    static var kinds: [DatabaseKind] {
        ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }

    static var migrationsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Migrations").path
    }

    /// A fresh, migrated database of `kind` for the duration of `body`.
    static func with<T: Sendable>(_ kind: DatabaseKind, migrate: Bool = true, _ body: @Sendable (any Database) async throws -> T) async throws -> T {
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
            let location = try freshPostgresDatabase()
            let db = PostgresDatabase(location: location, maxConnections: 4, logger: logger)
            return try await db.runWhile {
                if migrate { try await runMigrations(db) }
                return try await body(db)
            }
        }
    }

    static func runMigrations(_ db: any Database) async throws {
        let migrations = try MigrationLoader.load(directory: migrationsDirectory, kind: db.kind)
        try await MigrationRunner(database: db, migrations: migrations, logger: logger).apply()
    }

    /// Creates a uniquely named database on the test server (via psql, which scripts/test provides).
    static func freshPostgresDatabase() throws -> DatabaseLocation.PostgresLocation {
        guard let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"],
              case .postgres(var location) = try DatabaseLocation.parse(url) else {
            throw TestSetupError("TEST_DATABASE_URL is not a postgres URL")
        }
        let name = "sb_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try createDatabase(named: String(name), on: location)
        location.database = String(name)
        return location
    }

    static func createDatabase(named name: String, on location: DatabaseLocation.PostgresLocation) throws {
        let psql = ProcessInfo.processInfo.environment["PG_BINDIR"].map { "\($0)/psql" } ?? "psql"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [psql, "-h", location.host, "-p", String(location.port), "-U", location.username, "-d", location.database, "-qc", "CREATE DATABASE \(name)"]
        var environment = ProcessInfo.processInfo.environment
        if let password = location.password { environment["PGPASSWORD"] = password }
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestSetupError("psql CREATE DATABASE failed") }
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
