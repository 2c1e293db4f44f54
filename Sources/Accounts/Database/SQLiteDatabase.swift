import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLite behind ``Database``: one writer connection used by one task at a time,
/// and a few reader connections (WAL mode lets them read while the writer writes).
public final class SQLiteDatabase: Database {
    public let kind = DatabaseKind.sqlite
    private let writer: ConnectionQueue
    private let readers: ConnectionQueue
    private let logger: Logger

    public static func open(path: String, readers readerCount: Int = 2, logger: Logger) async throws -> SQLiteDatabase {
        let writer = try await openConnection(path: path, readOnly: false, logger: logger)
        var readerConnections: [SQLiteConnection] = []
        for _ in 0..<max(1, readerCount) {
            readerConnections.append(try await openConnection(path: path, readOnly: true, logger: logger))
        }
        return SQLiteDatabase(writer: writer, readers: readerConnections, logger: logger)
    }

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], logger: Logger) {
        self.writer = ConnectionQueue([writer])
        self.readers = ConnectionQueue(readers)
        self.logger = logger
    }

    private static func openConnection(path: String, readOnly: Bool, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let sql = connection.sql()
        // journal_mode is a property of the file: set by the writer, read by all.
        if !readOnly {
            try await sql.raw("PRAGMA journal_mode = WAL").run()
        }
        try await sql.raw("PRAGMA busy_timeout = 5000").run()
        try await sql.raw("PRAGMA foreign_keys = ON").run()
        try await sql.raw("PRAGMA synchronous = NORMAL").run()
        if readOnly {
            try await sql.raw("PRAGMA query_only = ON").run()
        }
        return connection
    }

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await readers.with { connection in try await body(connection.sql()) }
    }

    public func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await writer.with { connection in
            // IMMEDIATE takes the write lock up front, so another process's writer
            // waits in busy_timeout instead of failing on lock upgrade.
            try await runTransaction(on: connection.sql(), begin: "BEGIN IMMEDIATE", body)
        }
    }

    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await writer.with { connection in try await body(connection.sql()) }
    }

    public func shutdown() async {
        for connection in await writer.drain() + readers.drain() {
            try? await connection.close()
        }
    }
}

/// A fixed set of connections handed out one task at a time, FIFO for waiters.
actor ConnectionQueue {
    private var idle: [SQLiteConnection]
    private var waiters: [CheckedContinuation<SQLiteConnection, Never>] = []

    init(_ connections: [SQLiteConnection]) {
        self.idle = connections
    }

    func with<T: Sendable>(_ body: @Sendable (SQLiteConnection) async throws -> T) async throws -> T {
        let connection = await checkout()
        defer { checkin(connection) }
        return try await body(connection)
    }

    private func checkout() async -> SQLiteConnection {
        if let connection = idle.popLast() { return connection }
        return await withCheckedContinuation { waiters.append($0) }
    }

    private func checkin(_ connection: SQLiteConnection) {
        if waiters.isEmpty {
            idle.append(connection)
        } else {
            waiters.removeFirst().resume(returning: connection)
        }
    }

    func drain() -> [SQLiteConnection] {
        defer { idle = [] }
        return idle
    }
}
