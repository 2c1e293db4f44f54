import Synchronization

/// Connection middleware: inspect the handshake, throw ``ConnectError`` to refuse. A non-nil
/// return value becomes the socket's ``Socket/data`` (e.g. the authenticated user).
public typealias ConnectionMiddleware = @Sendable (Handshake) async throws -> (any Sendable)?

/// A Socket.IO namespace: its sockets, rooms, middleware and connection handler.
public final class Namespace: Sendable {
    public let name: String
    let adapter: any BroadcastAdapter
    /// Connection state recovery (ConnectionStateRecovery.swift); nil when off.
    let recovery: ConnectionStateRecovery?
    /// Handlers of other nodes' `serverSideEmit` (BroadcastAdapter.swift).
    let serverSideHandlers = ServerSideHandlers()
    private let state: Mutex<State>

    struct State: ~Copyable {
        var middlewares: [ConnectionMiddleware] = []
        var connectionHandler: (@Sendable (Socket) async -> Void)?
        /// Keys are names compared by their bytes (``ProtocolName``), as Node's `Map`s: a room
        /// name that is only canonically equivalent to another is another room.
        var sockets: [ProtocolName: Socket] = [:]
        /// Joined rooms → their sockets. A socket's own room (its id) is not stored: it is
        /// `sockets[id]`, which saves two collections per connected socket.
        var rooms: [ProtocolName: [ObjectIdentifier: Socket]] = [:]
        /// socket id → joined rooms (own room not included); only sockets that joined any.
        var socketRooms: [ProtocolName: Set<ProtocolName>] = [:]

        /// Calls `body` for every socket in `room` (a joined room, or a socket's own room).
        func forEachMember(of room: String, _ body: (Socket) -> Void) {
            let key = ProtocolName(room)
            let members = rooms[key]
            if let members { for socket in members.values { body(socket) } }
            if let own = sockets[key], members?[ObjectIdentifier(own)] == nil { body(own) }
        }
    }

    /// Metrics hook (``RelayConfiguration/observer``).
    let observer: (any RelayObserver)?

    init(name: String, adapter: any BroadcastAdapter, recovery: ConnectionStateRecovery? = nil, observer: (any RelayObserver)? = nil) {
        self.name = name
        self.observer = observer
        self.adapter = adapter
        self.recovery = recovery
        self.state = Mutex(State())
    }

    /// Adds connection middleware (run in order for every CONNECT).
    public func use(_ middleware: @escaping ConnectionMiddleware) {
        state.withLock { $0.middlewares.append(middleware) }
    }

    /// Sets the handler called for every connected socket (register its event handlers here).
    public func onConnection(_ handler: @escaping @Sendable (Socket) async -> Void) {
        state.withLock { $0.connectionHandler = handler }
    }

    // MARK: - Broadcasting

    public func to(_ room: String) -> BroadcastOperator { BroadcastOperator(namespace: self).to(room) }
    public func to(_ rooms: some Sequence<String>) -> BroadcastOperator { BroadcastOperator(namespace: self).to(rooms) }
    public func `in`(_ room: String) -> BroadcastOperator { to(room) }
    public func except(_ room: String) -> BroadcastOperator { BroadcastOperator(namespace: self).except(room) }
    public var volatile: BroadcastOperator { BroadcastOperator(namespace: self).volatile }
    public var local: BroadcastOperator { BroadcastOperator(namespace: self).local }

    /// Emits to every socket of the namespace.
    public func emit(_ event: String, _ args: JSONValue...) async {
        await BroadcastOperator(namespace: self).emit(event, arguments: args)
    }

    public func emit(_ event: String, _ arg: JSONValue) async {
        await BroadcastOperator(namespace: self).emit(event, arguments: [arg])
    }

    public func emit(_ event: String, _ value: some Encodable) async throws {
        try await BroadcastOperator(namespace: self).emit(event, value)
    }

    public func disconnectSockets(close: Bool = false) async {
        await BroadcastOperator(namespace: self).disconnectSockets(close: close)
    }

    // MARK: - Presence

    /// This node's sockets.
    public var sockets: [Socket] { state.withLock { Array($0.sockets.values) } }

    public func socket(id: String) -> Socket? { state.withLock { $0.sockets[ProtocolName(id)] } }

    /// Rooms with at least one socket on this node (socket-id rooms included).
    public var roomNames: [String] { state.withLock { Set($0.rooms.keys).union($0.sockets.keys).map(\.string) } }

