import Accounts
import ServiceLifecycle

/// Keeps the database open for the life of the application and closes it last
/// on graceful shutdown (services stop in reverse order, so the HTTP server has
/// drained by then). PostgreSQL's connection pool runs from the moment the database is
/// opened (`PostgresDatabase`), so migrations in `beforeServerStarts` find it running.
struct DatabaseService: Service {
    let database: any Database

    func run() async throws {
        try? await gracefulShutdown()
        // Closed outside this task's cancellation: when start-up fails (a migration refused) the
        // service group cancels this task, and NIOThreadPool drops work submitted from a
        // cancelled task, so SQLite connections would stay open (and assert in debug builds).
        let database = self.database
        await Task { await database.shutdown() }.value
    }
}
