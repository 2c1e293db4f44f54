import Accounts
import Foundation
import Logging
import Relay
import ServiceLifecycle
import Synchronization

/// The one reader of the event log on this node: it delivers every logged event to this node's
/// sockets, in seq order, each once.
///
/// It reads `seq > last` in batches (``EventLogStore`` assigns seqs in commit order, so nothing
/// that commits later can appear behind `last`), applies a row's join effect to this node's
/// sockets (`socketsJoin`, local), hands the event to `Namespace.deliverLogged(_:)` (offset
/// appended; a recovering socket holds it until its replay is done), then applies a leave effect.
/// It starts at the log's end when the node boots (earlier events reach a client only through
/// recovery) and is woken by ``wake()``: after a local commit, by the cluster's LISTEN on
/// `switchboard_log`, and by a 1 s poll, so a lost NOTIFY delays delivery, never loses it.
/// Every minute it also prunes the log and the recovery sessions older than the window.
final class LogTail: Service, Sendable {
    let database: any Database
    let log: EventLogStore
    let relay: Relay
    let recoveryStore: DatabaseSessionRecoveryStore?
    /// Rows older than this are pruned (the recovery window: nothing older can be replayed;
    /// at least ``minimumRetention``).
    let retention: Duration
    /// The log keeps rows at least this long whatever RECOVERY_WINDOW says (0 turns recovery
    /// off, 1 s is allowed): another node's log tail that is behind (its LISTEN connection
    /// reconnecting, a pause) still finds the rows it has not delivered yet. Recovery itself
    /// checks a row's age against the window, so keeping rows longer recovers nothing more.
    static let minimumRetention: Duration = .seconds(60)
    let pollInterval: Duration
    let pruneInterval: Duration
    let batchSize: Int
    let logger: Logger

    private struct State {
        var started = false
        var stopped = false
        var pending = false
        var sleeper: CheckedContinuation<Void, Never>?
        /// Everything up to here was delivered (nil before the start position is known).
        var last: UInt64?
        var waiters: [(seq: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
        var startWaiters: [CheckedContinuation<Void, Never>] = []
        /// Rows this node appended, by their transaction's last seq, until that transaction
        /// reports its commit (``delivered(through:)``); a rolled-back one stays until `last` passes it.
        var uncommitted: [UInt64: Kept] = [:]
        /// Committed rows handed over by their appender, in seq order, for the tail to deliver
        /// without reading them back (only when they continue `last` without a gap).
        var handed: [EventLogRecord] = []
    }
    /// An appending transaction's rows, and when they were kept.
    private struct Kept {
        let records: [EventLogRecord]
        let at: ContinuousClock.Instant
    }
    /// At most this many appending transactions' rows are kept in memory (the rest are read back).
    private static let maxKeptTransactions = 64
    /// How long the tail leaves the next rows to their appender's hand-over when it is woken
    /// before that (PostgreSQL's NOTIFY of the commit often arrives before the committing task
    /// reports it): past this, a transaction that never reported (rolled back) no longer holds
    /// the tail up, and it reads the database.
    static let handOverWait: Duration = .milliseconds(100)
    private let state = Mutex(State())

    init(
        database: any Database, log: EventLogStore, relay: Relay, recoveryStore: DatabaseSessionRecoveryStore?, retention: Duration,
        pollInterval: Duration = .seconds(1), pruneInterval: Duration = .seconds(60), batchSize: Int = 500, logger: Logger
    ) {
        self.database = database
        self.log = log
        self.relay = relay
        self.recoveryStore = recoveryStore
        self.retention = retention
        self.pollInterval = pollInterval
        self.pruneInterval = pruneInterval
        self.batchSize = batchSize
        self.logger = logger
    }

    /// Lets ``run()`` begin (called once migrations ran: the log table exists from then on).
    func start() {
        let waiters = state.withLock { s in
            s.started = true
            defer { s.startWaiters = [] }
            return s.startWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Asks for a read of the log now (idempotent; cheap; callable from any thread).
    func wake() {
        let sleeper = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let sleeper = s.sleeper {
                s.sleeper = nil
                return sleeper
            }
            s.pending = true
            return nil
        }
        sleeper?.resume()
    }

    /// Keeps the rows a transaction on this node just appended (``EventLogStore/appendRecords(_:on:)``),
    /// until ``delivered(through:)`` with their last seq says that transaction committed: the tail
    /// then delivers them from memory when they directly follow what it delivered last, instead of
    /// reading them back from the database and parsing them again. Any other case (a gap: another
    /// transaction's or node's rows in between, a rollback) takes the database path, so this only
    /// saves work and never changes what is delivered or in which order.
    ///
    /// A position is only ever reported committed by the transaction that appended it: SQLite
    /// reuses a rolled-back seq, but only for the next appender, which replaces the kept rows
    /// before it can commit; PostgreSQL never reuses one.
    func keep(_ records: [EventLogRecord]) {
        guard let position = records.last?.seq else { return }
        state.withLock { s in
            if let last = s.last, position <= last { return }
            s.uncommitted[position] = Kept(records: records, at: .now)
            if s.uncommitted.count > Self.maxKeptTransactions, let oldest = s.uncommitted.keys.min() {
                s.uncommitted[oldest] = nil
            }
        }
    }

    /// Wakes the tail and returns once this node delivered every event up to `seq` (or the tail
    /// stopped). A service that appended calls it after COMMIT, so its answer (REST response,
    /// ack) leaves after its own event was handed to this node's sockets and their rooms changed.
    /// Rows kept by ``keep(_:)`` for `seq` are handed to the tail (they are committed now).
    func delivered(through seq: UInt64) async {
        state.withLock { s in
            guard let records = s.uncommitted.removeValue(forKey: seq)?.records, let first = records.first?.seq else { return }
            if first > (s.handed.last?.seq ?? 0) {
                s.handed.append(contentsOf: records)
            } else {
                s.handed = (s.handed + records).sorted { $0.seq < $1.seq }
            }
        }
        wake()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                if s.stopped || (s.last ?? 0) >= seq { return true }
                s.waiters.append((seq, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.waitForStart()
            guard !Task.isCancelled else { return self.stop() }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.tail() }
                group.addTask { await self.tick(every: self.pollInterval) { self.wake() } }
                group.addTask { await self.tick(every: self.pruneInterval) { await self.prune() } }
                await group.next()
                group.cancelAll()
            }
            self.stop()
        }
    }

    // MARK: Reading

    private func tail() async {
        while !Task.isCancelled {
            do {
                if state.withLock({ $0.last }) == nil {
                    let end = try await database.read { db in try await self.log.maxSeq(on: db) }
                    advance(to: end)
                }
                while try await readBatch() == batchSize, !Task.isCancelled {}
            } catch {
                logger.warning("event log: read failed, retrying", metadata: ["error": "\(String(reflecting: error))"])
            }
            await nextWake()
        }
    }

    /// Reads and delivers one batch; returns how many rows it had. The batch is the handed-over
    /// rows when they continue `last` with no gap (``keep(_:)``), else read from the database.
    private func readBatch() async throws -> Int {
        guard let last = state.withLock({ $0.last }) else { return 0 }
        let handed = takeHanded(after: last)
        if handed.isEmpty, handOverPending(next: last + 1) { return 0 }  // ``delivered(through:)`` wakes the tail
        let batch = try await handed.isEmpty
            ? database.read { db in try await self.log.entries(after: last, limit: self.batchSize, on: db) }
            : handed
        for record in batch {
            await deliver(record)
            advance(to: record.seq)
        }
        return batch.count
    }

    private func deliver(_ record: EventLogRecord) async {
        let namespace = relay.namespace(record.namespace)
        if case .join(let subject, let rooms)? = record.effect {
            for room in rooms { await namespace.in(subject).local.socketsJoin(room) }
        }
        namespace.deliverLogged(record.loggedEvent)
        if case .leave(let subject, let rooms)? = record.effect {
            for room in rooms { await namespace.in(subject).local.socketsLeave(room) }
        }
    }

    /// Whether the rows from `seq` on were appended by a transaction of this node that has not
    /// reported its commit yet, less than ``handOverWait`` ago.
    private func handOverPending(next seq: UInt64) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { s in
            s.uncommitted.values.contains { $0.records.first?.seq == seq && now - $0.at < Self.handOverWait }
        }
    }