    public func socketIDs(inRoom room: String) -> Set<String> {
        state.withLock { s in
            var ids = Set<String>()
            s.forEachMember(of: room) { ids.insert($0.id) }
            return ids
        }
    }

    public func rooms(ofSocket id: String) -> Set<String> {
        state.withLock { s in
            let key = ProtocolName(id)
            guard s.sockets[key] != nil else { return [] }
            return Set((s.socketRooms[key] ?? []).map(\.string)).union([id])
        }
    }

    // MARK: - Local delivery (used by adapters)

    /// Sockets of this node matching the options.
    public func localSockets(_ options: BroadcastOptions) -> [Socket] {
        state.withLock { s in
            var excluded = Set<ObjectIdentifier>()
            for room in options.except { s.forEachMember(of: room) { excluded.insert(ObjectIdentifier($0)) } }
            var result: [Socket] = []
            if options.rooms.isEmpty {
                result.reserveCapacity(s.sockets.count)
                for socket in s.sockets.values where !excluded.contains(ObjectIdentifier(socket)) { result.append(socket) }
                return result
            }
            if options.rooms.count == 1, let room = options.rooms.first {
                // the common case: one room, each member listed once
                result.reserveCapacity(s.rooms[ProtocolName(room)]?.count ?? 1)
                s.forEachMember(of: room) { socket in
                    if excluded.isEmpty || !excluded.contains(ObjectIdentifier(socket)) { result.append(socket) }
                }
                return result
            }
            var seen = excluded
            for room in options.rooms {
                s.forEachMember(of: room) { socket in
                    if seen.insert(ObjectIdentifier(socket)).inserted { result.append(socket) }
                }
            }
            return result
        }
    }

    /// Queues an encoded packet on every matching socket of this node. No per-recipient encoding:
    /// every connection gets the same buffers. A packet with an ``EncodedPacket/offset`` is held
    /// for a recovered socket still replaying its missed events (``deliverLogged(_:)``).
    public func deliverLocally(_ packet: EncodedPacket, options: BroadcastOptions) {
        var batch = WriteBatch()
        let sockets = localSockets(options)
        observer?.delivered(recipients: sockets.count)
        for socket in sockets {
            if let offset = packet.offset, let gate = socket.replayGate {
                gate.admit(packet, offset: offset, options: options, connection: socket.client.connection, batch: &batch)
                continue
            }
            _ = socket.client.connection.enqueue(packet.frames, volatile: options.volatile, batch: &batch)
        }
        batch.schedule()
    }

    // MARK: - Membership

    func add(_ socket: Socket) {
        state.withLock { s in s.sockets[ProtocolName(socket.id)] = socket }
    }

    func remove(_ socket: Socket) {
        state.withLock { s in
            let id = ProtocolName(socket.id)
            guard s.sockets[id] === socket else { return }
            s.sockets.removeValue(forKey: id)
            let key = ObjectIdentifier(socket)
            for room in s.socketRooms.removeValue(forKey: id) ?? [] {
                s.rooms[room]?.removeValue(forKey: key)
                if s.rooms[room]?.isEmpty == true { s.rooms.removeValue(forKey: room) }
            }
        }
    }

    func join(_ socketID: String, rooms: some Sequence<String>) {
        state.withLock { s in
            let id = ProtocolName(socketID)
            guard let socket = s.sockets[id] else { return }
            let key = ObjectIdentifier(socket)
            for room in rooms.lazy.map(ProtocolName.init) where room != id {
                s.socketRooms[id, default: []].insert(room)
                s.rooms[room, default: [:]][key] = socket
            }
        }
    }

    func leave(_ socketID: String, rooms: some Sequence<String>) {
        state.withLock { s in
            let id = ProtocolName(socketID)
            guard let socket = s.sockets[id] else { return }
            let key = ObjectIdentifier(socket)
            for room in rooms.lazy.map(ProtocolName.init) {
                s.rooms[room]?.removeValue(forKey: key)
                if s.rooms[room]?.isEmpty == true { s.rooms.removeValue(forKey: room) }
                s.socketRooms[id]?.remove(room)
            }
            if s.socketRooms[id]?.isEmpty == true { s.socketRooms.removeValue(forKey: id) }
        }
    }

    var middlewares: [ConnectionMiddleware] { state.withLock { $0.middlewares } }
    var connectionHandler: (@Sendable (Socket) async -> Void)? { state.withLock { $0.connectionHandler } }
}
