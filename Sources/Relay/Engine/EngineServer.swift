import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An Engine.IO v4 server: sessions, HTTP long-polling, WebSocket and the upgrade between them.
///
/// Use it directly for a plain Engine.IO endpoint, or through ``Relay`` for Socket.IO.
public final class EngineServer: Sendable {
    public let configuration: RelayConfiguration
    let logger: Logger
    let eventLoopGroup: any EventLoopGroup
    let loops = EventLoopContexts()
    let settings: EngineSettings
    private let sessions: Mutex<[String: EngineConnection]>
    /// Sessions the client closed over polling while its GET was still in flight: that GET gets
    /// a noop instead of an error (Node answers it the same way when it was already held).
    private let closedByClient: Mutex<[String: ContinuousClock.Instant]>
    private let makeDelegate: @Sendable (EngineConnection) -> any EngineConnectionDelegate

    /// - Parameters:
    ///   - onConnection: called for every new session; returns the object that receives its messages.
    public init(
        configuration: RelayConfiguration,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onConnection: @escaping @Sendable (EngineConnection) -> any EngineConnectionDelegate
    ) {
        self.configuration = configuration
        self.logger = logger
        self.settings = EngineSettings(configuration: configuration, logger: logger)
        self.eventLoopGroup = eventLoopGroup
        self.sessions = Mutex([:])
        self.closedByClient = Mutex([:])
        self.makeDelegate = onConnection
        settings.server = self
    }

    /// Number of open sessions.
    public var connectionCount: Int { sessions.withLock { $0.count } }

    /// Open sessions by their current transport (`polling`, `websocket`), for metrics. Takes each
    /// session's lock: meant for a scrape, not a hot path.
    public var connectionCountsByTransport: [String: Int] {
        let all = sessions.withLock { Array($0.values) }
        var counts = ["polling": 0, "websocket": 0]
        for connection in all {
            switch connection.transport {
            case .polling?: counts["polling", default: 0] += 1
            case .websocket?: counts["websocket", default: 0] += 1
            case nil: break
            }
        }
        return counts
    }

    public func connection(sid: String) -> EngineConnection? { sessions.withLock { $0[sid] } }

    /// Closes every session (for graceful shutdown).
    public func closeAll(reason: EngineCloseReason = .serverShutdown) {
        let all = sessions.withLock { Array($0.values) }
        for c in all { c.close(reason: reason) }
    }

    // MARK: - Sessions

    func makeSession(request: EngineRequest, transport: EngineSessionStateMachine.Transport, eventLoop: (any EventLoop)? = nil) -> EngineConnection {
        let sid = Self.generateSid()
        let connection = EngineConnection(
            sid: sid,
            request: request,
            transport: transport,
            settings: settings,
            loop: loops.context(for: eventLoop ?? eventLoopGroup.any())
        )
        sessions.withLock { $0[sid] = connection }
        connection.setDelegate(makeDelegate(connection))
        return connection
    }

    /// A session ended (called once per session by `EngineConnection`).
    func sessionClosed(_ connection: EngineConnection, reason: EngineCloseReason) {
        sessions.withLock { _ = $0.removeValue(forKey: connection.sid) }
        if reason == .transportClose, connection.owesPollNoop {
            let now = ContinuousClock.now
            closedByClient.withLock { tombs in
                tombs = tombs.filter { $0.value > now }
                tombs[connection.sid] = now + .seconds(1)
            }
        }
    }

    static let sidAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// 20 URL-safe characters from 120 random bits (two reads of the system generator: each
    /// read is a `getrandom` call, so not one per character).
    static func generateSid() -> String {
        var rng = SystemRandomNumberGenerator()
        var bits = (rng.next() as UInt64, rng.next() as UInt64)
        return String(unsafeUninitializedCapacity: 20) { out in
            for i in 0..<20 {
                if i == 10 { bits.0 = bits.1 }
                out[i] = sidAlphabet[Int(bits.0 & 63)]
                bits.0 >>= 6
            }
            return 20
        }
    }

    // MARK: - Request validation

    /// The query parameters Engine.IO looks at.
    struct Query {
        var eio: Substring?
        var transport: Substring?
        var sid: String?

        init(_ uri: URI) {
            let parameters = uri.queryParameters
            eio = parameters["EIO"]
            transport = parameters["transport"]
            sid = parameters["sid"].map(String.init)
        }
    }

    enum Verdict {
        case handshake(EngineRequest, EngineSessionStateMachine.Transport)
        case existing(EngineConnection, EngineRequest)
    }

