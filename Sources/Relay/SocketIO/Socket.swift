import Logging
import NIOCore
import Synchronization

/// Acknowledges a client's event (send it at most once; later calls are ignored).
public typealias Acknowledge = @Sendable ([JSONValue]) async -> Void
/// Handles one client event: its arguments, and an acknowledger if the client asked for one.
public typealias EventHandler = @Sendable ([JSONValue], Acknowledge?) async throws -> Void
/// Per-packet middleware: throw to refuse the event (it is dropped and logged).
public typealias PacketMiddleware = @Sendable (_ event: String, _ args: [JSONValue]) async throws -> Void

/// One client connected to one namespace.
public final class Socket: Sendable {
    /// The Socket.IO socket id (also the name of its own room).
    public let id: String
    public let namespace: Namespace
    public let handshake: Handshake
    let client: SocketIOClient
    /// Whether this socket got back a session of an earlier connection (connection state
    /// recovery): its id, its rooms, and the events it missed. As Node's `socket.recovered`.
    public let recovered: Bool
    /// Its recoverable session (nil when recovery is off).
    let session: SocketSession?
    /// Holds live logged events while a recovered socket's missed ones are replayed.
    let replayGate: ReplayGate?
    private let state: Mutex<State>

    struct State: ~Copyable {
        var connected = true
        var data: (any Sendable)?
        /// Event handlers, few per socket: a list costs less memory than a dictionary and is as
        /// fast to search at this size. Names are matched by their bytes (``ProtocolName``).
        var handlers: [(event: String, handler: EventHandler)] = []
        var anyHandler: (@Sendable (String, [JSONValue]) async -> Void)?
        var middlewares: [PacketMiddleware] = []
        var disconnectHandlers: [@Sendable (DisconnectReason) async -> Void] = []
        var acks = AckBook<PendingAck>()
        /// Inbound events (and a client's disconnect) wait here; a task drains them in order,
        /// spawned only while there is something to do.
        var inbox: [Inbound] = []
        var draining = false
        /// Events are held until the connection handler has registered the event handlers.
        var handlingEvents = false
        /// The socket ended while its connection handler was still running: the disconnect
        /// handlers run once it returns, so those it registered late run too.
        var pendingDisconnect: DisconnectReason?
        /// Set once the disconnect handlers have been taken to run; a handler registered after
        /// this runs at once, so every registered handler runs exactly once.
        var finishedReason: DisconnectReason?
    }

    enum Inbound {
        case event(SocketPacket)
        /// The client left: events before it are still handled, then the socket disconnects.
        case disconnect(DisconnectReason)
    }

    struct PendingAck {
        let continuation: CheckedContinuation<[JSONValue], any Error>
        var timer: Scheduled<Void>?
    }

    init(id: String, namespace: Namespace, handshake: Handshake, client: SocketIOClient, data: (any Sendable)?,
         session: SocketSession? = nil, recovered: Bool = false) {
        self.id = id
        self.namespace = namespace
        self.handshake = handshake
        self.client = client
        self.session = session
        self.recovered = recovered
        self.replayGate = recovered ? ReplayGate() : nil
        var s = State()
        s.data = data
        self.state = Mutex(s)
    }

    var logger: Logger { client.connection.logger }

    public var connected: Bool { state.withLock { $0.connected } }

    /// Application data (set by connection middleware or by the app).
    public var data: (any Sendable)? {
        get { state.withLock { $0.data } }
        set { state.withLock { $0.data = newValue } }
    }

    public func data<T: Sendable>(as type: T.Type) -> T? { data as? T }

    // MARK: - Handlers

    /// Registers the handler of an event (replaces an earlier one for the same name).
    public func on(_ event: String, _ handler: @escaping EventHandler) {
        state.withLock { s in
            if let i = s.handlers.firstIndex(where: { ProtocolName.equal($0.event, event) }) {
                s.handlers[i].handler = handler
            } else {
                s.handlers.append((event, handler))
            }
        }
    }

