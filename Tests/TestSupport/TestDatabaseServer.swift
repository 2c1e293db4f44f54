import Accounts
import Foundation

/// The databases the database-facing tests run against: SQLite always, PostgreSQL when
/// TEST_DATABASE_URL is set (scripts/test starts one). Shared by AccountsTests and ServerTests.
public enum TestDatabaseServer {
    public static var kinds: [DatabaseKind] {
        ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    /// Creates a uniquely named database on the test server (via psql, which scripts/test
    /// provides through PG_BINDIR) so tests running in parallel never share one.
    public static func freshPostgresDatabase() throws -> DatabaseLocation.PostgresLocation {
        guard let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"],
              case .postgres(var location) = try DatabaseLocation.parse(url) else {
            throw SetupError("TEST_DATABASE_URL is not a postgres URL")
        }
        let name = "sb_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let psql = ProcessInfo.processInfo.environment["PG_BINDIR"].map { "\($0)/psql" } ?? "psql"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [psql, "-h", location.host, "-p", String(location.port), "-U", location.username, "-d", location.database, "-qc", "CREATE DATABASE \(name)"]
        var environment = ProcessInfo.processInfo.environment
        if let password = location.password { environment["PGPASSWORD"] = password }
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw SetupError("psql CREATE DATABASE failed") }
        location.database = String(name)
        return location
    }

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }
}