    /// Node's `verify()`: transport, sid, method, protocol version, Origin allow-list, allowRequest.
    func verify(
        method: HTTPRequest.Method, uri: URI, headers: HTTPFields, remoteAddress: String?, isUpgrade: Bool
    ) async -> Result<Verdict, EngineHTTPError> {
        let verdict = verifySync(method: method, uri: uri, headers: headers, remoteAddress: remoteAddress, isUpgrade: isUpgrade)
        guard case .success(let v) = verdict, let allow = configuration.allowRequest else { return verdict }
        switch v {
        case .handshake(let request, _), .existing(_, let request):
            // polling requests of an open session are not re-checked (Node checks handshakes
            // and WebSockets)
            if case .existing = v, request.transport == .polling { return verdict }
            return await allow(request) ? verdict : .failure(.forbidden)
        }
    }

    /// Everything `verify` checks except the asynchronous `allowRequest` hook.
    func verifySync(
        method: HTTPRequest.Method, uri: URI, headers: HTTPFields, remoteAddress: String?, isUpgrade: Bool
    ) -> Result<Verdict, EngineHTTPError> {
        let query = Query(uri)
        let transport: EngineSessionStateMachine.Transport
        switch query.transport {
        case "polling" where configuration.allowPolling: transport = .polling
        case "websocket" where configuration.allowWebSocket: transport = .websocket
        default: return .failure(.unknownTransport)
        }
        if transport == .websocket && !isUpgrade { return .failure(.badRequest) }
        if transport == .polling && isUpgrade { return .failure(.badRequest) }
        let engineRequest = EngineRequest(
            method: method,
            uri: uri.description,
            headers: headers,
            remoteAddress: remoteAddress,
            transport: transport
        )
        if let sid = query.sid {
            guard let connection = connection(sid: sid) else { return .failure(.unknownSid) }
            if transport == .polling {
                // a session closing right now is answered by poll() (noop owed, or unknown sid)
                guard connection.transport == .polling || connection.isClosed else { return .failure(.badRequest) }
            } else {
                // A WebSocket for a session that is upgrading or upgraded is accepted and then
                // closed (as Node does), see `WebSocketTransport`.
                if !originAllowed(headers) { return .failure(.forbidden) }
            }
            return .success(.existing(connection, engineRequest))
        }
        guard method == .get else { return .failure(.badHandshakeMethod) }
        guard query.eio == "4" else { return .failure(.unsupportedProtocolVersion) }
        if !originAllowed(headers) { return .failure(.forbidden) }
        return .success(.handshake(engineRequest, transport))
    }

    private func originAllowed(_ headers: HTTPFields) -> Bool {
        guard let allowed = configuration.allowedOrigins, let origin = headers[.origin] else { return true }
        var trimmed = Substring(origin)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return allowed.contains(String(trimmed))
    }

    func verify(request: Request, context: some RequestContext, isUpgrade: Bool) async -> Result<Verdict, EngineHTTPError> {
        await verify(
            method: request.method, uri: request.uri, headers: request.headers,
            remoteAddress: clientAddress(peer: Self.remoteAddress(context), headers: request.headers), isUpgrade: isUpgrade
        )
    }

    // MARK: - Routes

