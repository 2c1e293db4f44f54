import Accounts
import Logging

/// Runs `body` while another writer (a second connection pool on the same SQLite file, as
/// another process would be) holds the database's write lock, then releases it. Writes the app
/// makes meanwhile wait for `busy_timeout` (5 s) and then fail as SQLite busy.
public func withSQLiteWriteLockHeld<T: Sendable>(path: String, logger: Logger, _ body: () async throws -> T) async throws -> T {
    let other = try await SQLiteDatabase.open(path: path, logger: logger)
    let (locked, lockedSignal) = AsyncStream.makeStream(of: Void.self)
    let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
    let holder = Task {
        try await other.write { _ in
            lockedSignal.yield()
            for await _ in release { break }
        }
    }
    for await _ in locked { break }
    let result: Result<T, any Error>
    do { result = .success(try await body()) } catch { result = .failure(error) }
    releaseSignal.finish()
    try await holder.value
    await other.shutdown()
    return try result.get()
}