    /// The handed-over rows that directly follow `last` (seq `last + 1`, `last + 2`, …), removed
    /// from the hand-over; empty when the next row is not among them.
    private func takeHanded(after last: UInt64) -> [EventLogRecord] {
        state.withLock { s in
            s.handed.removeAll { $0.seq <= last }
            var count = 0
            var expected = last + 1
            while count < s.handed.count, count < batchSize, s.handed[count].seq == expected {
                count += 1
                expected += 1
            }
            guard count > 0 else { return [] }
            defer { s.handed.removeFirst(count) }
            return Array(s.handed.prefix(count))
        }
    }

    private func advance(to seq: UInt64) {
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.last = max(s.last ?? 0, seq)
            let current = s.last!
            if !s.uncommitted.isEmpty { s.uncommitted = s.uncommitted.filter { $0.key > current } }
            let ready = s.waiters.filter { $0.seq <= current }.map(\.continuation)
            s.waiters.removeAll { $0.seq <= current }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    // MARK: Waiting

    private func waitForStart() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.started || s.stopped { return true }
                    s.startWaiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            self.stop()
        }
    }

    private func nextWake() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.pending || s.stopped {
                        s.pending = false
                        return true
                    }
                    s.sleeper = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            self.stop()
        }
    }

    private func tick(every interval: Duration, _ body: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled else { return }
            await body()
        }
    }

    /// Ends every wait: the tail is not running any more.
    private func stop() {
        let continuations = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.stopped = true
            var all = s.waiters.map(\.continuation) + s.startWaiters
            if let sleeper = s.sleeper { all.append(sleeper) }
            s.waiters = []
            s.startWaiters = []
            s.sleeper = nil
            return all
        }
        for continuation in continuations { continuation.resume() }
    }

    // MARK: Pruning

    private func prune() async {
        let cutoff = log.clock.now().millis - Int64(retention.components.seconds * 1000)
        do {
            try await database.write { db in try await self.log.prune(before: cutoff, on: db) }
            try await recoveryStore?.prune()
        } catch {
            logger.warning("event log: pruning failed", metadata: ["error": "\(String(reflecting: error))"])
        }
    }
}