    /// Mounts the Engine.IO polling endpoint at `configuration.path`. Serve the router with
    /// `.http1(engines:)` (or `.http1(relay:)`) so that WebSocket upgrades
    /// reach the WebSocket transport.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        let group = router.group(RouterPath(configuration.path))
            .add(middleware: WebSocketUpgradeGate(server: self))
        group.get { request, context in try await self.handleGet(request, context: context) }
        group.post { request, context in try await self.handlePost(request, context: context) }
        group.on("", method: .options) { request, _ in self.handlePreflight(request) }
        for method in [HTTPRequest.Method.put, .delete, .patch] {
            group.on("", method: method) { request, context in
                self.errorResponse(.badHandshakeMethod, request: request)
            }
        }
    }

    func corsHeaders(for request: Request) -> HTTPFields {
        guard let cors = configuration.cors else { return [:] }
        var headers = HTTPFields()
        guard let origin = cors.allowedOrigin(for: request.headers[.origin]) else { return headers }
        headers[.accessControlAllowOrigin] = origin
        if origin != "*" { headers[.vary] = "Origin" }
        if cors.allowCredentials { headers[.accessControlAllowCredentials] = "true" }
        return headers
    }

    func handlePreflight(_ request: Request) -> Response {
        var headers = corsHeaders(for: request)
        if let cors = configuration.cors {
            headers[.accessControlAllowMethods] = "GET,POST"
            let requested = request.headers[.accessControlRequestHeaders]
            if !cors.allowHeaders.isEmpty {
                headers[.accessControlAllowHeaders] = cors.allowHeaders.joined(separator: ",")
            } else if let requested {
                headers[.accessControlAllowHeaders] = requested
            }
            if let maxAge = cors.maxAge { headers[.accessControlMaxAge] = String(maxAge.components.seconds) }
        }
        headers[.contentLength] = "0"
        return Response(status: .noContent, headers: headers)
    }

    func errorResponse(_ error: EngineHTTPError, request: Request) -> Response {
        error.response(headers: corsHeaders(for: request))
    }

    static func remoteAddress(_ context: Any) -> String? {
        if let peer = context as? any PeerAddressProviding { return peer.peerAddress }
        guard let address = (context as? any RemoteAddressRequestContext)?.remoteAddress else { return nil }
        return address.ipAddress
    }

    /// The client address by ``RelayConfiguration/clientAddress`` (the peer without one).
    func clientAddress(peer: String?, headers: HTTPFields) -> String? {
        configuration.clientAddress.map { $0(peer, headers) } ?? peer
    }

    func textResponse(_ body: ByteBuffer, request: Request) -> Response {
        var headers = corsHeaders(for: request)
        headers[.contentType] = "text/plain; charset=UTF-8"
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    func handleGet(_ request: Request, context: some RequestContext) async throws -> Response {
        switch await verify(request: request, context: context, isUpgrade: false) {
        case .failure(.unknownSid) where owedNoop(Query(request.uri).sid):
            return textResponse(ByteBuffer(integer: EnginePacketType.noop.character), request: request)
        case .failure(let error):
            return errorResponse(error, request: request)
        case .success(.handshake(let engineRequest, _)):
            let connection = makeSession(request: engineRequest, transport: .polling)
            var body = ByteBuffer()
            body.writeInteger(EnginePacketType.open.character)
            body.writeString(connection.handshakeJSON(upgrades: configuration.allowWebSocket ? ["websocket"] : []))
            connection.start()
            return textResponse(body, request: request)
        case .success(.existing(let connection, _)):
            return try await poll(connection, request: request)
        }
    }

    private func owedNoop(_ sid: String?) -> Bool {
        guard let sid else { return false }
        let now = ContinuousClock.now
        return closedByClient.withLock { tombs in
            guard let deadline = tombs.removeValue(forKey: sid) else { return false }
            return deadline > now
        }
    }

    /// Held until data, a ping, a noop or close. No inbound-close watcher: Hummingbird's watcher
    /// ends the connection's keep-alive, and a client that abandons a GET is found out anyway —
    /// its next GET is an overlapping poll (which closes the session, as in Node), or the
    /// heartbeat times out.
    private func poll(_ connection: EngineConnection, request: Request) async throws -> Response {
        switch await connection.poll() {
        case .failure(let error): return errorResponse(error, request: request)
        case .success(.aborted): return errorResponse(.badRequest, request: request)
        case .success(.payload(let body)): return textResponse(body, request: request)
        }
    }

    func handlePost(_ request: Request, context: some RequestContext) async throws -> Response {
        let connection: EngineConnection
        switch await verify(request: request, context: context, isUpgrade: false) {
        case .failure(let error): return errorResponse(error, request: request)
        case .success(.handshake): return errorResponse(.badHandshakeMethod, request: request)
        case .success(.existing(let c, _)): connection = c
        }
        if let error = connection.canPost() { return errorResponse(error, request: request) }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxPayload)
        } catch {
            connection.logProtocolError("polling payload over maxPayload", ["relay.max_payload": .stringConvertible(configuration.maxPayload)])
            connection.close(reason: .transportError)
            return errorResponse(.payloadTooLarge, request: request)
        }
        let packets: [EnginePacket]
        do {
            packets = try EngineCodec.decodePayload(body)
        } catch {
            connection.receiveInvalid("undecodable polling payload")
            return errorResponse(.badRequest, request: request)
        }
        for packet in packets {
            connection.receive(packet)
        }
        var headers = corsHeaders(for: request)
        headers[.contentType] = "text/html"
        headers[.contentLength] = "2"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "ok")))
    }

    // MARK: - WebSocket upgrade

    /// A WebSocket upgrade this endpoint accepted: the request the session will keep, and the
    /// sid of the polling session it upgrades (nil for a WebSocket-only session).
    struct AcceptedUpgrade {
        let request: EngineRequest
        let sid: String?
    }

    /// Decides a WebSocket upgrade at this endpoint (called by the HTTP channel before it
    /// answers 101): the accepted upgrade, or the error Node answers with.
    func decideUpgrade(channel: any Channel, head: HTTPRequestHead, uri: URI) -> EventLoopFuture<Result<AcceptedUpgrade, EngineHTTPError>> {
        let method = HTTPRequest.Method(head.method.rawValue) ?? .get
        let fields = Self.sessionFields(head.headers)
        let peer = channel.remoteAddress?.ipAddress
        let remote = configuration.clientAddress.map { $0(peer, fields) } ?? peer
        guard configuration.allowRequest != nil else {
            let verdict = verifySync(method: method, uri: uri, headers: fields, remoteAddress: remote, isUpgrade: true)
            return channel.eventLoop.makeSucceededFuture(verdict.map(Self.accepted))
        }
        let promise = channel.eventLoop.makePromise(of: Result<AcceptedUpgrade, EngineHTTPError>.self)
        promise.completeWithTask {
            await self.verify(method: method, uri: uri, headers: fields, remoteAddress: remote, isUpgrade: true).map(Self.accepted)
        }
        return promise.futureResult
    }

    private static func accepted(_ verdict: Verdict) -> AcceptedUpgrade {
        switch verdict {
        case .handshake(let request, _): AcceptedUpgrade(request: request, sid: nil)
        case .existing(let connection, let request): AcceptedUpgrade(request: request, sid: connection.sid)
        }
    }

    /// Is this request path the endpoint (`path` or `path/`)?
    func serves(path: String) -> Bool {
        path == configuration.path || path == configuration.path + "/"
    }

    /// The request's headers without the WebSocket handshake's own: kept for the life of the
    /// connection, those would only cost memory.
    static func sessionFields(_ headers: HTTPHeaders) -> HTTPFields {
        var kept: [HTTPField] = []
        kept.reserveCapacity(headers.count)
        for (name, value) in headers {
            guard let name = HTTPField.Name(name), !handshakeHeaders.contains(name) else { continue }
            kept.append(HTTPField(name: name, value: value))
        }
        var fields = HTTPFields()
        fields.reserveCapacity(kept.count)
        fields.append(contentsOf: kept)
        return fields
    }

    static let handshakeHeaders: Set<HTTPField.Name> = [
        .upgrade, .connection, .secWebSocketKey, .secWebSocketVersion, .secWebSocketExtensions, .secWebSocketProtocol,
    ]

    /// The transport handler for an accepted upgrade.
    func webSocketTransport(channel: any Channel, upgrade: AcceptedUpgrade) -> WebSocketTransport {
        WebSocketTransport(server: self, request: upgrade.request, probeSid: upgrade.sid, eventLoop: channel.eventLoop)
    }
}

