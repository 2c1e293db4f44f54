import Accounts
import Foundation
import Synchronization

/// A clock the test moves by hand, starting at 2027-01-15T08:00:00Z (Unix 1 800 000 000 s).
/// ``clock`` is what the accounts services and `AppConfiguration.clock` take.
public final class ManualClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))

    public init() {}

    public var clock: AccountsClock { AccountsClock { self.current.withLock { $0 } } }
    public var now: Date { current.withLock { $0 } }

    /// Moves the clock forward by `seconds`.
    public func advance(_ seconds: TimeInterval) { current.withLock { $0 += seconds } }
    public func advance(by duration: Duration) {
        advance(duration.seconds)
    }
}
