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
