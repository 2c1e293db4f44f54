import Foundation
import Logging

/// Opens the database a location names.
public enum DatabaseFactory {
    public static func open(_ location: DatabaseLocation, logger: Logger) async throws -> any Database {
        switch location {
        case .sqlite(let path):
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return try await SQLiteDatabase.open(path: path, logger: logger)
        case .postgres(let pg):
            return await PostgresDatabase.open(location: pg, logger: logger)
        }
    }
}
