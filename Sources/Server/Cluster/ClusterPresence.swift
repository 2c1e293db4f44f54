import Accounts
import Logging
import SQLKit
import Synchronization

/// Presence across nodes: which nodes hold a user, in `presence_connections` (migration 0007),
/// one row per (user, node) while the node counts the user online (its connections and its
/// grace period: ``PresenceTracker``).
///
/// - Online is announced by the node that writes a user's first row (no other node holds them).
/// - Offline is announced by the node that removes the last row: after its grace period, or,
///   when a node died, by the node that declared it dead (``removeNode(_:)``).
///
/// A decision and its announcement are one step per user across the cluster: each runs holding
/// the user's PostgreSQL advisory lock (``presenceLockClass``, the user id), from the row change
/// through the check to the `presence` event's commit. Without it two nodes deciding at once could
/// both announce, or announce in the wrong order: node A removes its row and sees none ("offline"),
/// node B then adds its row and sees none ("online"), and if B's event is logged before A's, every
/// client ends with "offline" for a user who is online on B. Serialized, each decision sees the
/// previous one's row change, and the events are logged in decision order: one announcement per
/// transition, the last one true.
/// Operations on one user are also serialized on this node (``UserLocks``), and each re-checks this
/// node's count under the lock, so a reconnect racing the end of a grace period never leaves the
/// table saying the opposite of this node's state.
final class ClusterPresence: Sendable {
    let nodeID: String
    private let database: any Database
    private let logger: Logger
    private let locks = UserLocks()
    /// A decision holds one pooled connection (its transaction) while its announcement takes
    /// another: at most this many at once, so they can never take the whole pool and wait
    /// for each other (a reconnect storm after a node restart claims thousands of users).
    private let decisions = AsyncLimiter(limit: 4)

    init(database: any Database, nodeID: String, logger: Logger) {
        self.database = database
        self.nodeID = nodeID
        self.logger = logger
    }

    /// `pg_advisory_lock` class of the per-user presence locks ("SWPR"); the second key is the
    /// user id (its low 32 bits: ids that share them only wait for each other).
    static let presenceLockClass: Int32 = 0x5357_5052

    /// The user has a connection on this node (`isHere()` re-checked under the user's locks).
    /// Calls `announce` ("online") when no other node holds the user, before the cluster-wide lock
    /// is released. On a database error it announces anyway (announcing twice is harmless;
    /// staying silent is not).
    func claim(_ userID: Int64, isHere: @Sendable () -> Bool, announce: @Sendable () async -> Void) async {
        let nodeID = self.nodeID
        await locks.with(userID) {
            guard isHere() else { return }
            await decided(userID, what: "record a connection", announce: announce) { db in
                try await db.raw("""
                    INSERT INTO presence_connections (user_id, node_id) VALUES (\(bind: userID), \(bind: nodeID))
                    ON CONFLICT DO NOTHING
                    """).run()
                let others = try await db.raw("""
                    SELECT 1 AS one FROM presence_connections WHERE user_id = \(bind: userID) AND node_id <> \(bind: nodeID) LIMIT 1
                    """).first()
                return others == nil
            }
        }
    }

    /// The user's grace period on this node ended with no connection here. Calls `announce`
    /// ("offline") when no other node holds the user, before the cluster-wide lock is released.
    func release(_ userID: Int64, isHere: @Sendable () -> Bool, announce: @Sendable () async -> Void) async {
        let nodeID = self.nodeID
        await locks.with(userID) {
            guard !isHere() else { return }
            await decided(userID, what: "record a disconnection", announce: announce) { db in
                try await db.raw("DELETE FROM presence_connections WHERE user_id = \(bind: userID) AND node_id = \(bind: nodeID)").run()
                return try await db.raw("SELECT 1 AS one FROM presence_connections WHERE user_id = \(bind: userID) LIMIT 1").first() == nil
            }
        }
    }

    /// A user of a node declared dead (``removeNodes(_:)``): calls `announce` ("offline") if, under
    /// the user's locks, this node does not hold them and no node's row does.
    func confirmOffline(_ userID: Int64, isHere: @Sendable () -> Bool, announce: @Sendable () async -> Void) async {
        await locks.with(userID) {
            guard !isHere() else { return }
            await decided(userID, what: "confirm a dead node's user offline", announce: announce) { db in
                try await db.raw("SELECT 1 AS one FROM presence_connections WHERE user_id = \(bind: userID) LIMIT 1").first() == nil
            }
        }
    }

    /// Runs `decide` in a transaction holding the user's cluster-wide presence lock
    /// (`pg_advisory_xact_lock`) and, when it returns true, `announce` (written on another
    /// connection) before that transaction, and with it the lock, ends.
    private func decided(
        _ userID: Int64, what: String, announce: @Sendable () async -> Void,
        _ decide: @Sendable (any SQLDatabase) async throws -> Bool
    ) async {
        let lockClass = Self.presenceLockClass, lockKey = Int32(truncatingIfNeeded: userID)
        await decisions.acquire()
        defer { decisions.release() }
        do {
            try await database.write { db in
                try await db.raw("SELECT pg_advisory_xact_lock(\(bind: lockClass), \(bind: lockKey))").run()
                if try await decide(db) { await announce() }
            }
        } catch {
            logger.warning("cluster presence: could not \(what)", metadata: ["user.id": "\(userID)", "error": "\(String(reflecting: error))"])
            await announce()
        }
    }

