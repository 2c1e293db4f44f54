import Synchronization

// Socket.IO connection state recovery (socket.io 4.6+ `connectionStateRecovery`), wire-compatible
// with the stock clients:
//
// - CONNECT reply `40{"pid":"<private session id>","sid":"<socket id>"}`;
// - every logged broadcast carries its offset, a decimal string, as its LAST argument
//   (`42["message:new",{…},"1234"]`); the client remembers the last one it saw;
// - a reconnecting client merges `pid` and `offset` into its CONNECT payload
//   (`40{"token":"…","pid":"…","offset":"1234"}`); a valid one gets the same socket id and pid,
//   its rooms back, `socket.recovered == true`, and every missed event once, in offset order,
//   before any live one. Anything invalid gets a normal new session, never an error.

/// One event of the recovery log: a non-volatile broadcast, as it was addressed.
public struct LoggedEvent: Sendable, Hashable {
    /// The log's sequence number: increasing, sent as a decimal string.
    public var offset: UInt64
    public var namespace: String
    public var event: String
    /// The event's arguments, without the offset.
    public var arguments: [JSONValue]
    /// Target rooms (union); empty = the whole namespace.
    public var rooms: Set<String>
    /// Sockets in any of these rooms do not get it.
    public var except: Set<String>

    public init(offset: UInt64, namespace: String, event: String, arguments: [JSONValue], rooms: Set<String> = [], except: Set<String> = []) {
        self.offset = offset
        self.namespace = namespace
        self.event = event
        self.arguments = arguments
        self.rooms = rooms
        self.except = except
    }

    /// Whether a socket in `socketRooms` (its own id included) is a recipient: in one of
    /// `rooms` (or `rooms` is empty) and in none of `except` (socket.io-adapter's
    /// `shouldIncludePacket`).
    public func isAddressed(to socketRooms: Set<String>) -> Bool {
        Self.isAddressed(rooms: rooms, except: except, to: socketRooms)
    }

    static func isAddressed(rooms: Set<String>, except: Set<String>, to socketRooms: Set<String>) -> Bool {
        (rooms.isEmpty || !rooms.isDisjoint(with: socketRooms)) && except.isDisjoint(with: socketRooms)
    }

    var options: BroadcastOptions { BroadcastOptions(rooms: rooms, except: except) }

    /// The EVENT packet with the offset appended, encoded once for every recipient.
    var encoded: EncodedPacket {
        SocketPacketEncoder.encodeLogged(event, arguments, offset: offset, namespace: namespace)
    }
}

/// What a recoverable session keeps between connections.
public struct RecoverableSession: Sendable, Hashable {
    /// The private session id: 128 random bits, base64url (22 characters). A secret: a store
    /// should keep only its SHA-256.
    public var pid: String
    /// The Socket.IO socket id the session had (and gets back).
    public var socketID: String
    public var namespace: String
    /// ``ConnectionStateRecovery/owner`` of the socket's data (who authenticated); a session is
    /// restored only for the same owner.
    public var owner: String?
    /// Joined rooms, without the socket's own room.
    public var rooms: Set<String>
    /// false only when saved at a recoverable disconnect: the window runs from that save.
    public var connected: Bool

    public init(pid: String, socketID: String, namespace: String, owner: String?, rooms: Set<String>, connected: Bool = true) {
        self.pid = pid
        self.socketID = socketID
        self.namespace = namespace
        self.owner = owner
        self.rooms = rooms
        self.connected = connected
    }
}

