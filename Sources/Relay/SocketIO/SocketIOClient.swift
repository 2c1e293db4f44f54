import NIOCore
import Synchronization

/// The Socket.IO side of one Engine.IO connection: packet decoding, namespace connects,
/// dispatch to sockets, connect timeout, and read backpressure.
///
/// Packets arrive synchronously on the reading thread. Connects (middleware, connection
/// handler) and events (per-packet middleware, handlers) run in tasks, in order per socket;
/// while more than ``backlogHigh`` events wait, the transport stops reading.
final class SocketIOClient: EngineConnectionDelegate, Sendable {
    let connection: EngineConnection
    private let relay: Relay
    private let state: Mutex<State>
    /// Events received and not yet handled, over all of this client's sockets.
    private let backlog = Atomic<Int>(0)

    static let backlogHigh = 256
    static let backlogLow = 64

    struct State: ~Copyable {
        var decoder = SocketPacketDecoder()
        /// Joined namespaces, by the name's bytes (``ProtocolName``), as Node's `Client.nsps`.
        var sockets: [ProtocolName: Socket] = [:]
        /// Namespaces whose CONNECT is running its middleware.
        var connecting: Set<ProtocolName> = []
        /// Namespaces whose client sent DISCONNECT while their CONNECT was still running: the
        /// socket leaves as soon as it exists (its connection handler never runs).
        var leaveRequested: Set<ProtocolName> = []
        var connectTimer: Scheduled<Void>?
        var closed = false
    }

    init(connection: EngineConnection, relay: Relay) {
        self.connection = connection
        self.relay = relay
        self.state = Mutex(State())
        // Timers capture strongly (no weak references: a weakly referenced object pays a side
        // table on every retain); every timer is cancelled when the connection closes.
        let timer = connection.eventLoop.scheduleTask(in: .nanoseconds(relay.configuration.connectTimeout.nanosecondsClamped)) {
            connection.logger.debug("no namespace joined before connectTimeout")
            connection.close(reason: .forcedClose)
        }
        state.withLock { $0.connectTimer = timer }
    }

    func engineConnection(_ connection: EngineConnection, didReceive data: EngineData) {
        let result: Result<SocketPacket?, SocketDecodingError> = state.withLock { s in
            switch data {
            case .text(let text): return Result { () throws(SocketDecodingError) in try s.decoder.decode(text: text) }
            case .binary(let buffer): return Result { () throws(SocketDecodingError) in try s.decoder.decode(binary: Array(buffer.readableBytesView)) }
            }
        }
        switch result {
        case .failure(let error):
            connection.closeForProtocolError("invalid socket.io packet", ["socket.io.decoding_error": .string(error.code)])
        case .success(nil):
            return
        case .success(let packet?):
            handle(packet)
        }
    }

    /// Where a decoded packet goes (Node's `Client.ondecoded`).
    private enum Route {
        case connect
        case socket(Socket)
        /// A DISCONNECT while the namespace's CONNECT is still running (recorded in `leaveRequested`).
        case leaveWhileConnecting
        /// A CONNECT for a namespace already joined (or being joined), a packet for a namespace
        /// not joined, or a CONNECT_ERROR from the client: Node closes the connection.
        case invalid(String)
    }

    private func handle(_ packet: SocketPacket) {
        let key = ProtocolName(packet.namespace)
        let route: Route = state.withLock { s in
            if let socket = s.sockets[key] {
                switch packet.type {
                case .connect: return .invalid("connect for a namespace already connected")
                case .connectError: return .invalid("connect_error sent by the client")
                default: return .socket(socket)
                }
            }
            switch packet.type {
            case .connect:
                guard s.connecting.insert(key).inserted else { return .invalid("connect for a namespace already connecting") }
                return .connect
            case .disconnect where s.connecting.contains(key):
                s.leaveRequested.insert(key)
                return .leaveWhileConnecting
            case .connectError:
                return .invalid("connect_error sent by the client")
            default:
                return .invalid("packet for a namespace not connected")
            }
        }
        switch route {
        case .invalid(let cause):
            connection.closeForProtocolError(cause, [
                "socket.io.namespace": .string(packet.namespace),
                "socket.io.packet_type": .stringConvertible(packet.type.rawValue),
            ])
        case .leaveWhileConnecting:
            return
        case .connect:
            connection.spawn {
                await self.connect(namespace: packet.namespace, auth: packet.data)
                self.state.withLock { s in
                    s.connecting.remove(key)
                    s.leaveRequested.remove(key)
                    if s.connecting.isEmpty { s.connecting = []; s.leaveRequested = [] }  // let their storage go
                }
            }
        case .socket(let socket):
            switch packet.type {
            case .disconnect: socket.receiveClientDisconnect()
            case .event, .binaryEvent: socket.receiveEvent(packet)
            case .ack, .binaryAck: socket.receiveAck(packet)
            case .connect, .connectError: break  // routed as invalid above
            }
        }
    }