    /// Whether any node holds the user (REST's `online`).
    func isOnlineAnywhere(_ userID: Int64) async -> Bool {
        (try? await database.read { db in
            try await db.raw("SELECT 1 AS one FROM presence_connections WHERE user_id = \(bind: userID) LIMIT 1").first() != nil
        }) ?? false
    }

    /// Removes the rows of nodes declared dead. Returns the users no node holds any more
    /// (announce them offline).
    ///
    /// A node that is back (its `nodes` row written again: it was paused, not gone) keeps its
    /// rows: it restores them itself after its heartbeat (``restore(_:isHere:announce:)``), and a
    /// late delete here would otherwise remove what it just restored and announce its users offline.
    func removeNodes(_ nodeIDs: [String]) async throws -> [Int64] {
        try await database.withConnection { db in
            var gone: Set<Int64> = []
            for node in nodeIDs {
                let users = try await db.raw("""
                    DELETE FROM presence_connections WHERE node_id = \(bind: node)
                    AND NOT EXISTS (SELECT 1 FROM nodes WHERE node_id = \(bind: node)) RETURNING user_id
                    """).all()
                gone.formUnion(try users.map { try $0.decode(column: "user_id", as: Int64.self) })
            }
            var offline: [Int64] = []
            for user in gone.sorted() {
                if try await db.raw("SELECT 1 AS one FROM presence_connections WHERE user_id = \(bind: user) LIMIT 1").first() == nil {
                    offline.append(user)
                }
            }
            return offline
        }
    }

    /// Makes this node's rows match who it holds now (after an outage, when writes failed, or
    /// after being declared dead meanwhile): rows of users it no longer holds go (their offline
    /// was announced when the write failed, or by the node that declared this one dead), and each
    /// user it holds whose row is missing is restored by ``restore(_:isHere:announce:)``.
    func republish(_ userIDs: [Int64], isHere: @escaping @Sendable (Int64) -> Bool, announce: @escaping @Sendable (Int64) async -> Void) async {
        let nodeID = self.nodeID
        let stored: [Int64]
        do {
            stored = try await database.withConnection { db in
                let stored = try await db.raw("SELECT user_id FROM presence_connections WHERE node_id = \(bind: nodeID)").all()
                    .map { try $0.decode(column: "user_id", as: Int64.self) }
                for user in Set(stored).subtracting(userIDs) {
                    try await db.raw("DELETE FROM presence_connections WHERE user_id = \(bind: user) AND node_id = \(bind: nodeID)").run()
                }
                return stored
            }
        } catch {
            logger.warning("cluster presence: could not republish", metadata: ["error": "\(String(reflecting: error))"])
            return
        }
        for user in Set(userIDs).subtracting(stored).sorted() {
            await restore(user, isHere: { isHere(user) }, announce: { await announce(user) })
        }
    }

    /// This node holds the user but its row is missing (this node was declared dead while paused,
    /// or the write failed): writes the row again and, when it was missing and no other node holds
    /// the user, calls `announce` ("online"): the node that declared this one dead announced them
    /// offline, and without it every client would keep seeing a connected user offline.
    /// Under the user's locks, as ``claim(_:isHere:announce:)``, so it cannot race another node's decision.
    func restore(_ userID: Int64, isHere: @Sendable () -> Bool, announce: @Sendable () async -> Void) async {
        let nodeID = self.nodeID
        await locks.with(userID) {
            guard isHere() else { return }
            await decided(userID, what: "restore a connection", announce: announce) { db in
                let inserted = try await db.raw("""
                    INSERT INTO presence_connections (user_id, node_id) VALUES (\(bind: userID), \(bind: nodeID))
                    ON CONFLICT DO NOTHING RETURNING user_id
                    """).first()
                guard inserted != nil else { return false }
                let others = try await db.raw("""
                    SELECT 1 AS one FROM presence_connections WHERE user_id = \(bind: userID) AND node_id <> \(bind: nodeID) LIMIT 1
                    """).first()
                return others == nil
            }
        }
    }
}

/// One async lock per user id: callers for the same user run one at a time, in arrival order.
final class UserLocks: Sendable {
    private let waiters = Mutex<[Int64: [CheckedContinuation<Void, Never>]]>([:])

    func with<T: Sendable>(_ userID: Int64, _ body: () async -> T) async -> T {
        await acquire(userID)
        let value = await body()
        release(userID)
        return value
    }

    private func acquire(_ userID: Int64) async {
        await withCheckedContinuation { continuation in
            let owned = waiters.withLock { w -> Bool in
                if w[userID] == nil { w[userID] = []; return true }
                w[userID]!.append(continuation)
                return false
            }
            if owned { continuation.resume() }
        }
    }

    private func release(_ userID: Int64) {
        let next = waiters.withLock { w -> CheckedContinuation<Void, Never>? in
            guard var queue = w[userID], !queue.isEmpty else { w[userID] = nil; return nil }
            let first = queue.removeFirst()
            w[userID] = queue
            return first
        }
        next?.resume()
    }
}

/// At most `limit` callers between ``acquire()`` and ``release()`` at once; the others wait in
/// arrival order.
final class AsyncLimiter: Sendable {
    private struct State {
        var running = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = limit
    }

    func acquire() async {
        await withCheckedContinuation { continuation in
            let admitted = state.withLock { s -> Bool in
                if s.running < limit { s.running += 1; return true }
                s.waiting.append(continuation)
                return false
            }
            if admitted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiting.isEmpty { s.running -= 1; return nil }
            return s.waiting.removeFirst()  // the slot passes on
        }
        next?.resume()
    }
}
