import Synchronization

/// Connection state recovery in this process's memory (socket.io-adapter's
/// `SessionAwareAdapter`): logs the non-volatile broadcasts made through the relay's emit API
/// and keeps sessions for the window after they disconnect. For a single process: the log and
/// the sessions are lost when it exits, and other nodes cannot see them.
///
/// Validation (all failures are a nil from ``restore(pid:namespace:owner:after:)``, so the
/// client gets a new session):
/// - the pid is known, of `namespace`, of the same owner, and not disconnected longer than the
///   window ago;
/// - the offset is one the session could have received: an event of `namespace` still kept
///   (or the last one of `namespace` pruned, when nothing of it came after), and not below the
///   log head at the session's first save;
/// - so an offset in the future, of another namespace, unknown, or pruned is refused.
///
/// Events are pruned once older than the window, sessions once disconnected longer than the
/// window; both on later calls (no timer).
public final class InMemorySessionRecoveryStore: SessionRecoveryStore {
    public let window: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    private let state = Mutex<State>(State())

    struct Entry {
        var event: LoggedEvent
        var loggedAt: ContinuousClock.Instant
    }

    struct Stored {
        var session: RecoverableSession
        /// The log head when the session was first saved: events below it went out before the
        /// socket existed (the head itself may still have reached it, delivered late).
        var floor: UInt64
        var disconnectedAt: ContinuousClock.Instant?
    }

    struct State {
        var head: UInt64 = 0
        /// In offset order.
        var entries: [Entry] = []
        var start = 0
        /// Per namespace, the offset of its newest pruned event.
        var lastPruned: [String: UInt64] = [:]
        var sessions: [String: Stored] = [:]
        var lastSweep: ContinuousClock.Instant?
    }

    /// - Parameter window: how long events and disconnected sessions are kept (Node's
    ///   `maxDisconnectionDuration`, default 120 s).
    public convenience init(window: Duration = .seconds(120)) {
        self.init(window: window, now: { ContinuousClock.now })
    }

    init(window: Duration, now: @escaping @Sendable () -> ContinuousClock.Instant) {
        self.window = window
        self.now = now
    }

    public func save(_ session: RecoverableSession) async throws {
        let now = self.now()
        state.withLock { s in
            sweep(&s, now: now)
            let floor = s.sessions[session.pid]?.floor ?? s.head
            s.sessions[session.pid] = Stored(session: session, floor: floor, disconnectedAt: session.connected ? nil : now)
        }
    }

    public func discard(pid: String) async throws {
        _ = state.withLock { $0.sessions.removeValue(forKey: pid) }
    }

    public func restore(pid: String, namespace: String, owner: String?, after offset: UInt64) async throws -> RecoverableSession? {
        let now = self.now()
        return state.withLock { s -> RecoverableSession? in
            sweep(&s, now: now)
            guard let stored = s.sessions[pid],
                  stored.session.pid == pid,
                  stored.session.namespace == namespace,
                  stored.session.owner == owner,
                  offset >= stored.floor,
                  isReceivable(offset, namespace: namespace, in: s)
            else { return nil }
            if let at = stored.disconnectedAt, now - at > window { return nil }
            return stored.session
        }
    }

    public func events(namespace: String, after offset: UInt64) async throws -> [LoggedEvent]? {
        state.withLock { s -> [LoggedEvent]? in
            if let pruned = s.lastPruned[namespace], pruned > offset { return nil }
            var result: [LoggedEvent] = []
            var i = firstIndex(after: offset, in: s)
            while i < s.entries.count {
                if s.entries[i].event.namespace == namespace { result.append(s.entries[i].event) }
                i += 1
            }
            return result
        }
    }

    public func log(namespace: String, event: String, arguments: [JSONValue], options: BroadcastOptions) async -> UInt64? {
        let now = self.now()
        return state.withLock { s in
            prune(&s, now: now)
            s.head += 1
            s.entries.append(Entry(
                event: LoggedEvent(offset: s.head, namespace: namespace, event: event, arguments: arguments, rooms: options.rooms, except: options.except),
                loggedAt: now
            ))
            return s.head
        }
    }

    /// Events kept now (for tests and diagnostics).
    public var retainedCount: Int { state.withLock { $0.entries.count - $0.start } }

    /// Sessions kept now.
    public var sessionCount: Int { state.withLock { $0.sessions.count } }

    /// The session kept for `pid` (for tests).
    func storedSession(pid: String) -> RecoverableSession? { state.withLock { $0.sessions[pid]?.session } }

    // MARK: -

    /// An offset this namespace's sockets could have been sent: a kept event of the namespace,
    /// or its newest pruned one.
    private func isReceivable(_ offset: UInt64, namespace: String, in s: State) -> Bool {
        if s.lastPruned[namespace] == offset { return true }
        let i = firstIndex(atOrAfter: offset, in: s)
        return i < s.entries.count && s.entries[i].event.offset == offset && s.entries[i].event.namespace == namespace
    }

    private func firstIndex(after offset: UInt64, in s: State) -> Int {
        offset == .max ? s.entries.count : firstIndex(atOrAfter: offset + 1, in: s)
    }

    /// Binary search over the kept entries (offsets increase).
    private func firstIndex(atOrAfter offset: UInt64, in s: State) -> Int {
        var low = s.start
        var high = s.entries.count
        while low < high {
            let mid = (low + high) / 2
            if s.entries[mid].event.offset < offset { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private func prune(_ s: inout State, now: ContinuousClock.Instant) {
        while s.start < s.entries.count, now - s.entries[s.start].loggedAt > window {
            let gone = s.entries[s.start].event
            s.lastPruned[gone.namespace] = gone.offset
            s.start += 1
        }
        // compact once the dead prefix is half the storage
        if s.start > 64, s.start * 2 > s.entries.count {
            s.entries.removeFirst(s.start)
            s.start = 0
        }
    }

    private func sweep(_ s: inout State, now: ContinuousClock.Instant) {
        prune(&s, now: now)
        if let last = s.lastSweep, now - last < window / 4 { return }
        s.lastSweep = now
        let window = self.window
        s.sessions = s.sessions.filter { _, stored in
            guard let at = stored.disconnectedAt else { return true }
            return now - at <= window
        }
    }
}
