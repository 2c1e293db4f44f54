import Synchronization

/// Connection middleware: inspect the handshake, throw ``ConnectError`` to refuse. A non-nil
/// return value becomes the socket's ``Socket/data`` (e.g. the authenticated user).
public typealias ConnectionMiddleware = @Sendable (Handshake) async throws -> (any Sendable)?

/// A Socket.IO namespace: its sockets, rooms, middleware and connection handler.
public final class Namespace: Sendable {
    public let name: String
    let adapter: any BroadcastAdapter
    private let state: Mutex<State>

    struct State: ~Copyable {
        var middlewares: [ConnectionMiddleware] = []
        var connectionHandler: (@Sendable (Socket) async -> Void)?
        var sockets: [String: Socket] = [:]
        /// room → socket ids
        var rooms: [String: Set<String>] = [:]
        /// socket id → rooms
        var socketRooms: [String: Set<String>] = [:]
    }

    init(name: String, adapter: any BroadcastAdapter) {
        self.name = name
        self.adapter = adapter
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

    public func socket(id: String) -> Socket? { state.withLock { $0.sockets[id] } }

    /// Rooms with at least one socket on this node (socket-id rooms included).
    public var roomNames: [String] { state.withLock { Array($0.rooms.keys) } }

    public func socketIDs(inRoom room: String) -> Set<String> { state.withLock { $0.rooms[room] ?? [] } }

    public func rooms(ofSocket id: String) -> Set<String> { state.withLock { $0.socketRooms[id] ?? [] } }

    // MARK: - Local delivery (used by adapters)

    /// Sockets of this node matching the options.
    public func localSockets(_ options: BroadcastOptions) -> [Socket] {
        state.withLock { s in
            var excluded = Set<String>()
            for room in options.except { if let ids = s.rooms[room] { excluded.formUnion(ids) } }
            if options.rooms.isEmpty {
                return s.sockets.values.filter { !excluded.contains($0.id) }
            }
            var ids = Set<String>()
            for room in options.rooms { if let members = s.rooms[room] { ids.formUnion(members) } }
            var result: [Socket] = []
            result.reserveCapacity(ids.count)
            for id in ids where !excluded.contains(id) {
                if let socket = s.sockets[id] { result.append(socket) }
            }
            return result
        }
    }

    /// Queues an encoded packet on every matching socket of this node. No per-recipient encoding:
    /// every connection gets the same buffers.
    public func deliverLocally(_ packet: EncodedPacket, options: BroadcastOptions) {
        for socket in localSockets(options) {
            socket.client.connection.enqueue(packet.frames, volatile: options.volatile)
        }
    }

    // MARK: - Membership

    func add(_ socket: Socket) {
        state.withLock { s in
            s.sockets[socket.id] = socket
            s.socketRooms[socket.id, default: []].insert(socket.id)
            s.rooms[socket.id, default: []].insert(socket.id)
        }
    }

    func remove(_ socket: Socket) {
        state.withLock { s in
            s.sockets.removeValue(forKey: socket.id)
            for room in s.socketRooms.removeValue(forKey: socket.id) ?? [] {
                s.rooms[room]?.remove(socket.id)
                if s.rooms[room]?.isEmpty == true { s.rooms.removeValue(forKey: room) }
            }
        }
    }

    func join(_ socketID: String, rooms: Set<String>) {
        state.withLock { s in
            guard s.sockets[socketID] != nil else { return }
            s.socketRooms[socketID, default: []].formUnion(rooms)
            for room in rooms { s.rooms[room, default: []].insert(socketID) }
        }
    }

    func leave(_ socketID: String, rooms: Set<String>) {
        state.withLock { s in
            guard s.sockets[socketID] != nil else { return }
            s.socketRooms[socketID]?.subtract(rooms)
            for room in rooms {
                s.rooms[room]?.remove(socketID)
                if s.rooms[room]?.isEmpty == true { s.rooms.removeValue(forKey: room) }
            }
        }
    }

    var middlewares: [ConnectionMiddleware] { state.withLock { $0.middlewares } }
    var connectionHandler: (@Sendable (Socket) async -> Void)? { state.withLock { $0.connectionHandler } }
}
