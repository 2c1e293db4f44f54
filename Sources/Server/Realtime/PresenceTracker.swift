import Accounts
import Chat
import Synchronization

/// The relay's only user state: which users this node has announced online, and how many live
/// connections each has here.
///
/// A user is announced online with their first connection and stays online while the count is
/// above zero. Going to zero starts a grace period (a page reload should not flash "offline"):
/// the user stays online, and only if no connection came back when it ends is "offline"
/// announced (``settleOffline(_:generation:)``). A reconnect inside the grace announces nothing.
final class PresenceTracker: PresenceDirectory {
    struct Entry {
        var connections = 0
        /// Bumped each time the count drops to zero, so only the latest grace period may end
        /// the user's presence.
        var generation = 0
    }

    private let users = Mutex<[Int64: Entry]>([:])
    let gracePeriod: Duration
    /// The other nodes' view (PostgreSQL with clustering on); nil on a single node.
    let cluster: ClusterPresence?

    init(gracePeriod: Duration = .seconds(5), cluster: ClusterPresence? = nil) {
        self.gracePeriod = gracePeriod
        self.cluster = cluster
    }

    /// Whether this node counts the user online (a connection, or inside the grace period).
    func isHere(_ userID: Int64) -> Bool { users.withLock { $0[userID] != nil } }

    /// Users this node counts online.
    var usersHere: [Int64] { users.withLock { Array($0.keys) } }

    /// After ``connected(_:)`` returned true: records the user on this node for the other
    /// nodes and calls `announce` ("online") when no other node holds the user (with several
    /// nodes, under the user's cluster-wide lock: ``ClusterPresence``).
    func claimOnline(_ userID: Int64, announce: @Sendable () async -> Void) async {
        guard let cluster else { return await announce() }
        await cluster.claim(userID, isHere: { self.isHere(userID) }, announce: announce)
    }

    /// After ``settleOffline(_:generation:)`` returned true: removes the user from this node
    /// for the other nodes and calls `announce` ("offline") when no node holds the user.
    func releaseOffline(_ userID: Int64, announce: @Sendable () async -> Void) async {
        guard let cluster else { return await announce() }
        await cluster.release(userID, isHere: { self.isHere(userID) }, announce: announce)
    }

    /// Counts a new connection. Returns true when the user was not online: announce it.
    func connected(_ userID: Int64) -> Bool {
        users.withLock { users in
            let isNew = users[userID] == nil
            users[userID, default: Entry()].connections += 1
            return isNew
        }
    }

    /// Counts a closed connection. Returns the grace generation when that was the user's last
    /// one (wait ``gracePeriod``, then call ``settleOffline(_:generation:)``), else nil.
    func disconnected(_ userID: Int64) -> Int? {
        users.withLock { users in
            guard var entry = users[userID], entry.connections > 0 else { return nil }
            entry.connections -= 1
            if entry.connections == 0 { entry.generation += 1 }
            users[userID] = entry
            return entry.connections == 0 ? entry.generation : nil
        }
    }

    /// Ends the user's presence if no connection came back during the grace period that
    /// `generation` started. Returns true when "offline" should be announced (exactly once).
    func settleOffline(_ userID: Int64, generation: Int) -> Bool {
        users.withLock { users in
            guard let entry = users[userID], entry.connections == 0, entry.generation == generation else { return false }
            users[userID] = nil
            return true
        }
    }

    /// Online from the first connection until "offline" is announced (the grace included), so
    /// REST answers agree with the presence events clients saw.
    /// With several nodes, a user held by another node is online too.
    func isOnline(userID: Int64) async -> Bool {
        if isHere(userID) { return true }
        return await cluster?.isOnlineAnywhere(userID) ?? false
    }

    var onlineUserCount: Int { users.withLock { $0.count } }
}