/// Where sessions and the event log live. The relay calls it from tasks (never on a lock);
/// its calls for one socket are made one at a time, in order.
public protocol SessionRecoveryStore: Sendable {
    /// At CONNECT success, again after the connection handler returned (rooms filled), and at a
    /// recoverable disconnect (transport close or error, ping timeout, forced close, server
    /// shutdown, slow consumer) with the rooms at that time and `connected == false`.
    func save(_ session: RecoverableSession) async throws
    /// At a non-recoverable disconnect (the client's or the server's namespace DISCONNECT, a
    /// protocol error) and when a restored session can no longer be replayed.
    func discard(pid: String) async throws
    /// Phase 1, before the connection handler: the session if `pid`, `namespace`, `owner` and
    /// `offset` are all valid (the session disconnected less than the window ago, the offset is
    /// one this session could have received and nothing after it was pruned); nil otherwise.
    func restore(pid: String, namespace: String, owner: String?, after offset: UInt64) async throws -> RecoverableSession?
    /// Phase 2, after the socket re-joined its rooms: events of `namespace` with offset > `after`,
    /// in offset order. nil when no longer recoverable (pruned meanwhile): the relay then ends
    /// the socket's connection, and the client comes back with a new session.
    func events(namespace: String, after offset: UInt64) async throws -> [LoggedEvent]?
    /// A non-volatile, non-binary broadcast made through the relay's own emit API. A store that
    /// logs it returns its offset (the relay then sends it with the offset through the adapter);
    /// a store whose application logs in its own transactions returns nil (sent without offset,
    /// not recoverable).
    func log(namespace: String, event: String, arguments: [JSONValue], options: BroadcastOptions) async -> UInt64?
    /// Phase 2, exact form (the relay calls this one): the missed events of `namespace` after
    /// `offset` that a socket which was in `sessionRooms` (the restored session's rooms plus its
    /// own id) would have received, in offset order, and the last offset read (`through`).
    /// A store that knows how its events change room membership walks them from `sessionRooms`,
    /// applying each one's joins (before delivering it) and leaves (after), so an event sent to a
    /// room before the socket's user left it is replayed and one sent after is not. `socketRooms`
    /// are the socket's rooms now (after the connection handler). nil as for ``events(namespace:after:)``.
    /// Default: ``events(namespace:after:)`` filtered by `socketRooms`.
    func missedEvents(namespace: String, after offset: UInt64, sessionRooms: Set<String>, socketRooms: Set<String>) async throws -> MissedEvents?
}

/// What a replay sends (``SessionRecoveryStore/missedEvents(namespace:after:sessionRooms:socketRooms:)``).
public struct MissedEvents: Sendable, Hashable {
    /// The events to send, in offset order.
    public var events: [LoggedEvent]
    /// The highest offset read (sent or not): live events at or below it are not sent again.
    public var through: UInt64

    public init(events: [LoggedEvent], through: UInt64) {
        self.events = events
        self.through = through
    }
}

extension SessionRecoveryStore {
    public func missedEvents(namespace: String, after offset: UInt64, sessionRooms: Set<String>, socketRooms: Set<String>) async throws -> MissedEvents? {
        guard let all = try await events(namespace: namespace, after: offset) else { return nil }
        var through = offset
        var send: [LoggedEvent] = []
        for event in all.sorted(by: { $0.offset < $1.offset }) where event.offset > offset && event.namespace == namespace {
            through = max(through, event.offset)
            if event.isAddressed(to: socketRooms) { send.append(event) }
        }
        return MissedEvents(events: send, through: through)
    }
}

/// Turns on connection state recovery (``RelayConfiguration/connectionStateRecovery``).
///
/// Differences from Node's socket.io 4.6+: connection middleware always runs on a recovering
/// CONNECT (Node skips it by default, `skipMiddlewares: true`), so that the session is restored
/// only for the same ``owner``; `socket.data` is what the middleware returns now (it is not
/// stored); a CONNECT whose `pid` belongs to a socket still connected on this node (the same
/// client's stale transport) ends that socket and takes its id.
public struct ConnectionStateRecovery: Sendable {
    /// How long a disconnected session, and the log, are kept (Node's `maxDisconnectionDuration`,
    /// 120 s by default). The store enforces it.
    public var window: Duration
    public var store: any SessionRecoveryStore
    /// Who owns a socket, from the connection middleware's return value (``Socket/data``), e.g.
    /// the user id. nil for everyone by default: then the pid alone is the credential, as in Node.
    public var owner: @Sendable ((any Sendable)?) -> String?
    /// Serialises the relay's logged emits (log, then deliver) so that every socket receives
    /// them in offset order.
    let emitOrder = AsyncSerialLock()
    /// The relay's sessions and store calls, for a shutdown to wait for.
    let writes = SessionWriteTracker()

    public init(
        window: Duration = .seconds(120),
        store: any SessionRecoveryStore,
        owner: @escaping @Sendable ((any Sendable)?) -> String? = { _ in nil }
    ) {
        self.window = window
        self.store = store
        self.owner = owner
    }

    /// Recovery on with an ``InMemorySessionRecoveryStore`` of `window` (one process only).
    public static func inMemory(
        window: Duration = .seconds(120),
        owner: @escaping @Sendable ((any Sendable)?) -> String? = { _ in nil }
    ) -> ConnectionStateRecovery {
        ConnectionStateRecovery(window: window, store: InMemorySessionRecoveryStore(window: window), owner: owner)
    }

