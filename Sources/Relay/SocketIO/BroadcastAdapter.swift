/// Who a broadcast goes to.
public struct BroadcastOptions: Sendable, Hashable {
    /// Target rooms (union). Empty = every socket of the namespace.
    public var rooms: Set<String>
    /// Sockets in any of these rooms are skipped (a socket id is also a room).
    public var except: Set<String>
    /// Drop for connections that cannot take it right now instead of queueing.
    public var volatile: Bool
    /// Only this node (a cluster adapter must not forward it).
    public var local: Bool

    public init(rooms: Set<String> = [], except: Set<String> = [], volatile: Bool = false, local: Bool = false) {
        self.rooms = rooms
        self.except = except
        self.volatile = volatile
        self.local = local
    }
}

/// Carries broadcasts to their recipients. The in-memory adapter delivers to this process's
/// sockets; a cluster adapter (e.g. PostgreSQL LISTEN/NOTIFY) also publishes the encoded packet
/// and options to the other nodes, which call ``Namespace/deliverLocally(_:options:)`` on arrival.
public protocol BroadcastAdapter: Sendable {
    /// Delivers an already-encoded packet.
    func broadcast(_ packet: EncodedPacket, options: BroadcastOptions, namespace: Namespace) async
    /// Disconnects the matching sockets.
    func disconnectSockets(options: BroadcastOptions, close: Bool, namespace: Namespace) async
    /// Ids of the matching sockets.
    func socketIDs(options: BroadcastOptions, namespace: Namespace) async -> Set<String>
    /// Makes the matching sockets join / leave rooms.
    func addSockets(options: BroadcastOptions, rooms: Set<String>, namespace: Namespace) async
    func removeSockets(options: BroadcastOptions, rooms: Set<String>, namespace: Namespace) async
}

/// The single-process adapter.
public struct InMemoryAdapter: BroadcastAdapter {
    public init() {}

    public func broadcast(_ packet: EncodedPacket, options: BroadcastOptions, namespace: Namespace) async {
        namespace.deliverLocally(packet, options: options)
    }

    public func disconnectSockets(options: BroadcastOptions, close: Bool, namespace: Namespace) async {
        for socket in namespace.localSockets(options) { socket.disconnect(close: close) }
    }

    public func socketIDs(options: BroadcastOptions, namespace: Namespace) async -> Set<String> {
        Set(namespace.localSockets(options).map(\.id))
    }

    public func addSockets(options: BroadcastOptions, rooms: Set<String>, namespace: Namespace) async {
        for socket in namespace.localSockets(options) { namespace.join(socket.id, rooms: rooms) }
    }

    public func removeSockets(options: BroadcastOptions, rooms: Set<String>, namespace: Namespace) async {
        for socket in namespace.localSockets(options) { namespace.leave(socket.id, rooms: rooms) }
    }
}

/// Broadcast operators: `namespace.to("room").except(id).volatile.emit(…)`.
public struct BroadcastOperator: Sendable {
    let namespace: Namespace
    public private(set) var options: BroadcastOptions

    init(namespace: Namespace, options: BroadcastOptions = BroadcastOptions()) {
        self.namespace = namespace
        self.options = options
    }

    public func to(_ room: String) -> BroadcastOperator {
        var copy = self
        copy.options.rooms.insert(room)
        return copy
    }

    public func to(_ rooms: some Sequence<String>) -> BroadcastOperator {
        var copy = self
        copy.options.rooms.formUnion(rooms)
        return copy
    }

    public func `in`(_ room: String) -> BroadcastOperator { to(room) }

    public func except(_ room: String) -> BroadcastOperator {
        var copy = self
        copy.options.except.insert(room)
        return copy
    }

    public func except(_ rooms: some Sequence<String>) -> BroadcastOperator {
        var copy = self
        copy.options.except.formUnion(rooms)
        return copy
    }

    public var volatile: BroadcastOperator {
        var copy = self
        copy.options.volatile = true
        return copy
    }

    public var local: BroadcastOperator {
        var copy = self
        copy.options.local = true
        return copy
    }

    /// Emits an event to the selected sockets. The packet is encoded once for all of them.
    public func emit(_ event: String, _ args: JSONValue...) async {
        await emit(event, arguments: args)
    }

    public func emit(_ event: String, _ arg: JSONValue) async {
        await emit(event, arguments: [arg])
    }

    public func emit(_ event: String, arguments: [JSONValue]) async {
        let packet = SocketPacketEncoder.encodeFrames(.event(event, arguments, namespace: namespace.name))
        await namespace.adapter.broadcast(packet, options: options, namespace: namespace)
    }

    /// Emits an `Encodable` value as the single argument.
    public func emit(_ event: String, _ value: some Encodable) async throws {
        await emit(event, arguments: [try JSONValue(encoding: value)])
    }

    public func disconnectSockets(close: Bool = false) async {
        await namespace.adapter.disconnectSockets(options: options, close: close, namespace: namespace)
    }

    public func socketIDs() async -> Set<String> {
        await namespace.adapter.socketIDs(options: options, namespace: namespace)
    }

    /// This node's matching sockets.
    public func localSockets() -> [Socket] { namespace.localSockets(options) }

    public func socketsJoin(_ rooms: String...) async {
        await namespace.adapter.addSockets(options: options, rooms: Set(rooms), namespace: namespace)
    }

    public func socketsLeave(_ rooms: String...) async {
        await namespace.adapter.removeSockets(options: options, rooms: Set(rooms), namespace: namespace)
    }
}