    /// Registers a handler whose single argument is decoded as `T` (events whose first
    /// argument does not decode are dropped and logged).
    public func on<T: Decodable & Sendable>(_ event: String, as type: T.Type, _ handler: @escaping @Sendable (T, Acknowledge?) async throws -> Void) {
        let logger = self.logger
        on(event) { args, ack in
            guard let first = args.first, let value = try? first.decode(as: T.self) else {
                logger.debug("event payload did not decode", metadata: ["event": .string(event)])
                return
            }
            try await handler(value, ack)
        }
    }

    /// Called for every event (after middleware), before the named handler.
    public func onAny(_ handler: @escaping @Sendable (String, [JSONValue]) async -> Void) {
        state.withLock { $0.anyHandler = handler }
    }

    /// Adds per-packet middleware.
    public func use(_ middleware: @escaping PacketMiddleware) {
        state.withLock { $0.middlewares.append(middleware) }
    }

    /// Registers a handler run once when the socket disconnects, for any reason.
    ///
    /// Every registered handler runs exactly once, whatever the interleaving: a socket that
    /// ends while its connection handler is still running (the client dropped or sent
    /// DISCONNECT mid-connect) runs its disconnect handlers only after the connection handler
    /// returned, and a handler registered after the socket ended runs at once. So whatever a
    /// connection handler set up and paired with an `onDisconnect` is undone.
    public func onDisconnect(_ handler: @escaping @Sendable (DisconnectReason) async -> Void) {
        let runNow: DisconnectReason? = state.withLock { s in
            if let reason = s.finishedReason { return reason }
            s.disconnectHandlers.append(handler)
            return nil
        }
        if let runNow { client.connection.spawn { await handler(runNow) } }
    }

    // MARK: - Rooms

    /// Joins rooms. A no-op once the socket has disconnected (a connection handler that
    /// finishes after its client left cannot put the socket back in a room).
    public func join(_ rooms: String...) async { namespace.join(id, rooms: rooms) }
    public func join(_ rooms: some Sequence<String>) async { namespace.join(id, rooms: rooms) }
    public func leave(_ room: String) async { namespace.leave(id, rooms: [room]) }
    public var rooms: Set<String> { namespace.rooms(ofSocket: id) }
    /// Joined rooms, without the socket's own.
    var joinedRooms: Set<String> {
        var rooms = namespace.rooms(ofSocket: id)
        rooms.remove(id)
        return rooms
    }

    // MARK: - Emitting

    /// Emits an event to this socket.
    public func emit(_ event: String, _ args: JSONValue...) {
        emit(event, arguments: args)
    }

    public func emit(_ event: String, _ arg: JSONValue) {
        emit(event, arguments: [arg])
    }

    public func emit(_ event: String, arguments: [JSONValue]) {
        send(.event(event, arguments, namespace: namespace.name))
    }

    /// Emits an `Encodable` value as the single argument.
    public func emit(_ event: String, _ value: some Encodable) throws {
        emit(event, arguments: [try JSONValue(encoding: value)])
    }

    /// Emits an event and waits for the client's acknowledgement.
    /// Throws ``AckError/timeout`` or ``AckError/disconnected``.
    public func emitWithAck(_ event: String, _ args: JSONValue..., timeout: Duration = .seconds(10)) async throws -> [JSONValue] {
        try await emitWithAck(event, arguments: args, timeout: timeout)
    }

    public func emitWithAck(_ event: String, arguments: [JSONValue], timeout: Duration = .seconds(10)) async throws -> [JSONValue] {
        let eventLoop = client.connection.eventLoop
        return try await withCheckedThrowingContinuation { continuation in
            let ackID: Int? = state.withLock { s in
                guard s.connected, let ackID = s.acks.register(PendingAck(continuation: continuation)) else { return nil }
                // strong: cancelled when the ack arrives or the socket disconnects
                s.acks.setTimer(for: ackID, eventLoop.scheduleTask(in: .nanoseconds(timeout.nanosecondsClamped)) { () -> Void in
                    self.failAck(ackID, with: AckError.timeout)
                })
                return ackID
            }
            guard let ackID else {
                continuation.resume(throwing: AckError.disconnected)
                return
            }
            send(.event(event, arguments, namespace: namespace.name, id: ackID))
        }
    }

