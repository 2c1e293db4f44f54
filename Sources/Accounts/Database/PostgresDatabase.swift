import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import ServiceLifecycle

/// PostgreSQL behind ``Database``, pooled by PostgresNIO's `PostgresClient`.
///
/// The client is a `Service`: it must be running (in the application's ServiceGroup,
/// or via ``runWhile(_:)`` for one-shot commands) for queries to be served.
public final class PostgresDatabase: Database, Service {
    public let kind = DatabaseKind.postgres
    public let client: PostgresClient
    let location: DatabaseLocation.PostgresLocation
    private let logger: Logger

    public init(location: DatabaseLocation.PostgresLocation, maxConnections: Int = 20, logger: Logger) {
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
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.location = location
        self.logger = logger
    }

    public func run() async throws {
        await client.run()
    }

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

    public func shutdown() async {}

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

    /// Runs the client for the duration of `body` (for commands that are not a long-running server).
    public func runWhile<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await self.client.run(); return nil }
            defer { group.cancelAll() }
            let value = try await body()
            return value
        }
    }
}