    /// Node's `RECOVERABLE_DISCONNECT_REASONS` (transport error / close, forced close, ping
    /// timeout, server shutting down), plus a slow consumer (its transport was closed by the
    /// server). A DISCONNECT by either side and a protocol error end the session.
    static func isRecoverable(_ reason: DisconnectReason) -> Bool {
        switch reason {
        case .transportClose, .transportError, .pingTimeout, .forcedClose, .serverShuttingDown, .slowConsumer: true
        case .parseError, .serverNamespaceDisconnect, .clientNamespaceDisconnect: false
        }
    }

    /// The `pid` and `offset` of a reconnecting CONNECT's payload: both strings, the offset a
    /// decimal `UInt64` (at most 20 digits, no sign); nil otherwise (a new session).
    static func recoveryRequest(in auth: JSONValue?) -> (pid: String, offset: UInt64)? {
        guard case .string(let pid)? = auth?["pid"], case .string(let text)? = auth?["offset"] else { return nil }
        guard !pid.isEmpty, pid.utf8.count <= 64, let offset = parseOffset(text) else { return nil }
        return (pid, offset)
    }

    /// A decimal offset: ASCII digits only, fits a `UInt64`.
    static func parseOffset(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.utf8.count <= 20, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return UInt64(text)
    }

    /// A new private session id: 128 random bits as unpadded base64url (22 characters).
    static func generatePID() -> String {
        var rng = SystemRandomNumberGenerator()
        let halves = (rng.next() as UInt64, rng.next() as UInt64)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for half in [halves.0, halves.1] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: half >> UInt64(shift))) }
        }
        return base64URL(bytes)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            let count = min(3, bytes.count - i) + 1
            for k in 0..<count { out.append(alphabet[Int(triple >> UInt32(18 - 6 * k) & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A first-in-first-out lock that may be held across suspension points.
final class AsyncSerialLock: Sendable {
    private let state = Mutex<(locked: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func withLock<T: Sendable>(_ body: () async -> T) async -> T {
        await acquire()
        let result = await body()
        release()
        return result
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now: Bool = state.withLock { s in
                if s.locked {
                    s.waiters.append(continuation)
                    return false
                }
                s.locked = true
                return true
            }
            if now { continuation.resume() }
        }
    }

    private func release() {
        let next: CheckedContinuation<Void, Never>? = state.withLock { s in
            if s.waiters.isEmpty {
                s.locked = false
                return nil
            }
            return s.waiters.removeFirst()  // ownership passes on
        }
        next?.resume()
    }
}

extension SocketPacketEncoder {
    /// A logged EVENT: the arguments, then the offset as a decimal string.
    static func encodeLogged(_ event: String, _ arguments: [JSONValue], offset: UInt64, namespace: String) -> EncodedPacket {
        let frames = encodeFrames(.event(event, arguments + [.string(String(offset))], namespace: namespace)).frames
        return EncodedPacket(frames: frames, offset: offset)
    }
}

// MARK: - Broadcasting logged events

extension Namespace {
    /// Delivers a logged event to THIS node's matching sockets (rooms, except), its offset
    /// appended as the last argument. A socket that is replaying missed events holds it until
    /// its replay is done; a recovered socket drops it if `offset` is not above what its replay
    /// sent. For a cluster's log reader (one per node, in offset order); never forwarded to
    /// other nodes. With connection state recovery off (``RelayConfiguration/connectionStateRecovery``
    /// nil) the event goes out as a plain EVENT, without the offset, as Node's server sends it
    /// without `connectionStateRecovery`.
    public func deliverLogged(_ event: LoggedEvent) {
        if recovery == nil {
            deliverLocally(SocketPacketEncoder.encodeFrames(.event(event.event, event.arguments, namespace: event.namespace)), options: event.options)
        } else {
            deliverLocally(event.encoded, options: event.options)
        }
    }
}

extension BroadcastOperator {
    /// The logged path of ``emit(_:arguments:)``: with recovery on, a non-volatile event without
    /// binary arguments is offered to the store's `log`; if it returns an offset, the event goes
    /// out with it (through the adapter) and this returns true. Logged emits of a relay are
    /// serialised, so every socket gets them in offset order.
    func emitLogged(_ event: String, arguments: [JSONValue]) async -> Bool {
        guard let recovery = namespace.recovery, !options.volatile, !arguments.contains(where: \.containsBinary) else { return false }
        let logged: Bool = await recovery.emitOrder.withLock {
            guard let offset = await recovery.store.log(namespace: namespace.name, event: event, arguments: arguments, options: options) else { return false }
            let packet = SocketPacketEncoder.encodeLogged(event, arguments, offset: offset, namespace: namespace.name)
            await namespace.adapter.broadcast(packet, options: options, namespace: namespace)
            return true
        }
        return logged
    }
}
