import Accounts
import Logging
import SQLKit
import Synchronization

/// Sends ``ClusterEnvelope``s with NOTIFY on ``PostgresClusterAdapter/channel``, in the order
/// they were published, without making the publisher wait for the database.
///
/// A broadcast only queues its message; one task (``run()``) drains the queue, sending up to
/// ``batchSize`` inline messages in one statement (`SELECT pg_notify(…), pg_notify(…)`: one
/// transaction, so they arrive in order). A message that must travel by reference is inserted
/// into `adapter_messages` first and only its id is notified. When the database is down the
/// queued messages are dropped (counted in the log): they are volatile by nature (typing,
/// disconnects whose cause, a revocation, could not commit either); logged events do not travel here.
final class ClusterPublisher: Sendable {
    static let batchSize = 50
    /// Messages queued while the database is slow; past this, new ones are dropped.
    static let maxQueued = 10_000

    private let database: any Database
    private let channel: String
    private let logger: Logger
    private let queue = Mutex<Queue>(Queue())
    private let wakeUp: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    struct Queue {
        var items: [ClusterEnvelope] = []
        var dropped = 0
    }

    init(database: any Database, channel: String, logger: Logger) {
        self.database = database
        self.channel = channel
        self.logger = logger
        (wakeUp, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func publish(_ envelope: ClusterEnvelope) {
        let accepted = queue.withLock { q in
            guard q.items.count < Self.maxQueued else { q.dropped += 1; return false }
            q.items.append(envelope)
            return true
        }
        if accepted { wake.yield() }
    }

    /// Drains the queue until cancelled.
    func run() async {
        for await _ in wakeUp {
            while true {
                let (batch, dropped) = queue.withLock { q in
                    let batch = Array(q.items.prefix(Self.batchSize))
                    q.items.removeFirst(batch.count)
                    defer { q.dropped = 0 }
                    return (batch, q.dropped)
                }
                if dropped > 0 { logger.warning("cluster messages dropped: queue full", metadata: ["count": "\(dropped)"]) }
                if batch.isEmpty { break }
                do {
                    try await send(batch)
                } catch {
                    logger.warning("cluster messages not sent", metadata: ["count": "\(batch.count)", "error": "\(String(reflecting: error))"])
                }
            }
        }
    }

    private func send(_ batch: [ClusterEnvelope]) async throws {
        let channel = self.channel
        try await database.withConnection { db in
            var inline: [String] = []
            func flush() async throws {
                guard !inline.isEmpty else { return }
                var query = SQLQueryString("SELECT ")
                for (index, payload) in inline.enumerated() {
                    if index > 0 { query.appendLiteral(", ") }
                    query.appendInterpolation(unsafeRaw: "pg_notify(")
                    query.appendInterpolation(bind: channel)
                    query.appendLiteral(", ")
                    query.appendInterpolation(bind: payload)
                    query.appendLiteral(")")
                }
                try await db.raw(query).run()
                inline.removeAll()
            }
            for envelope in batch {
                let json = envelope.json
                if envelope.needsReference(encoded: json) {
                    try await flush()
                    let row = try await db.raw("""
                        INSERT INTO adapter_messages (node_id, payload, created_at)
                        VALUES (\(bind: envelope.node), \(bind: json), \(unsafeRaw: NodeRegistry.nowMillis)) RETURNING id
                        """).first()
                    guard let id = try row?.decode(column: "id", as: Int64.self) else { continue }
                    inline.append(ClusterReference(node: envelope.node, id: id).json)
                    try await flush()
                } else {
                    inline.append(json)
                }
            }
            try await flush()
        }
    }
}