/// Answers WebSocket upgrade requests that reach the router. Served with `.http1(engines:)`,
/// an upgrade for an engine's path is taken by the HTTP channel on any request of a connection
/// (``KeepAliveUpgradeHandler``), so only malformed ones (no `Connection: upgrade`) and routers
/// served by another server builder get here. Node's error answer, then close.
struct WebSocketUpgradeGate<Context: RequestContext>: RouterMiddleware {
    let server: EngineServer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get, request.headers[.upgrade]?.lowercased() == "websocket" else {
            var response = try await next(request, context)
            // Hummingbird closes after a `Connection: close` request without saying so; clients with
            // keep-alive agents (Node) would otherwise reuse the dead socket.
            if request.headers[.connection]?.lowercased().contains("close") == true {
                response.headers[.connection] = "close"
            }
            return response
        }
        // As Node: the error answer, then the connection is closed.
        var response: Response
        switch await server.verify(request: request, context: context, isUpgrade: true) {
        case .failure(let error): response = server.errorResponse(error, request: request)
        case .success: response = server.errorResponse(.badRequest, request: request)
        }
        response.headers[.connection] = "close"
        return response
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// A request context that knows the socket's peer address as text (`192.0.2.1`, `::1`): the
/// relay reads it for polling requests when the context is not a `RemoteAddressRequestContext`.
public protocol PeerAddressProviding {
    var peerAddress: String? { get }
}
