import Accounts
import Crypto
import Foundation
import Relay
import SQLKit

/// Socket.IO connection state recovery backed by the database (`recovery_sessions` and the
/// ``EventLogStore``'s `event_log`, migration 0006), so a session survives a restart of a
/// single SQLite node and moves between nodes on one PostgreSQL.
///
/// - Sessions are keyed by the SHA-256 (hex) of the pid: the pid is a bearer secret and is
///   never stored. `owner` is the access token's session id (``ChatGateway``), so a pid is
///   restored only for the same login session.
/// - The application appends to the log in its own transactions (``EventLogStore/append(_:on:)``),
///   so ``log(namespace:event:arguments:options:)`` returns nil: a broadcast made through the
///   relay's emit API goes out without an offset and is not recoverable.
/// - An offset is valid when: it is not in the future (≤ the log's highest seq); its row still
///   exists, is of the session's namespace and was written less than the window ago (Node's
///   in-memory adapter likewise refuses an offset it no longer holds). The session must be of that namespace and owner and
///   have disconnected less than the window ago (a session whose node died mid-connection has no
///   disconnect time and stays restorable until pruned). Anything else: nil, a new session.
struct DatabaseSessionRecoveryStore: SessionRecoveryStore {
    let database: any Database
    let log: EventLogStore
    /// RECOVERY_WINDOW (default 120 s, Node's `maxDisconnectionDuration`).
    let window: Duration
    /// This node's id in `recovery_sessions.node_id` (diagnostics), nil on a single node.
    let nodeID: String?
    /// Replay reads the log in pages of this many rows.
    let pageSize = 1000
    /// A session that was never saved as disconnected (its node died) is dropped this long after its last save.
    static let orphanLifetimeMillis: Int64 = 24 * 3600 * 1000

    var windowMillis: Int64 { window.components.seconds * 1000 + window.components.attoseconds / 1_000_000_000_000_000 }

