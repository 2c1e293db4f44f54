import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL behind ``Database``, pooled by PostgresNIO's `PostgresClient`.
///
/// ``open(location:maxConnections:logger:)`` starts the pool in a task of its own and returns
/// once that task is entering `PostgresClient.run()`, so a query may be issued as soon as the
/// value exists (migrations before the server starts, one-shot commands, tests) and no lease
/// precedes `run()` (PostgresNIO logs a warning for each one that does). The task is detached
/// so that the application's graceful shutdown does not stop the pool while requests are
/// still draining: ``shutdown()``, called last by `DatabaseService`, does.
public final class PostgresDatabase: Database {
    public let kind = DatabaseKind.postgres
    public let client: PostgresClient
    let location: DatabaseLocation.PostgresLocation
    private let logger: Logger

    /// Opens a pool of at most `maxConnections` to `location` (connections are made on demand,
    /// each with a 5 s connect timeout) and starts it.
    public static func open(location: DatabaseLocation.PostgresLocation, maxConnections: Int = 20, logger: Logger) async -> PostgresDatabase {
        let database = PostgresDatabase(location: location, maxConnections: maxConnections, logger: logger)
        for await _ in database.started {}
        return database
    }

    private init(location: DatabaseLocation.PostgresLocation, maxConnections: Int, logger: Logger) {
        var configuration = PostgresClient.Configuration(
            host: location.host,
            port: location.port,
            username: location.username,
            password: location.password,
            database: location.database,
            tls: location.requireTLS ? .require(.makeClientConfiguration()) : .disable
        )
        configuration.options.maximumConnections = maxConnections
        configuration.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.location = location
        self.logger = logger
        let (started, starting) = AsyncStream<Never>.makeStream()
        self.started = started
        self.pool = Task.detached {
            starting.finish()
            await client.run()
        }
    }

    private let pool: Task<Void, Never>
    private let started: AsyncStream<Never>

    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in try await body(connection.sql(queryLogLevel: nil)) }
    }

    public func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await runTransaction(on: connection.sql(queryLogLevel: nil), body)
        }
    }

    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in try await body(connection.sql(queryLogLevel: nil)) }
    }

    /// Stops the pool (its connections close) and waits for it. Idempotent.
    public func shutdown() async {
        pool.cancel()
        await pool.value
    }

    /// A connection of its own, outside the pool, to the same server (a LISTEN connection must
    /// stay on one session: a pooled one would be handed to other work). The caller closes it.
    /// - Throws: PostgresNIO's error when the server cannot be reached (connect timeout 5 s).
    public func dedicatedConnection(id: Int, logger: Logger) async throws -> PostgresConnection {
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: location.requireTLS ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable
        )
        configuration.options.connectTimeout = .seconds(5)
        return try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
    }

}
