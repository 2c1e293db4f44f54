import Accounts
import Logging
import PostgresNIO

/// The node's one dedicated LISTEN connection (outside the pool: LISTEN belongs to a session).
///
/// It LISTENs on the adapter channel and on the log channel, and reconnects by itself when the
/// connection is lost (PostgreSQL restarted, network cut), with exponential backoff from
/// 100 ms to 5 s plus jitter. A quiet connection is checked with `SELECT 1` every
/// ``probeInterval`` so a half-open one is noticed too.
///
/// NOTIFYs sent while it was not listening are lost, so after every (re)connection it calls
/// `onListening`, which wakes the log tail: logged events are read from the `event_log` table
/// (offset > the last one read), so a lost NOTIFY loses nothing. Adapter messages lost in a gap
/// are not replayed: they are not logged (typing, volatile broadcasts).
struct ClusterListener: Sendable {
    let database: Accounts.PostgresDatabase
    let adapterChannel: String
    let logChannel: String
    let logger: Logger
    var probeInterval: Duration = .seconds(5)
    /// A payload on the adapter channel (handled one at a time, in arrival order).
    let onAdapterPayload: @Sendable (String) async -> Void
    /// A NOTIFY on the log channel.
    let onLogNotify: @Sendable () -> Void
    /// Listening again (also the first time): catch up from the log.
    let onListening: @Sendable () -> Void

    struct ConnectionLost: Error {}

    /// Listens until cancelled.
    func run() async {
        var delay = Duration.milliseconds(100)
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                let connection = try await database.dedicatedConnection(id: 9_000 + attempt, logger: logger)
                if attempt > 1 { logger.notice("cluster listener reconnected", metadata: ["cluster.attempt": "\(attempt)"]) }
                delay = .milliseconds(100)
                do {
                    try await listen(on: connection)
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled { break }
                logger.warning("cluster listener lost its connection", metadata: ["error": "\(String(reflecting: error))", "cluster.retry_in_ms": "\(delay.milliseconds)"])
            }
            let jitter = Duration.milliseconds(Int64.random(in: 0...max(1, delay.milliseconds / 5)))
            try? await Task.sleep(for: delay + jitter)
            delay = min(delay * 2, .seconds(5))
        }
    }

    private func listen(on connection: PostgresConnection) async throws {
        try await connection.listen(on: adapterChannel) { adapterNotifications in
            try await connection.listen(on: logChannel) { logNotifications in
                onListening()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await notification in adapterNotifications { await onAdapterPayload(notification.payload) }
                        throw ConnectionLost()
                    }
                    group.addTask {
                        for try await _ in logNotifications { onLogNotify() }
                        throw ConnectionLost()
                    }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: probeInterval)
                            try await withTimeout(.seconds(5)) { _ = try await connection.query("SELECT 1", logger: logger).collect() }
                        }
                    }
                    defer { group.cancelAll() }
                    try await group.next()
                }
            }
        }
    }
}

/// Runs `body`, throwing `TimeoutError` when it takes longer than `limit`.
func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask { try await Task.sleep(for: limit); return nil }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw TimeoutError() }
        return value
    }
}

struct TimeoutError: Error {}
