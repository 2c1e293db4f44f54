import Accounts
import Foundation
import Logging
import SQLKit
import Synchronization

/// Node membership through the `nodes` table (migration 0007): each node writes a heartbeat
/// every ``heartbeatInterval``; a node whose heartbeat is older than ``deadAfter`` is dead.
///
/// Every node looks for dead nodes after each heartbeat. Deleting a dead node's row is how one
/// node (exactly one: the `DELETE … RETURNING` that got the row) takes over its cleanup:
/// ``onNodesDead`` then removes its presence and says who went offline. Times are the
/// database's clock (`clock_timestamp()`), so clock skew between nodes does not matter.
///
/// A node that finds its own row gone (it was paused past the bound and declared dead) or that
/// could not heartbeat for a while calls ``onRejoined`` after its next successful heartbeat, so
/// it can write its presence again. A node declares others dead only after it has itself
/// heartbeated without a failure for a whole bound: after a database outage longer than the
/// bound every row is old, and the others need that long to write theirs again.
final class NodeRegistry: Sendable {
    let nodeID: String
    let deadAfter: Duration
    let heartbeatInterval: Duration
    private let database: any Database
    private let logger: Logger
    private let state = Mutex(State())
    private let callbacks = Mutex(Callbacks())

    struct State {
        /// Other nodes whose heartbeat is within the bound, as of the last heartbeat.
        var peers: Set<String> = []
        var heartbeats = 0
        var failing = false
        /// Since when this node has heartbeated without a failure (nil: failing, or not yet).
        var healthySince: ContinuousClock.Instant?
    }

    struct Callbacks {
        var onNodesDead: (@Sendable ([String]) async -> Void)?
        var onRejoined: (@Sendable () async -> Void)?
    }

    /// The database's clock in milliseconds since the epoch.
    static let nowMillis = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

    init(database: any Database, nodeID: String = NodeRegistry.newNodeID(), deadAfter: Duration = .seconds(15), logger: Logger) {
        self.database = database
        self.nodeID = nodeID
        self.deadAfter = deadAfter
        // Five heartbeats per bound: one late or lost heartbeat never looks like death.
        self.heartbeatInterval = max(deadAfter / 5, .milliseconds(100))
        self.logger = logger
    }

    /// A fresh id per process start: 16 random hex characters.
    static func newNodeID() -> String {
        String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))
    }

    /// Called (on one node) with the ids of nodes just declared dead.
    func onNodesDead(_ handler: @escaping @Sendable ([String]) async -> Void) { callbacks.withLock { $0.onNodesDead = handler } }
    /// Called when this node's row had to be written again (after an outage or after being declared dead).
    func onRejoined(_ handler: @escaping @Sendable () async -> Void) { callbacks.withLock { $0.onRejoined = handler } }

    /// Other live nodes, as of the last heartbeat.
    var peers: Set<String> { state.withLock { $0.peers } }

    /// Heartbeats until cancelled. A node that stops (cleanly or not) is reaped by the others
    /// after the bound, so users whose sockets reconnected to another node meanwhile never
    /// flash offline.
    func run() async {
        while !Task.isCancelled {
            await beat()
            try? await Task.sleep(for: heartbeatInterval)
        }
    }

    /// One heartbeat, the dead-node sweep and the old-payload sweep.
    func beat() async {
        let nodeID = self.nodeID, bound = deadAfter.milliseconds
        do {
            let (inserted, peers) = try await database.withConnection { db -> (Bool, Set<String>) in
                let row = try await db.raw("""
                    INSERT INTO nodes (node_id, started_at, heartbeat_at)
                    VALUES (\(bind: nodeID), \(unsafeRaw: Self.nowMillis), \(unsafeRaw: Self.nowMillis))
                    ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at
                    RETURNING (xmax = 0) AS inserted
                    """).first()
                let inserted = try row?.decode(column: "inserted", as: Bool.self) ?? false
                let live = try await db.raw("""
                    SELECT node_id FROM nodes WHERE node_id <> \(bind: nodeID) AND heartbeat_at > \(unsafeRaw: Self.nowMillis) - \(bind: bound)
                    """).all()
                return (inserted, Set(try live.map { try $0.decode(column: "node_id", as: String.self) }))
            }
            let now = ContinuousClock.now
            let (first, wasFailing, healthySince) = state.withLock { s -> (Bool, Bool, ContinuousClock.Instant) in
                defer { s.heartbeats += 1; s.failing = false; s.peers = peers }
                if s.healthySince == nil { s.healthySince = now }
                return (s.heartbeats == 0, s.failing, s.healthySince!)
            }
            if (inserted && !first) || wasFailing {
                logger.notice("cluster node rejoined", metadata: ["node.id": "\(nodeID)", "cluster.was_declared_dead": "\(inserted)"])
                await callbacks.withLock { $0.onRejoined }?()
            }
            // After an outage of the database (or this node's start) every heartbeat may be old:
            // declare nobody dead until the others had a whole bound to write theirs again.
            try await sweep(declaringDead: now - healthySince >= deadAfter)
        } catch {
            let wasFailing = state.withLock { s in defer { s.failing = true; s.healthySince = nil }; return s.failing }
            if !wasFailing { logger.warning("cluster heartbeat failed", metadata: ["error": "\(String(reflecting: error))"]) }
        }
    }

    /// Declares nodes silent past the bound dead (the `DELETE … RETURNING` decides which node
    /// cleans up after each) and drops stored adapter payloads older than a minute.
    private func sweep(declaringDead: Bool) async throws {
        let bound = deadAfter.milliseconds
        let dead = !declaringDead ? [] : try await database.read { db in
            try await db.raw("""
                DELETE FROM nodes WHERE heartbeat_at < \(unsafeRaw: Self.nowMillis) - \(bind: bound) RETURNING node_id
                """).all().map { try $0.decode(column: "node_id", as: String.self) }
        }
        if !dead.isEmpty {
            logger.notice("cluster nodes declared dead", metadata: ["cluster.dead_nodes": "\(dead.joined(separator: ","))"])
            await callbacks.withLock { $0.onNodesDead }?(dead)
        }
        try await database.read { db in
            try await db.raw("DELETE FROM adapter_messages WHERE created_at < \(unsafeRaw: Self.nowMillis) - 60000").run()
        }
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