    private func connect(namespace name: String, auth: JSONValue?) async {
        let handshake = Handshake(
            auth: auth,
            headers: connection.request.headers,
            uri: connection.request.uri,
            remoteAddress: connection.request.remoteAddress,
            namespace: name,
            engineSid: connection.sid
        )
        guard let namespace = relay.resolveNamespace(name, handshake: handshake) else {
            send(SocketPacket(.connectError, namespace: name, data: ["message": "Invalid namespace"]))
            return
        }
        var data: (any Sendable)?
        do {
            for middleware in namespace.middlewares {
                if let value = try await middleware(handshake) { data = value }
            }
        } catch let error as ConnectError {
            send(SocketPacket(.connectError, namespace: name, data: error.payload))
            return
        } catch {
            connection.logger.debug("connection middleware failed", metadata: ["error": "\(error)"])
            send(SocketPacket(.connectError, namespace: name, data: ["message": "Connection refused"]))
            return
        }
        // Connection state recovery, phase 1: a valid pid + offset gets its session back.
        let recovery = namespace.recovery
        var restored: RecoverableSession?
        var clientOffset: UInt64 = 0
        var session: SocketSession?
        if let recovery {
            let owner = recovery.owner(data)
            if let request = ConnectionStateRecovery.recoveryRequest(in: auth) {
                restored = await restoreSession(pid: request.pid, namespace: name, owner: owner, after: request.offset, store: recovery.store)
                clientOffset = request.offset
            }
            session = SocketSession(pid: restored?.pid ?? ConnectionStateRecovery.generatePID(), owner: owner, store: recovery.store, tracker: recovery.writes)
        }
        var socketID = EngineServer.generateSid()
        if let restored {
            // the same client's previous socket, if this node still has it (its transport not yet
            // timed out), is stale: it ends without touching the session, and its id is free again
            if let stale = namespace.socket(id: restored.socketID), stale.session?.pid == restored.pid {
                stale.session?.detach()
                stale.disconnect()
            }
            if namespace.socket(id: restored.socketID) == nil {
                // another node may still have it (the client moved before that transport timed
                // out): end it cluster-wide through the adapter before the new socket exists, so
                // two live sockets never share the id. Not on a single node: there it could only
                // reach a concurrent CONNECT with the same pid just added here, and end its session.
                if !(namespace.adapter is InMemoryAdapter) { await namespace.in(restored.socketID).disconnectSockets() }
                if namespace.socket(id: restored.socketID) == nil { socketID = restored.socketID }
            }
        }
        let socket = Socket(id: socketID, namespace: namespace, handshake: handshake, client: self, data: data,
                            session: session, recovered: restored != nil)
        let (accepted, leave): (Bool, Bool) = state.withLock { s in
            let key = ProtocolName(name)
            guard !s.closed, s.sockets[key] == nil else { return (false, false) }
            s.sockets[key] = socket
            s.connectTimer?.cancel()
            s.connectTimer = nil
            // under the client's lock, so a close that races this CONNECT either comes before
            // (and refuses it) or after, and then finds the socket to remove from the namespace
            namespace.add(socket)
            return (true, s.leaveRequested.remove(key) != nil)
        }
        guard accepted else {
            session?.abandon()
            return
        }
        if let restored { namespace.join(socket.id, rooms: restored.rooms) }
        var reply: [String: JSONValue] = ["sid": .string(socket.id)]
        if let session { reply["pid"] = .string(session.pid) }
        send(SocketPacket(.connect, namespace: name, data: .object(reply)))
        session?.save(socketID: socket.id, namespace: name, rooms: socket.joinedRooms, connected: true, logger: connection.logger)
        if leave { socket.receiveClientDisconnect() }
        if socket.connected, let handler = namespace.connectionHandler { await handler(socket) }
        // phase 2: the missed events, then the live ones held meanwhile
        if let gate = socket.replayGate, let session {
            await replay(socket, gate: gate, session: session, after: clientOffset, sessionRooms: (restored?.rooms ?? []).union([socket.id]))
        }
        if socket.connected { session?.save(socketID: socket.id, namespace: name, rooms: socket.joinedRooms, connected: true, logger: connection.logger) }
        // events that arrived while the handler registered its event handlers run now
        socket.startHandlingEvents()
    }

