import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import Server
import Accounts

/// A test application on a fresh data directory, SQLite or PostgreSQL.
enum TestApp {
    static var databaseKinds: [DatabaseKind] {
        ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    static func configuration(_ kind: DatabaseKind = .sqlite) throws -> AppConfiguration {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbapp-\(UUID().uuidString)").path
        var database: DatabaseLocation?
        if kind == .postgres { database = .postgres(try freshPostgresDatabase()) }
        return AppConfiguration.forTesting(dataDirectory: dir, database: database)
    }

    static func freshPostgresDatabase() throws -> DatabaseLocation.PostgresLocation {
        guard let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], case .postgres(var location) = try DatabaseLocation.parse(url) else {
            throw CocoaError(.featureUnsupported)
        }
        let name = "sb_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let psql = ProcessInfo.processInfo.environment["PG_BINDIR"].map { "\($0)/psql" } ?? "psql"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [psql, "-h", location.host, "-p", String(location.port), "-U", location.username, "-d", location.database, "-qc", "CREATE DATABASE \(name)"]
        try process.run()
        process.waitUntilExit()
        location.database = String(name)
        return location
    }

    static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }
    var errorCode: String? {
        (json["error"] as? [String: Any])?["code"] as? String
    }
}

extension ByteBuffer {
    static func json(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }
}