    /// Broadcast to every other socket of the namespace.
    public var broadcast: BroadcastOperator { BroadcastOperator(namespace: namespace).except(id) }
    /// Broadcast to a room, without this socket.
    public func to(_ room: String) -> BroadcastOperator { broadcast.to(room) }
    public func `in`(_ room: String) -> BroadcastOperator { to(room) }
    public func except(_ room: String) -> BroadcastOperator { broadcast.except(room) }

    func send(_ packet: SocketPacket, volatile: Bool = false) {
        client.connection.enqueue(SocketPacketEncoder.encodeFrames(packet).frames, volatile: volatile)
    }

    /// Leaves the namespace (the client gets a DISCONNECT packet). With `close`, the whole
    /// underlying connection is closed too.
    public func disconnect(close: Bool = false) {
        guard markDisconnected() else { return }
        send(SocketPacket(.disconnect, namespace: namespace.name))
        client.socketDidLeave(self)
        if close { client.connection.close(reason: .forcedClose) }
        finishDisconnect(.serverNamespaceDisconnect)
    }

    // MARK: - Inbound (from SocketIOClient)

    func receiveEvent(_ packet: SocketPacket) {
        let spawn: Bool = state.withLock { s in
            guard s.connected else { return false }
            s.inbox.append(.event(packet))
            client.eventQueued()
            return startDraining(&s)
        }
        if spawn { client.connection.spawn { await self.drainInbox() } }
    }

    /// The connection handler returned: events queued meanwhile are handled now, or, if the
    /// socket ended meanwhile, its disconnect handlers run now.
    func startHandlingEvents() {
        enum Next { case nothing, drain, runHandlers([@Sendable (DisconnectReason) async -> Void], DisconnectReason) }
        let next: Next = state.withLock { s in
            s.handlingEvents = true
            if let reason = s.pendingDisconnect {
                s.pendingDisconnect = nil
                return .runHandlers(takeDisconnectHandlers(&s, reason), reason)
            }
            return startDraining(&s) ? .drain : .nothing
        }
        switch next {
        case .nothing: break
        case .drain: client.connection.spawn { await self.drainInbox() }
        case .runHandlers(let handlers, let reason): runDisconnectHandlers(handlers, reason)
        }
    }

    private func takeDisconnectHandlers(_ s: inout State, _ reason: DisconnectReason) -> [@Sendable (DisconnectReason) async -> Void] {
        s.finishedReason = reason
        let handlers = s.disconnectHandlers
        s.disconnectHandlers = []
        return handlers
    }

    private func runDisconnectHandlers(_ handlers: [@Sendable (DisconnectReason) async -> Void], _ reason: DisconnectReason) {
        guard !handlers.isEmpty else { return }
        client.connection.spawn {
            for h in handlers { await h(reason) }
        }
    }

    /// The client sent DISCONNECT for this namespace.
    func receiveClientDisconnect() {
        guard markDisconnected() else { return }
        client.socketDidLeave(self)
        disconnectAfterQueuedEvents(.clientNamespaceDisconnect)
    }

    /// The client left (DISCONNECT, or its connection closed): events it sent before are still
    /// handled, in order, then the socket disconnects. Call after `markDisconnected()`.
    func disconnectAfterQueuedEvents(_ reason: DisconnectReason) {
        let now: Bool = state.withLock { s in
            if s.inbox.isEmpty && !s.draining { return true }
            s.inbox.append(.disconnect(reason))
            return false
        }
        if now { finishDisconnect(reason) }
    }

