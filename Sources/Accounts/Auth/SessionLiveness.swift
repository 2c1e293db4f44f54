import Foundation

/// Whether the session behind an access token is still live, for every authenticated
/// request, without a database read per request in the common case.
///
/// An access token is stateless (a signed JWT valid for its whole lifetime), so a
/// logout, logout-all, session deletion, password change or reset, or refresh-token
/// reuse must also be checked on each use. This cache remembers, per session id:
///
/// - **ended** sessions (revoked, expired, idle, unknown) for ``Settings/rememberEndedFor``,
///   the access-token lifetime plus a margin: no access token of the session is
///   valid after that, so the entry is no longer needed. An ended session never
///   becomes live again, so these answers never go stale.
/// - **live** sessions for at most ``Settings/recheckAfter`` (and never past the
///   session's own expiry), after which the row is read again.
///
/// Revocations made by this process reach the cache at once (``ended(_:)``, called
/// by ``AuthService`` before the revoking request is answered). The cache is **per
/// process**: when several nodes share the database, a revocation made on another
/// node takes effect here at the next re-check, so at most ``Settings/recheckAfter``
/// later (10 s by default). Concurrent misses for one session share one read.
///
/// Dropping any entry is always safe (it only costs a read), so memory is bounded by
/// ``Settings/maxEntries``.
public actor SessionLiveness {
    public struct Settings: Sendable {
        /// How long a "live" answer is trusted before the session row is read again:
        /// the bound on how late a revocation made on another node is seen here.
        public var recheckAfter: Duration = .seconds(10)
        /// How long an ended session is remembered (access-token lifetime + 60 s).
        public var rememberEndedFor: Duration
        /// Idle timeout of sessions, as ``AuthSettings/sessionIdleTimeout``.
        public var idleTimeout: Duration
        /// Entries kept before stale ones are swept (and, if still over, all dropped).
        public var maxEntries: Int = 100_000

        public init(accessTokenTTL: Duration, idleTimeout: Duration) {
            self.rememberEndedFor = accessTokenTTL + .seconds(60)
            self.idleTimeout = idleTimeout
        }
    }

    private struct LiveEntry {
        /// Millis since the epoch after which the row must be read again.
        let trustUntil: Int64
    }

    private let database: any Database
    private let settings: Settings
    private let clock: AccountsClock
    private let sessions = SessionStore()
    private var live: [String: LiveEntry] = [:]
    /// Session id → millis since the epoch until which it is remembered as ended.
    private var endedUntil: [String: Int64] = [:]
    private var inFlight: [String: Task<SessionRecord?, any Error>] = [:]
    /// Rows read so far (for tests and metrics): the cache's cost.
    public private(set) var reads = 0

    public init(database: any Database, settings: Settings, clock: AccountsClock = .system) {
        self.database = database
        self.settings = settings
        self.clock = clock
    }

    /// True when the session is live. Reads the session row only on a miss.
    /// - Throws: the database's error when a needed read fails.
    public func isLive(_ sessionID: String) async throws -> Bool {
        let now = clock.now().millis
        if let until = endedUntil[sessionID] {
            if until > now { return false }
            endedUntil[sessionID] = nil
        }
        if let entry = live[sessionID], entry.trustUntil > now { return true }
        let task: Task<SessionRecord?, any Error>
        if let pending = inFlight[sessionID] {
            task = pending
        } else {
            let database = self.database, sessions = self.sessions
            task = Task { try await database.read { db in try await sessions.find(id: sessionID, on: db) } }
            inFlight[sessionID] = task
            reads += 1
        }
        let record: SessionRecord?
        do {
            record = try await task.value
            if inFlight[sessionID] == task { inFlight[sessionID] = nil }
        } catch {
            if inFlight[sessionID] == task { inFlight[sessionID] = nil }
            throw error
        }
        // A revocation that arrived while the row was being read wins over the row.
        if endedUntil[sessionID] != nil { return false }
        let checkedAt = clock.now().millis
        guard let record, record.revokedAt == nil else {
            remember(ended: [sessionID], now: checkedAt)
            return false
        }
        let deadline = min(record.expiresAt, record.lastUsedAt + settings.idleTimeout.millis)
        guard deadline > checkedAt else {
            remember(ended: [sessionID], now: checkedAt)
            return false
        }
        sweepIfFull(now: checkedAt)
        live[sessionID] = LiveEntry(trustUntil: min(deadline, checkedAt + settings.recheckAfter.millis))
        return true
    }

    /// Records that sessions ended (revoked by this process): their tokens fail from now on.
    public func ended(_ sessionIDs: [String]) {
        remember(ended: sessionIDs, now: clock.now().millis)
    }

    private func remember(ended sessionIDs: [String], now: Int64) {
        sweepIfFull(now: now)
        for id in sessionIDs {
            live[id] = nil
            endedUntil[id] = now + settings.rememberEndedFor.millis
        }
    }

    private func sweepIfFull(now: Int64) {
        guard live.count + endedUntil.count >= settings.maxEntries else { return }
        live = live.filter { $0.value.trustUntil > now }
        endedUntil = endedUntil.filter { $0.value > now }
        if live.count + endedUntil.count >= settings.maxEntries * 3 / 4 {
            // Pathological load: forget everything; answers are re-read, never wrong.
            live = [:]
            endedUntil = [:]
        }
    }
}