    /// Phase 1 of recovery: the store's session for this pid, if it is valid and really the one
    /// asked for (a store error is a new session, never a refused CONNECT).
    private func restoreSession(pid: String, namespace: String, owner: String?, after offset: UInt64, store: any SessionRecoveryStore) async -> RecoverableSession? {
        do {
            guard let session = try await store.restore(pid: pid, namespace: namespace, owner: owner, after: offset) else { return nil }
            guard session.pid == pid, ProtocolName.equal(session.namespace, namespace), session.owner == owner else { return nil }
            return session
        } catch {
            connection.logger.info("recovery session not restored", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Phase 2 of recovery: sends the missed events addressed to the socket's rooms now (the
    /// connection handler may have joined more), in offset order, then releases the live ones
    /// held meanwhile above the last offset replayed. If the store can no longer replay, the
    /// session is discarded and the connection closed: the client comes back with a new one.
    private func replay(_ socket: Socket, gate: ReplayGate, session: SocketSession, after offset: UInt64, sessionRooms: Set<String>) async {
        guard socket.connected else {
            gate.finish(through: .max, socket: socket)
            return
        }
        let store = session.store
        var missed: MissedEvents?
        do {
            missed = try await store.missedEvents(namespace: socket.namespace.name, after: offset, sessionRooms: sessionRooms, socketRooms: socket.rooms)
        } catch {
            connection.logger.info("recovery replay failed", metadata: ["socket.id": .string(socket.id), "error": "\(error)"])
        }
        guard let missed else {
            session.discard(logger: connection.logger)
            gate.finish(through: .max, socket: socket)
            connection.close(reason: .forcedClose)
            return
        }
        var mark = max(offset, missed.through)
        for event in missed.events.sorted(by: { $0.offset < $1.offset }) where event.offset > offset && ProtocolName.equal(event.namespace, socket.namespace.name) {
            mark = max(mark, event.offset)
            _ = connection.enqueue(event.encoded.frames, volatile: false)
        }
        gate.finish(through: mark, socket: socket)
    }

    // MARK: - Backpressure

    func eventQueued() {
        let pending = backlog.wrappingAdd(1, ordering: .relaxed).newValue
        guard pending >= Self.backlogHigh, !readingPaused.exchange(true, ordering: .acquiringAndReleasing) else { return }
        connection.setReadingPaused(true)
        // the handlers may have caught up meanwhile
        if backlog.load(ordering: .relaxed) <= Self.backlogLow, readingPaused.exchange(false, ordering: .acquiringAndReleasing) {
            connection.setReadingPaused(false)
        }
    }

    func eventsDone(_ count: Int) {
        guard count > 0 else { return }
        let pending = backlog.wrappingSubtract(count, ordering: .relaxed).newValue
        if pending <= Self.backlogLow, readingPaused.exchange(false, ordering: .acquiringAndReleasing) {
            connection.setReadingPaused(false)
        }
    }

    private let readingPaused = Atomic<Bool>(false)

    func socketDidLeave(_ socket: Socket) {
        state.withLock { s in
            let key = ProtocolName(socket.namespace.name)
            if s.sockets[key] === socket { s.sockets.removeValue(forKey: key) }
        }
    }

    private func send(_ packet: SocketPacket) {
        connection.enqueue(SocketPacketEncoder.encodeFrames(packet).frames, volatile: false)
    }

    func engineConnection(_ connection: EngineConnection, didCloseWith reason: EngineCloseReason) {
        let sockets = state.withLock { s in
            s.closed = true
            s.connectTimer?.cancel()
            s.connectTimer = nil
            let all = Array(s.sockets.values)
            s.sockets = [:]
            return all
        }
        let disconnectReason = DisconnectReason(reason)
        for socket in sockets where socket.markDisconnected() {
            socket.disconnectAfterQueuedEvents(disconnectReason)
        }
    }
}
