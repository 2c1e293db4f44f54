import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import Server
import Accounts
import TestSupport

/// A test application on a fresh data directory, SQLite or PostgreSQL.
enum TestApp {
    static var databaseKinds: [DatabaseKind] { TestDatabaseServer.kinds }

    static func configuration(_ kind: DatabaseKind = .sqlite) throws -> AppConfiguration {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbapp-\(UUID().uuidString)").path
        var database: DatabaseLocation?
        if kind == .postgres { database = .postgres(try TestDatabaseServer.freshPostgresDatabase()) }
        return AppConfiguration.forTesting(dataDirectory: dir, database: database)
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