    private func startDraining(_ s: inout State) -> Bool {
        guard s.handlingEvents, !s.draining, !s.inbox.isEmpty else { return false }
        s.draining = true
        return true
    }

    private func drainInbox() async {
        while true {
            let next: Inbound? = state.withLock { s in
                if s.inbox.isEmpty {
                    s.draining = false
                    return nil
                }
                return s.inbox.removeFirst()
            }
            switch next {
            case nil:
                return
            case .event(let packet)?:
                await dispatch(packet)
                client.eventsDone(1)
            case .disconnect(let reason)?:
                finishDisconnect(reason)
                return
            }
        }
    }

    private func dispatch(_ packet: SocketPacket) async {
        guard let (event, args) = packet.eventNameAndArgs else { return }
        let (middlewares, handler, anyHandler) = state.withLock { ($0.middlewares, $0.handlers.first(where: { ProtocolName.equal($0.event, event) })?.handler, $0.anyHandler) }
        do {
            for m in middlewares { try await m(event, args) }
        } catch {
            logger.debug("event refused by middleware", metadata: ["event": .string(event), "error": "\(error)"])
            return
        }
        let observer = namespace.observer
        observer?.eventReceived(event, namespace: namespace.name)
        var ack: Acknowledge?
        if let ackID = packet.id {
            let sent = Atomic<Bool>(false)
            let namespaceName = namespace.name
            let started = observer == nil ? nil : ContinuousClock.now
            ack = { args in
                guard !sent.exchange(true, ordering: .acquiringAndReleasing) else { return }
                self.send(.ack(args, id: ackID, namespace: namespaceName))
                if let observer, let started { observer.ackSent(event, elapsed: ContinuousClock.now - started) }
            }
        }
        await anyHandler?(event, args)
        guard let handler else { return }
        do {
            try await handler(args, ack)
        } catch {
            logger.debug("event handler failed", metadata: ["event": .string(event), "error": "\(error)"])
        }
    }

    func receiveAck(_ packet: SocketPacket) {
        guard let id = packet.id, case .array(let args)? = packet.data else { return }
        guard let pending = state.withLock({ $0.acks.settle(id) }) else { return }
        pending.timer?.cancel()
        pending.continuation.resume(returning: args)
    }

    private func failAck(_ id: Int, with error: any Error) {
        state.withLock { $0.acks.settle(id) }?.continuation.resume(throwing: error)
    }

    /// Returns true the first time only.
    func markDisconnected() -> Bool {
        state.withLock { s in
            guard s.connected else { return false }
            s.connected = false
            return true
        }
    }

    /// Leaves rooms, fails pending acks, runs disconnect handlers (after the connection
    /// handler returned, if it is still running).
    func finishDisconnect(_ reason: DisconnectReason) {
        // before leaving the rooms: a recoverable reason saves them
        session?.socketEnded(reason, socketID: id, namespace: namespace.name, rooms: joinedRooms, logger: logger)
        namespace.remove(self)
        let (handlers, acks, dropped) = state.withLock { s in
            let acks = s.acks.close()
            s.handlers = []
            // events still queued when the server disconnects the socket (or the transport
            // closed) are not handled: nobody can be answered any more
            let dropped = s.inbox.reduce(0) { n, item in if case .event = item { n + 1 } else { n } }
            s.inbox.removeAll()
            guard s.handlingEvents else {
                s.pendingDisconnect = reason
                return ([@Sendable (DisconnectReason) async -> Void](), acks, dropped)
            }
            guard s.finishedReason == nil else { return ([], acks, dropped) }
            return (takeDisconnectHandlers(&s, reason), acks, dropped)
        }
        client.eventsDone(dropped)
        for pending in acks {
            pending.timer?.cancel()
            pending.continuation.resume(throwing: AckError.disconnected)
        }
        logger.debug("socket disconnected", metadata: ["socket.id": .string(id), "reason": .string(reason.rawValue)])
        runDisconnectHandlers(handlers, reason)
    }
}
