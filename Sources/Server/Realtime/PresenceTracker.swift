import Accounts
import Synchronization

/// The relay's only user state: how many live connections each user has on this node.
///
/// A user is online while the count is above zero; going to zero starts a grace
/// period (a page reload should not flash "offline"), after which the caller
/// checks ``isOnline(userID:)`` again before announcing it.
final class PresenceTracker: PresenceDirectory {
    private let counts = Mutex<[Int64: Int]>([:])
    let gracePeriod: Duration

    init(gracePeriod: Duration = .seconds(5)) {
        self.gracePeriod = gracePeriod
    }

    /// Returns true when this is the user's first connection.
    func connected(_ userID: Int64) -> Bool {
        counts.withLock { counts in
            counts[userID, default: 0] += 1
            return counts[userID] == 1
        }
    }

    /// Returns true when that was the user's last connection.
    func disconnected(_ userID: Int64) -> Bool {
        counts.withLock { counts in
            guard let count = counts[userID] else { return false }
            if count <= 1 {
                counts[userID] = nil
                return true
            }
            counts[userID] = count - 1
            return false
        }
    }

    func isOnline(userID: Int64) async -> Bool {
        counts.withLock { $0[userID] != nil }
    }

    var onlineUserCount: Int { counts.withLock { $0.count } }
}
