import Synchronization

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
    /// The matching sockets of every node, as values (Node's `fetchSockets()`): this node's at
    /// once, the other nodes' as they answer, waiting at most `timeout` for all of them.
    /// - Throws: ``FetchSocketsTimeout`` (carrying what did arrive) when a node did not answer in time.
    func fetchSockets(options: BroadcastOptions, timeout: Duration, namespace: Namespace) async throws -> [SocketSummary]
    /// Sends an event to the namespace's server-side handlers on every OTHER node (Node's
    /// `serverSideEmit`, without acknowledgements); this node's handlers are not called.
    func serverSideEmit(_ event: String, arguments: [JSONValue], namespace: Namespace) async
}

/// One socket as a cluster-wide query sees it (``BroadcastOperator/fetchSockets(timeout:)``): a
/// value, because the socket may live on another node.
public struct SocketSummary: Sendable, Hashable {
    /// The Socket.IO socket id.
    public var id: String
    /// Its rooms, its own id included (as ``Namespace/rooms(ofSocket:)``).
    public var rooms: Set<String>
    /// ``SocketDataSummarizing/summary`` of its ``Socket/data``; nil when the data is not
    /// summarizable (or there is none).
    public var data: JSONValue?
    /// The node that holds it (the adapter's node id); nil for this node.
    public var node: String?

    public init(id: String, rooms: Set<String>, data: JSONValue?, node: String? = nil) {
        self.id = id
        self.rooms = rooms
        self.data = data
        self.node = node
    }

    /// This node's socket as a summary.
    public init(_ socket: Socket) {
        self.init(
            id: socket.id, rooms: socket.namespace.rooms(ofSocket: socket.id),
            data: (socket.data as? any SocketDataSummarizing)?.summary
        )
    }
}

/// Socket data that can travel to another node in a ``SocketSummary`` (Node's remote sockets
/// carry `socket.data` as JSON; ours is any `Sendable`, so it opts in).
public protocol SocketDataSummarizing: Sendable {
    /// A small JSON picture of the data (e.g. `{"userId":42}`).
    var summary: JSONValue { get }
}

/// ``BroadcastAdapter/fetchSockets(options:timeout:namespace:)`` did not hear from every node in time.
public struct FetchSocketsTimeout: Error, Sendable {
    /// The sockets of the nodes that did answer (this node's included).
    public var partial: [SocketSummary]
    /// How many nodes did not answer.
    public var missingNodes: Int

    public init(partial: [SocketSummary], missingNodes: Int) {
        self.partial = partial
        self.missingNodes = missingNodes
    }
}

/// Server-side event handlers of a namespace (``Namespace/onServerSideEmit(_:_:)``).
final class ServerSideHandlers: Sendable {
    private let handlers = Mutex<[String: [@Sendable ([JSONValue]) async -> Void]]>([:])

    func add(_ event: String, _ handler: @escaping @Sendable ([JSONValue]) async -> Void) {
        handlers.withLock { $0[event, default: []].append(handler) }
    }

    func handlers(for event: String) -> [@Sendable ([JSONValue]) async -> Void] {
        handlers.withLock { $0[event] ?? [] }
    }
}

extension Namespace {
    /// Registers a handler for ``serverSideEmit(_:arguments:)`` events sent by OTHER nodes
    /// (Node's `io.on(event, listener)` for server-side events). Handlers run in order of
    /// registration, in the adapter's receiving task: keep them short.
    public func onServerSideEmit(_ event: String, _ handler: @escaping @Sendable ([JSONValue]) async -> Void) {
        serverSideHandlers.add(event, handler)
    }

    /// Sends an event to the other nodes' server-side handlers (never to clients, never to this node).
    public func serverSideEmit(_ event: String, arguments: [JSONValue]) async {
        await adapter.serverSideEmit(event, arguments: arguments, namespace: self)
    }

    /// Every socket of the namespace on every node (``BroadcastOperator/fetchSockets(timeout:)``).
    public func fetchSockets(timeout: Duration = .seconds(5)) async throws -> [SocketSummary] {
        try await BroadcastOperator(namespace: self).fetchSockets(timeout: timeout)
    }

    /// Called by an adapter when another node's ``serverSideEmit(_:arguments:)`` arrives.
    public func receiveServerSideEmit(_ event: String, arguments: [JSONValue]) async {
        for handler in serverSideHandlers.handlers(for: event) { await handler(arguments) }
    }
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

    /// This process's matching sockets (there is no other node to ask, so it never times out).
    public func fetchSockets(options: BroadcastOptions, timeout: Duration, namespace: Namespace) async throws -> [SocketSummary] {
        namespace.localSockets(options).map(SocketSummary.init)
    }

    /// No other node: nothing to do (Node's in-memory adapter only warns).
    public func serverSideEmit(_ event: String, arguments: [JSONValue], namespace: Namespace) async {}
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
        if namespace.recovery != nil, await emitLogged(event, arguments: arguments) { return }
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

    /// The matching sockets of every node, as values (Node's `fetchSockets()`), waiting at
    /// most `timeout` for the other nodes' answers.
    /// - Throws: ``FetchSocketsTimeout`` (with the answers that did arrive) when a node is late.
    public func fetchSockets(timeout: Duration = .seconds(5)) async throws -> [SocketSummary] {
        try await namespace.adapter.fetchSockets(options: options, timeout: timeout, namespace: namespace)
    }
}
