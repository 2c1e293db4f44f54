import HTTPTypes
import Hummingbird
import HummingbirdCore

/// CORS settings for the HTTP long-polling transport (WebSocket is not covered by CORS:
/// use ``RelayConfiguration/allowRequest`` for an Origin allow-list).
public struct CORSOptions: Sendable {
    public enum AllowOrigin: Sendable, Hashable {
        /// `Access-Control-Allow-Origin: *`
        case all
        /// Echo the request's Origin if it is in the list.
        case list([String])
        /// Echo any request Origin (needed with credentials).
        case originBased
    }

    public var allowOrigin: AllowOrigin
    public var allowCredentials: Bool
    public var allowHeaders: [String]
    public var maxAge: Duration?

    public init(allowOrigin: AllowOrigin = .all, allowCredentials: Bool = false, allowHeaders: [String] = [], maxAge: Duration? = nil) {
        self.allowOrigin = allowOrigin
        self.allowCredentials = allowCredentials
        self.allowHeaders = allowHeaders
        self.maxAge = maxAge
    }

    func allowedOrigin(for origin: String?) -> String? {
        switch allowOrigin {
        case .all: return "*"
        case .originBased: return origin
        case .list(let list):
            guard let origin, list.contains(origin) else { return nil }
            return origin
        }
    }
}

/// What an `allowRequest` hook sees of a handshake or WebSocket request.
public struct EngineRequest: Sendable {
    public var method: HTTPRequest.Method
    public var uri: String
    /// The request's headers; for a WebSocket, without the handshake's own (`Upgrade`,
    /// `Connection`, `Sec-WebSocket-*`), which mean nothing once the connection is open.
    public var headers: HTTPFields
    public var remoteAddress: String?
    public var transport: EngineSessionStateMachine.Transport

    /// The query parameters (parsed from `uri` when asked for: a connection keeps no dictionary).
    public var query: [String: String] { Self.parameters(of: uri) }

    static func parameters(of uri: String) -> [String: String] {
        var all: [String: String] = [:]
        for (k, v) in URI(uri).queryParameters { all[String(k)] = String(v) }
        return all
    }
}

/// Configuration of a ``Relay`` (and of its Engine.IO layer).
public struct RelayConfiguration: Sendable {
    /// Mount path, e.g. "/socket.io". Requests to `path` and `path/` are served.
    public var path: String
    public var pingInterval: Duration
    public var pingTimeout: Duration
    /// Largest message (WebSocket) or POST body (polling) accepted, in bytes (Node's maxHttpBufferSize).
    public var maxPayload: Int
    /// Close an Engine.IO connection that has joined no namespace within this time.
    public var connectTimeout: Duration
    /// CORS for polling requests; nil sends no CORS headers.
    public var cors: CORSOptions?
    /// Browser origins allowed to connect (the `Origin` header, compared exactly, e.g.
    /// `https://chat.example.com`). A request with another Origin gets 403 `Forbidden`; a request
    /// without one (not a browser: native apps, server-side clients) passes. nil: no check.
    /// WebSocket is not protected by CORS, so this is the check that keeps other sites' pages
    /// from opening sockets with a user's cookies.
    public var allowedOrigins: Set<String>?
    /// Decides whether a handshake or WebSocket request is accepted (403 `Forbidden` otherwise),
    /// after `allowedOrigins`. It makes every handshake wait for a task: prefer `allowedOrigins`
    /// for an Origin allow-list.
    public var allowRequest: (@Sendable (EngineRequest) async -> Bool)?
    /// Transports offered. Both by default.
    public var allowPolling: Bool
    public var allowWebSocket: Bool
    /// Bound on the bytes queued for one connection. A connection that stays over it is
    /// closed with ``EngineCloseReason/slowConsumer`` (volatile packets are dropped instead).
    public var maxOutboundBufferBytes: Int
    /// How long the client has to complete a polling→WebSocket upgrade once probing.
    public var upgradeTimeout: Duration
    /// Run connection middleware and event handlers on the event loop of the connection (no
    /// thread hop per event; what Node does). Handlers must then not block: `await` slow work
    /// (database, hashing) on its own threads, as any async API does. With false they run on
    /// Swift's global concurrent pool.
    public var runsHandlersOnEventLoop: Bool
    /// Socket.IO connection state recovery (socket.io 4.6+ `connectionStateRecovery`): a client
    /// that reconnects within the window gets its socket id, rooms and missed events back.
    /// nil (the default): off, and nothing of it is on the wire.
    public var connectionStateRecovery: ConnectionStateRecovery?
    /// The client address of a request (``EngineRequest/remoteAddress``, ``Handshake/remoteAddress``)
    /// from the socket's peer address (text, e.g. `192.0.2.1`) and the request's headers, e.g. to
    /// believe `X-Forwarded-For` from a trusted reverse proxy. nil: the peer address.
    public var clientAddress: (@Sendable (_ peer: String?, _ headers: HTTPFields) -> String?)?
    /// Told of inbound events, acks and local deliveries (metrics). nil: nothing is measured.
    public var observer: (any RelayObserver)?

    public init(
        path: String = "/socket.io",
        pingInterval: Duration = .seconds(25),
        pingTimeout: Duration = .seconds(20),
        maxPayload: Int = 1_000_000,
        connectTimeout: Duration = .seconds(45),
        cors: CORSOptions? = nil,
        allowedOrigins: Set<String>? = nil,
        allowRequest: (@Sendable (EngineRequest) async -> Bool)? = nil,
        allowPolling: Bool = true,
        allowWebSocket: Bool = true,
        maxOutboundBufferBytes: Int = 4 * 1_048_576,
        upgradeTimeout: Duration = .seconds(10),
        runsHandlersOnEventLoop: Bool = true,
        connectionStateRecovery: ConnectionStateRecovery? = nil
    ) {
        var path = path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        self.path = path
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.maxPayload = maxPayload
        self.connectTimeout = connectTimeout
        self.cors = cors
        self.allowedOrigins = allowedOrigins
        self.allowRequest = allowRequest
        self.allowPolling = allowPolling
        self.allowWebSocket = allowWebSocket
        self.maxOutboundBufferBytes = maxOutboundBufferBytes
        self.upgradeTimeout = upgradeTimeout
        self.runsHandlersOnEventLoop = runsHandlersOnEventLoop
        self.connectionStateRecovery = connectionStateRecovery
    }
}

/// Receives the relay's counts for metrics. Called on the connection's thread or task, so an
/// implementation must be cheap and thread-safe (atomic counters) and must not block.
public protocol RelayObserver: Sendable {
    /// An EVENT packet arrived for a handler of `namespace` (after packet middleware refused nothing).
    func eventReceived(_ event: String, namespace: String)
    /// The ack of `event` was sent, `elapsed` after the event was taken from the socket's queue.
    func ackSent(_ event: String, elapsed: Duration)
    /// A broadcast (or one delivery of the log) reached `recipients` local sockets: counted
    /// once per broadcast, not per socket.
    func delivered(recipients: Int)
}
