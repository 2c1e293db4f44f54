import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// An Engine.IO v4 server: sessions, HTTP long-polling, WebSocket and the upgrade between them.
///
/// Use it directly for a plain Engine.IO endpoint, or through ``Relay`` for Socket.IO.
public final class EngineServer: Sendable {
    public let configuration: RelayConfiguration
    let logger: Logger
    let eventLoopGroup: any EventLoopGroup
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
        self.eventLoopGroup = eventLoopGroup
        self.sessions = Mutex([:])
        self.closedByClient = Mutex([:])
        self.makeDelegate = onConnection
    }

    /// Number of open sessions.
    public var connectionCount: Int { sessions.withLock { $0.count } }

    public func connection(sid: String) -> EngineConnection? { sessions.withLock { $0[sid] } }

    /// Closes every session (for graceful shutdown).
    public func closeAll(reason: EngineCloseReason = .serverShutdown) {
        let all = sessions.withLock { Array($0.values) }
        for c in all { c.close(reason: reason) }
    }

    // MARK: - Sessions

    private func makeSession(request: EngineRequest, transport: EngineSessionStateMachine.Transport) -> EngineConnection {
        let sid = Self.generateSid()
        let connection = EngineConnection(
            sid: sid,
            request: request,
            transport: transport,
            configuration: configuration,
            eventLoop: eventLoopGroup.any(),
            logger: logger,
            onClose: { [weak self] connection, reason in
                guard let self else { return }
                self.sessions.withLock { _ = $0.removeValue(forKey: connection.sid) }
                if reason == .transportClose, connection.owesPollNoop {
                    let now = ContinuousClock.now
                    self.closedByClient.withLock { tombs in
                        tombs = tombs.filter { $0.value > now }
                        tombs[connection.sid] = now + .seconds(1)
                    }
                }
            }
        )
        sessions.withLock { $0[sid] = connection }
        connection.setDelegate(makeDelegate(connection))
        return connection
    }

    static func generateSid() -> String {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out = [UInt8](repeating: 0, count: 20)
        for i in 0..<20 { out[i] = alphabet[Int(rng.next() & 63)] }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Request validation

    struct Query {
        var eio: String?
        var transport: String?
        var sid: String?
        var all: [String: String]

        init(_ request: Request) {
            var all: [String: String] = [:]
            for (k, v) in request.uri.queryParameters { all[String(k)] = String(v) }
            self.all = all
            eio = all["EIO"]
            transport = all["transport"]
            sid = all["sid"]
        }
    }

    enum Verdict {
        case handshake(EngineRequest, EngineSessionStateMachine.Transport)
        case existing(EngineConnection)
    }

    /// Node's `verify()`: transport, sid, method, protocol version, allowRequest.
    func verify(request: Request, remoteAddress: String?, isUpgrade: Bool) async -> Result<Verdict, EngineHTTPError> {
        let query = Query(request)
        let transport: EngineSessionStateMachine.Transport
        switch query.transport {
        case "polling" where configuration.allowPolling: transport = .polling
        case "websocket" where configuration.allowWebSocket: transport = .websocket
        default: return .failure(.unknownTransport)
        }
        if transport == .websocket && !isUpgrade { return .failure(.badRequest) }
        if transport == .polling && isUpgrade { return .failure(.badRequest) }
        let engineRequest = EngineRequest(
            method: request.method,
            uri: request.uri.description,
            headers: request.headers,
            query: query.all,
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
                // closed (as Node does), see `handleWebSocket`.
                if let allow = configuration.allowRequest, await !allow(engineRequest) { return .failure(.forbidden) }
            }
            return .success(.existing(connection))
        }
        guard request.method == .get else { return .failure(.badHandshakeMethod) }
        guard query.eio == "4" else { return .failure(.unsupportedProtocolVersion) }
        if let allow = configuration.allowRequest, await !allow(engineRequest) { return .failure(.forbidden) }
        return .success(.handshake(engineRequest, transport))
    }

    // MARK: - Routes

    /// Mounts the Engine.IO endpoint at `configuration.path` on a router that is also given to
    /// `.http1WebSocketUpgrade(webSocketRouter:)`.
    ///
    /// Set the WebSocket server's `maxFrameSize` to at least `maxPayload` (the hummingbird default is 16 KiB)
    /// and consider turning its `autoPing` off: Engine.IO has its own heartbeat.
    public func addRoutes<Context: WebSocketRequestContext>(to router: Router<Context>) {
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
        guard let address = (context as? any RemoteAddressRequestContext)?.remoteAddress else { return nil }
        return address.ipAddress
    }

    func textResponse(_ body: ByteBuffer, request: Request) -> Response {
        var headers = corsHeaders(for: request)
        headers[.contentType] = "text/plain; charset=UTF-8"
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    func handleGet(_ request: Request, context: some RequestContext) async throws -> Response {
        switch await verify(request: request, remoteAddress: Self.remoteAddress(context), isUpgrade: false) {
        case .failure(.unknownSid) where owedNoop(Query(request).sid):
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
        case .success(.existing(let connection)):
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
        switch await verify(request: request, remoteAddress: Self.remoteAddress(context), isUpgrade: false) {
        case .failure(let error): return errorResponse(error, request: request)
        case .success(.handshake): return errorResponse(.badHandshakeMethod, request: request)
        case .success(.existing(let c)): connection = c
        }
        if let error = connection.canPost() { return errorResponse(error, request: request) }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxPayload)
        } catch {
            connection.close(reason: .transportError)
            return errorResponse(.payloadTooLarge, request: request)
        }
        let packets: [EnginePacket]
        do {
            packets = try EngineCodec.decodePayload(body)
        } catch {
            connection.receiveInvalid()
            return errorResponse(.badRequest, request: request)
        }
        for packet in packets {
            await connection.receive(packet)
        }
        var headers = corsHeaders(for: request)
        headers[.contentType] = "text/html"
        headers[.contentLength] = "2"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "ok")))
    }

    // MARK: - WebSocket

    func handleWebSocket(
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        request: Request,
        remoteAddress: String?
    ) async throws {
        let query = Query(request)
        var messages = inbound.messages(maxSize: configuration.maxPayload).makeAsyncIterator()
        let connection: EngineConnection
        if let sid = query.sid {
            guard let existing = self.connection(sid: sid), existing.beginProbe() else {
                try await outbound.close(.policyViolation, reason: nil)
                return
            }
            connection = existing
            guard try await runProbe(connection, messages: &messages, outbound: outbound) else { return }
        } else {
            let engineRequest = EngineRequest(
                method: request.method,
                uri: request.uri.description,
                headers: request.headers,
                query: query.all,
                remoteAddress: remoteAddress,
                transport: .websocket
            )
            connection = makeSession(request: engineRequest, transport: .websocket)
            try await outbound.write(.text("0" + connection.handshakeJSON(upgrades: [])))
            connection.start()
        }
        await runWebSocket(connection, messages: messages, outbound: outbound)
    }

    /// The upgrade probe: `2probe` → `3probe`, then `5`. Returns true once upgraded.
    private func runProbe(
        _ connection: EngineConnection,
        messages: inout WebSocketInboundMessageStream.AsyncIterator,
        outbound: WebSocketOutboundWriter
    ) async throws -> Bool {
        do {
            while let message = try await messages.next() {
                let packet: EnginePacket
                switch message {
                case .text(let text):
                    guard let p = try? EngineCodec.decode(text: text) else {
                        connection.probeClosed()
                        return false
                    }
                    packet = p
                case .binary(let b): packet = EngineCodec.decode(binary: b)
                }
                switch connection.receiveOnProbe(packet) {
                case .reply(let replies):
                    for reply in replies {
                        if case .text(let t) = EngineCodec.encode(reply) { try await outbound.write(.text(t)) }
                    }
                case .upgraded:
                    return true
                case .aborted:
                    connection.probeClosed()
                    return false
                }
            }
        } catch {
            connection.probeClosed()
            throw error
        }
        connection.probeClosed()
        return false
    }

    private func runWebSocket(
        _ connection: EngineConnection,
        messages: WebSocketInboundMessageStream.AsyncIterator,
        outbound: WebSocketOutboundWriter
    ) async {
        let unsafeMessages = UnsafeSendableBox(messages)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // writer: drains the connection's queue
                while let frames = await connection.nextFrames() {
                    do {
                        for frame in frames {
                            switch frame {
                            case .text(let b): try await outbound.write(.custom(.init(fin: true, opcode: .text, data: b)))
                            case .binary(let b): try await outbound.write(.binary(b))
                            }
                        }
                    } catch {
                        connection.close(reason: .transportError)
                        return
                    }
                }
            }
            group.addTask {
                // reader
                var messages = unsafeMessages.value
                var reason = EngineCloseReason.transportClose
                do {
                    while let message = try await messages.next() {
                        switch message {
                        case .text(let text):
                            guard let packet = try? EngineCodec.decode(text: text) else {
                                connection.receiveInvalid()
                                return
                            }
                            await connection.receive(packet)
                        case .binary(let buffer):
                            await connection.receive(EngineCodec.decode(binary: buffer))
                        }
                        if connection.isClosed { return }
                    }
                } catch {
                    reason = .transportError
                }
                connection.close(reason: reason)
            }
            // whichever side ends first ends the WebSocket
            await group.next()
            connection.close(reason: .transportClose)
            group.cancelAll()
        }
    }
}

/// Routes WebSocket upgrade requests at the Engine.IO path to the WebSocket transport after
/// Engine.IO's checks; a refused upgrade gets Node's HTTP error answer.
struct WebSocketUpgradeGate<Context: WebSocketRequestContext>: RouterMiddleware {
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
        let remote = EngineServer.remoteAddress(context)
        switch await server.verify(request: request, remoteAddress: remote, isUpgrade: true) {
        case .failure(let error):
            return server.errorResponse(error, request: request)
        case .success:
            let server = self.server
            let upgrade = WebSocketUpgradeMiddleware<Context> { _, _ in .upgrade([:]) } onUpgrade: { inbound, outbound, wsContext in
                try await server.handleWebSocket(inbound: inbound, outbound: outbound, request: wsContext.request, remoteAddress: remote)
            }
            return try await upgrade.handle(request, context: context, next: next)
        }
    }
}

struct UnsafeSendableBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
