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
    }
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

    /// Wakes the tail and returns once this node delivered every event up to `seq` (or the tail
    /// stopped). A service that appended calls it after COMMIT, so its answer (REST response,
    /// ack) leaves after its own event was handed to this node's sockets and their rooms changed.
    func delivered(through seq: UInt64) async {
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

    /// Reads and delivers one batch; returns how many rows it had.
    private func readBatch() async throws -> Int {
        guard let last = state.withLock({ $0.last }) else { return 0 }
        let batch = try await database.read { db in try await self.log.entries(after: last, limit: self.batchSize, on: db) }
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

    private func advance(to seq: UInt64) {
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.last = max(s.last ?? 0, seq)
            let current = s.last!
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