    static func hash(pid: String) -> String {
        SHA256.hash(data: Data(pid.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    func save(_ session: RecoverableSession) async throws {
        let now = log.clock.now().millis
        let rooms = EventLogStore.jsonArray(session.rooms.sorted())
        let disconnectedAt: Int64? = session.connected ? nil : now
        try await database.write { db in
            try await db.raw(
                """
                INSERT INTO recovery_sessions (pid_hash, socket_id, namespace, owner, rooms, node_id, created_at, updated_at, disconnected_at, log_floor)
                VALUES (\(bind: Self.hash(pid: session.pid)), \(bind: session.socketID), \(bind: session.namespace), \(bind: session.owner),
                        \(bind: rooms), \(bind: nodeID), \(bind: now), \(bind: now), \(bind: disconnectedAt),
                        (SELECT COALESCE(MAX(seq), 0) FROM event_log))
                ON CONFLICT (pid_hash) DO UPDATE SET
                    socket_id = excluded.socket_id, namespace = excluded.namespace, owner = excluded.owner, rooms = excluded.rooms,
                    node_id = excluded.node_id, updated_at = excluded.updated_at, disconnected_at = excluded.disconnected_at
                WHERE excluded.disconnected_at IS NULL OR recovery_sessions.node_id IS NULL OR excluded.node_id IS NULL
                    OR recovery_sessions.node_id = excluded.node_id
                """
            ).run()
        }
    }

    /// In a cluster, a disconnected save or a discard from a node that no longer holds the
    /// session (its row's `node_id` is another node's: the client reconnected there with this pid
    /// and the old socket here was ended after) changes nothing, so the old socket's end never
    /// marks the live session disconnected or deletes it (socket.io issue #4880). A connected
    /// save always claims the session for its node.
    func discard(pid: String) async throws {
        try await database.write { db in
            if let nodeID {
                try await db.raw(
                    "DELETE FROM recovery_sessions WHERE pid_hash = \(bind: Self.hash(pid: pid)) AND (node_id IS NULL OR node_id = \(bind: nodeID))"
                ).run()
            } else {
                try await db.raw("DELETE FROM recovery_sessions WHERE pid_hash = \(bind: Self.hash(pid: pid))").run()
            }
        }
    }

    func restore(pid: String, namespace: String, owner: String?, after offset: UInt64) async throws -> RecoverableSession? {
        struct Row: Decodable {
            let socketId: String
            let namespace: String
            let owner: String?
            let rooms: String
            let disconnectedAt: Int64?
            let logFloor: Int64
        }
        let now = log.clock.now().millis
        let cutoff = now - windowMillis
        return try await database.read { db -> RecoverableSession? in
            guard let row = try await db.raw(
                """
                SELECT socket_id, namespace, owner, rooms, disconnected_at, log_floor FROM recovery_sessions
                WHERE pid_hash = \(bind: Self.hash(pid: pid))
                """
            ).first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns) else { return nil }
            guard row.namespace == namespace, row.owner == owner else { return nil }
            if let at = row.disconnectedAt, at < cutoff { return nil }
            // `log_floor` (the log's end at the first save) is kept but not enforced: the relay saves
            // asynchronously, so under load the first save can land after events this socket
            // already received, and a valid offset would be refused. Replay is filtered by the
            // socket's current rooms (its memberships), so an older offset yields nothing it may not see.
            guard try await isValid(offset: offset, namespace: namespace, cutoff: cutoff, on: db) else { return nil }
            let rooms = (try? JSONDecoder().decode([String].self, from: Data(row.rooms.utf8))) ?? []
            return RecoverableSession(pid: pid, socketID: row.socketId, namespace: namespace, owner: row.owner, rooms: Set(rooms), connected: false)
        }
    }

    func events(namespace: String, after offset: UInt64) async throws -> [LoggedEvent]? {
        let cutoff = log.clock.now().millis - windowMillis
        return try await database.read { db -> [LoggedEvent]? in
            // Pruned since restore: what followed it may be gone too.
            guard try await isValid(offset: offset, namespace: namespace, cutoff: cutoff, on: db) else { return nil }
            var events: [LoggedEvent] = []
            var after = offset
            while true {
                let page = try await log.entries(namespace: namespace, after: after, limit: pageSize, on: db)
                events += page.map(\.loggedEvent)
                guard page.count == pageSize, let last = page.last else { break }
                after = last.seq
            }
            return events
        }
    }

    /// The exact replay: walks the missed rows in seq order from `sessionRooms` (the restored
    /// rooms and the socket's id), applying each row's ``LogEffect`` to those simulated rooms as
    /// ``LogTail`` applies it live (a join before delivering, a leave after), and keeps a row iff
    /// it is addressed to the simulated rooms at that point. So a room's event sent before the
    /// user left it while away is replayed, and one sent after is not, whatever rooms the
    /// connection handler has already left or joined (`socketRooms` is not used).
    func missedEvents(namespace: String, after offset: UInt64, sessionRooms: Set<String>, socketRooms: Set<String>) async throws -> MissedEvents? {
        let cutoff = log.clock.now().millis - windowMillis
        return try await database.read { db -> MissedEvents? in
            guard try await isValid(offset: offset, namespace: namespace, cutoff: cutoff, on: db) else { return nil }
            var rooms = sessionRooms
            var send: [LoggedEvent] = []
            var through = offset
            var after = offset
            while true {
                let page = try await log.entries(namespace: namespace, after: after, limit: pageSize, on: db)
                for record in page {
                    through = max(through, record.seq)
                    if case .join(let subject, let joined)? = record.effect, rooms.contains(subject) { rooms.formUnion(joined) }
                    if record.loggedEvent.isAddressed(to: rooms) { send.append(record.loggedEvent) }
                    if case .leave(let subject, let left)? = record.effect, rooms.contains(subject) { rooms.subtract(left) }
                }
                guard page.count == pageSize, let last = page.last else { break }
                after = last.seq
            }
            return MissedEvents(events: send, through: through)
        }
    }

    /// The chat appends in its own transactions: nothing emitted through the relay is logged here.
    func log(namespace: String, event: String, arguments: [JSONValue], options: BroadcastOptions) async -> UInt64? {
        nil
    }

    /// Deletes sessions disconnected longer than the window ago, and sessions not saved for a day
    /// (their node died while they were connected).
    func prune() async throws {
        let now = log.clock.now().millis
        try await database.write { db in
            try await db.raw(
                """
                DELETE FROM recovery_sessions
                WHERE disconnected_at < \(bind: now - windowMillis) OR updated_at < \(bind: now - Self.orphanLifetimeMillis)
                """
            ).run()
        }
    }

    /// Not in the future, still in the log, of `namespace`, and written after `cutoff`.
    private func isValid(offset: UInt64, namespace: String, cutoff: Int64, on db: any SQLDatabase) async throws -> Bool {
        guard offset <= UInt64(Int64.max), let row = try await log.find(seq: offset, on: db) else { return false }
        return row.namespace == namespace && row.createdAt >= cutoff
    }
}

extension EventLogRecord {
    var loggedEvent: LoggedEvent {
        LoggedEvent(offset: seq, namespace: namespace, event: event, arguments: arguments, rooms: rooms, except: except)
    }
}
