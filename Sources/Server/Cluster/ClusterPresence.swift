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
/// Two nodes deciding at the same moment can both announce (a duplicate `presence` event, which
/// clients apply idempotently); the statements are ordered so that one of them always does.
/// Operations on one user are serialized on this node (``UserLocks``), and each re-checks this
/// node's count under the lock, so a reconnect racing the end of a grace period never leaves the
/// table saying the opposite of this node's state.
final class ClusterPresence: Sendable {
    let nodeID: String
    private let database: any Database
    private let logger: Logger
    private let locks = UserLocks()

    init(database: any Database, nodeID: String, logger: Logger) {
        self.database = database
        self.nodeID = nodeID
        self.logger = logger
    }

    /// The user has a connection on this node (`isHere()` re-checked under the user's lock).
    /// Returns true when no other node holds the user: announce "online". On a database error the
    /// answer is true (announcing twice is harmless; staying silent is not).
    func claim(_ userID: Int64, isHere: @Sendable () -> Bool) async -> Bool {
        let nodeID = self.nodeID
        return await locks.with(userID) {
            guard isHere() else { return false }
            do {
                return try await database.withConnection { db in
                    try await db.raw("""
                        INSERT INTO presence_connections (user_id, node_id) VALUES (\(bind: userID), \(bind: nodeID))
                        ON CONFLICT DO NOTHING
                        """).run()
                    let others = try await db.raw("""
                        SELECT 1 AS one FROM presence_connections WHERE user_id = \(bind: userID) AND node_id <> \(bind: nodeID) LIMIT 1
                        """).first()
                    return others == nil
                }
            } catch {
                logger.warning("cluster presence: could not record a connection", metadata: ["user.id": "\(userID)", "error": "\(String(reflecting: error))"])
                return true
            }
        }
    }

    /// The user's grace period on this node ended with no connection here. Returns true when no
    /// other node holds the user: announce "offline". Two statements, not one: each sees the
    /// other node's committed delete, so of two nodes releasing at once at least one sees none.
    func release(_ userID: Int64, isHere: @Sendable () -> Bool) async -> Bool {
        let nodeID = self.nodeID
        return await locks.with(userID) {
            guard !isHere() else { return false }
            do {
                return try await database.withConnection { db in
                    try await db.raw("DELETE FROM presence_connections WHERE user_id = \(bind: userID) AND node_id = \(bind: nodeID)").run()
                    return try await db.raw("SELECT 1 AS one FROM presence_connections WHERE user_id = \(bind: userID) LIMIT 1").first() == nil
                }
            } catch {
                logger.warning("cluster presence: could not record a disconnection", metadata: ["user.id": "\(userID)", "error": "\(String(reflecting: error))"])
                return true
            }
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
    func removeNodes(_ nodeIDs: [String]) async throws -> [Int64] {
        try await database.withConnection { db in
            var gone: Set<Int64> = []
            for node in nodeIDs {
                let users = try await db.raw("DELETE FROM presence_connections WHERE node_id = \(bind: node) RETURNING user_id").all()
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
    /// after being declared dead meanwhile): rows of users it no longer holds go, missing ones come.
    func republish(_ userIDs: [Int64]) async {
        let nodeID = self.nodeID
        do {
            try await database.withConnection { db in
                let stored = try await db.raw("SELECT user_id FROM presence_connections WHERE node_id = \(bind: nodeID)").all()
                    .map { try $0.decode(column: "user_id", as: Int64.self) }
                for user in Set(stored).subtracting(userIDs) {
                    try await db.raw("DELETE FROM presence_connections WHERE user_id = \(bind: user) AND node_id = \(bind: nodeID)").run()
                }
                for user in Set(userIDs).subtracting(stored) {
                    try await db.raw("""
                        INSERT INTO presence_connections (user_id, node_id) VALUES (\(bind: user), \(bind: nodeID)) ON CONFLICT DO NOTHING
                        """).run()
                }
            }
        } catch {
            logger.warning("cluster presence: could not republish", metadata: ["error": "\(String(reflecting: error))"])
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
