import Accounts
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A self-hostable realtime chat server (Socket.IO + REST).",
        subcommands: [Serve.self, Migrate.self, Admin.self],
        defaultSubcommand: Serve.self
    )
}

/// Loads configuration or exits with status 2 and one message naming every bad key.
func loadConfiguration(_ arguments: [String]) async -> AppConfiguration {
    do {
        return try await AppConfiguration.load(arguments: arguments)
    } catch let error as ConfigurationError {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        Foundation.exit(2)
    } catch {
        FileHandle.standardError.write(Data("invalid configuration: \(error)\n".utf8))
        Foundation.exit(2)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server (default). Any setting may be given as --key value, e.g. --port 9000 --data-dir ./data."
    )

    @Argument(parsing: .allUnrecognized, help: "Configuration overrides, e.g. --port 9000")
    var settings: [String] = []

    func run() async throws {
        let config = await loadConfiguration(settings)
        let readiness = Readiness()
        var logger = Logger(label: "switchboard")
        logger.logLevel = config.logLevel
        let app = try await buildApplication(config, logger: logger, readiness: readiness)
        // The drain runs last, so SIGTERM reaches it first: not ready, DRAIN_DELAY, then the app drains.
        let group = ServiceGroup(configuration: .init(
            services: [app, DrainService(readiness: readiness, delay: config.ops.drainDelay, logger: logger)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        ))
        try await group.run()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect or apply database migrations.",
        subcommands: [Status.self, Apply.self],
        defaultSubcommand: Status.self
    )

    struct Status: AsyncParsableCommand {
        @Argument(parsing: .allUnrecognized) var settings: [String] = []
        func run() async throws {
            let status = try await withMigrationRunner(settings) { runner, _, _, _ in try await runner.status() }
            for name in status.applied { print("applied  \(name)") }
            for name in status.pending { print("pending  \(name)") }
        }
    }

    struct Apply: AsyncParsableCommand {
        @Argument(parsing: .allUnrecognized) var settings: [String] = []
        func run() async throws {
            let applied = try await withMigrationRunner(settings) { _, migrations, database, logger in
                try await applyMigrations(migrations, on: database, logger: logger)
            }
            print(applied.isEmpty ? "up to date" : "applied \(applied.joined(separator: ", "))")
        }
    }
}

func withMigrationRunner<T: Sendable>(
    _ settings: [String], _ body: @escaping @Sendable (MigrationRunner, [Migration], any Database, Logger) async throws -> T
) async throws -> T {
    let config = await loadConfiguration(settings)
    var logger = Logger(label: "switchboard")
    logger.logLevel = config.logLevel
    try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
    let database = try await DatabaseFactory.open(config.database, logger: logger)
    let migrations = try MigrationLoader.load(directory: config.migrationsDirectory, kind: database.kind)
    let runLogger = logger
    let runner = MigrationRunner(database: database, migrations: migrations, logger: logger)
    defer { Task { await database.shutdown() } }
    return try await body(runner, migrations, database, runLogger)
}
