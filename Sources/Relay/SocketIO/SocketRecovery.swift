import Logging
import Synchronization

/// A socket's recoverable session (recovery on): its pid and owner, and its calls to the store,
/// made one at a time in order (a disconnect's save never overtakes the connect's).
final class SocketSession: Sendable {
    let pid: String
    let owner: String?
    let store: any SessionRecoveryStore
    private let state = Mutex<State>(State())

    struct State {
        var lastWrite: Task<Void, Never>?
        /// No more store calls: the session was superseded by a newer connection of the same
        /// client, or ended (discarded) because it could not be replayed.
        var detached = false
        var ended = false
    }

    let tracker: SessionWriteTracker?

    init(pid: String, owner: String?, store: any SessionRecoveryStore, tracker: SessionWriteTracker? = nil) {
        self.pid = pid
        self.owner = owner
        self.store = store
        self.tracker = tracker
        tracker?.sessionOpened()
    }

    /// Saves the session (after the calls queued before).
    func save(socketID: String, namespace: String, rooms: Set<String>, connected: Bool, logger: Logger) {
        let session = RecoverableSession(pid: pid, socketID: socketID, namespace: namespace, owner: owner, rooms: rooms, connected: connected)
        let store = self.store
        enqueue { () async -> Void in
            do { try await store.save(session) } catch {
                logger.info("recovery session not saved", metadata: ["socket.id": .string(socketID), "error": "\(error)"])
            }
        }
    }

    /// Discards the session in the store (after the calls queued before); no call follows.
    func discard(logger: Logger) {
        let store = self.store
        let pid = self.pid
        enqueue(final: true) { () async -> Void in
            do { try await store.discard(pid: pid) } catch {
                logger.info("recovery session not discarded", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The socket ended: save (recoverable reason) or discard, once.
    func socketEnded(_ reason: DisconnectReason, socketID: String, namespace: String, rooms: Set<String>, logger: Logger) {
        let first = state.withLock { s in
            defer { s.ended = true }
            return !s.ended
        }
        guard first else { return }
        if ConnectionStateRecovery.isRecoverable(reason) {
            save(socketID: socketID, namespace: namespace, rooms: rooms, connected: false, logger: logger)
        } else {
            discard(logger: logger)
        }
        tracker?.sessionEnded()
    }

    /// The socket was never added (its connection closed during the CONNECT): nothing to store.
    func abandon() {
        let first = state.withLock { s in
            defer { s.ended = true; s.detached = true }
            return !s.ended
        }
        if first { tracker?.sessionEnded() }
    }

    /// No more store calls from this socket (it was superseded by the same client's new
    /// connection, which now owns the session).
    func detach() {
        state.withLock { $0.detached = true }
    }

    /// Waits for the store calls queued so far.
    func flushed() async {
        let last = state.withLock { $0.lastWrite }
        await last?.value
    }

    private func enqueue(final: Bool = false, _ body: @escaping @Sendable () async -> Void) {
        let tracker = self.tracker
        state.withLock { s in
            guard !s.detached else { return }
            if final { s.detached = true }
            let previous = s.lastWrite
            tracker?.writeStarted()
            s.lastWrite = Task {
                await previous?.value
                await body()
                tracker?.writeFinished()
            }
        }
    }
}

/// Counts a relay's sessions whose socket has not ended yet and its store calls in flight, so
/// that a shutdown can wait for the sessions to be saved as disconnected (recoverable after a
/// restart with a persistent store).
final class SessionWriteTracker: Sendable {
    private let counts = Mutex<(open: Int, inFlight: Int)>((0, 0))

    func sessionOpened() { counts.withLock { $0.open += 1 } }
    func sessionEnded() { counts.withLock { $0.open -= 1 } }
    func writeStarted() { counts.withLock { $0.inFlight += 1 } }
    func writeFinished() { counts.withLock { $0.inFlight -= 1 } }

    var isIdle: Bool { counts.withLock { $0.open <= 0 && $0.inFlight <= 0 } }

    /// Waits until every session's socket ended and every store call finished, or `timeout`.
    func drain(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while !isIdle, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Holds a recovered socket's live logged events while its missed ones are replayed, then
/// releases those above the replayed-through mark, once, in offset order, each only if it is
/// still addressed to the socket's rooms at release (the connection handler may have left rooms
/// the user lost while away after the event was held); afterwards drops any logged event at or
/// below the mark (the replay sent it).
final class ReplayGate: Sendable {
    private let state = Mutex<State>(State())

    struct State {
        var replaying = true
        var held: [(packet: EncodedPacket, options: BroadcastOptions)] = []
        var replayedThrough: UInt64 = 0
    }

    /// A live logged packet for this socket: sent, held, or dropped. Sent under the gate's lock,
    /// so a release in progress and a live packet cannot swap places.
    func admit(_ packet: EncodedPacket, offset: UInt64, options: BroadcastOptions, connection: EngineConnection, batch: inout WriteBatch) {
        let pass: Bool = state.withLock { s in
            if s.replaying {
                s.held.append((packet, options))
                return false
            }
            return offset > s.replayedThrough
        }
        // in the broadcast's batch, as every other recipient: one wake-up per event loop
        if pass { _ = connection.enqueue(packet.frames, volatile: options.volatile, batch: &batch) }
    }

    /// The replay sent everything up to `mark`: release the held packets above it that are
    /// addressed to `socket`'s rooms now, in offset order, each offset once, and let live
    /// packets through from now on.
    func finish(through mark: UInt64, socket: Socket) {
        let connection = socket.client.connection
        state.withLock { s in
            s.replayedThrough = mark
            s.replaying = false
            let held = s.held.sorted { ($0.packet.offset ?? 0) < ($1.packet.offset ?? 0) }
            s.held = []
            guard !held.isEmpty else { return }
            let rooms = socket.rooms
            var last = mark
            for (packet, options) in held {
                guard let offset = packet.offset, offset > last else { continue }
                last = offset
                guard LoggedEvent.isAddressed(rooms: options.rooms, except: options.except, to: rooms) else { continue }
                _ = connection.enqueue(packet.frames, volatile: false)
            }
        }
    }
}
