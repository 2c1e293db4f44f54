import HTTPTypes
import Hummingbird
import HummingbirdCore
import Crypto
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import ServiceLifecycle

/// A Hummingbird HTTP/1.1 child channel that hands Engine.IO WebSocket upgrades to
/// ``WebSocketTransport`` and everything else to the router.
///
/// A connection that upgrades leaves Swift concurrency entirely: once the 101 is sent, its
/// channel is driven by NIO handlers on its event loop and no task waits on it. Plain HTTP
/// requests (polling included) are served by Hummingbird as usual.
public struct EngineHTTPChannel: ServerChildChannel, HTTPChannelHandler {
    public struct Value: ServerChildChannelValue {
        let result: EventLoopFuture<Outcome>
        public let channel: any Channel
    }

    enum Outcome: Sendable {
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case engineWebSocket
        /// An upgrade was asked for and refused (NIO does not pass its request on): answer it.
        case refusedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, EngineHTTPError?)
    }

    public let responder: HTTPChannelHandler.Responder
    let engines: [EngineServer]
    let configuration: HTTP1Channel.Configuration

    /// - Parameter engines: the Engine.IO endpoints served (each at its own path).
    public init(engines: [EngineServer], responder: @escaping HTTPChannelHandler.Responder, configuration: HTTP1Channel.Configuration = .init()) {
        self.engines = engines
        self.responder = responder
        self.configuration = configuration
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let engines = self.engines
        let configuration = self.configuration
        return channel.eventLoop.makeCompletedFuture {
            // NIO keeps each connection's receive buffer for reuse, so its first size stays with
            // an idle WebSocket for good: start at 512 bytes (a WebSocket upgrade request fits;
            // bigger requests and uploads grow it on the next read) instead of NIO's 2048.
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveAllocator)
            // Small realtime writes go out at once, not held back by Nagle's algorithm behind an
            // unacknowledged one (set here too: not every platform passes it on from the listener).
            try channel.syncOptions?.setOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            let decision = NIOLoopBoundBox<EngineWebSocketUpgrader.Decision?>(nil, eventLoop: channel.eventLoop)
            let upgrader = EngineWebSocketUpgrader(engines: engines, decision: decision)
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration<Outcome>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        // later requests of the connection may upgrade too
                        try sync.addHandler(KeepAliveUpgradeHandler(engines: engines, logger: logger))
                        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try sync.addHandlers(configuration.additionalChannelHandlers())
                        try sync.addHandler(HTTPConnectionStateHandler(idleTimeout: configuration.idleTimeout.map { .init($0) }, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        if case .refused(let error) = decision.value { return .refusedUpgrade(http, error) }
                        return .http(http)
                    }
                }
            )
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration<Outcome>(upgradeConfiguration: upgrade)
            pipeline.enablePipelining = false  // NIOAsyncChannel serves requests one at a time
            pipeline.enableErrorHandling = false  // Hummingbird answers errors
            pipeline.enableResponseHeaderValidation = false  // HTTPTypes validates
            pipeline.decoderConfiguration.maxHeaderFieldSize = configuration.httpDecoder.maxHeaderFieldSize
            pipeline.decoderConfiguration.maxHeaderListSize = configuration.httpDecoder.maxHeaderListSize
            pipeline.decoderConfiguration.maxHeaderFieldCount = configuration.httpDecoder.maxHeaderFieldCount
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            // a request line or headers over the decoder's limits get 414 / 431, not silence
            let sync = channel.pipeline.syncOperations
            let decoder = try sync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let tracker = RequestHeadLimitHandler.Tracker()
            try sync.addHandler(RequestLineObserver(tracker: tracker), position: .before(decoder))
            // (after NIO's upgrade handler: what the request decoder passes on when an upgrade
            // removes it goes to that handler, which replays it to the WebSocket's)
            try sync.addHandler(RequestHeadLimitHandler(tracker: tracker))
            // A connection must send its first request in time (after that, HTTP keep-alive
            // has Hummingbird's idle timeout and a WebSocket has Engine.IO's heartbeat).
            let deadline = channel.eventLoop.scheduleTask(in: configuration.idleTimeout ?? Self.firstRequestTimeout) {
                channel.close(promise: nil)
            }
            result.whenComplete { _ in deadline.cancel() }
            return Value(result: result, channel: channel)
        }
    }

    /// How long a new connection may stay silent before its first request.
    static let firstRequestTimeout = TimeAmount.seconds(30)

    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)

    public func handle(value: Value, logger: Logger) async {
        do {
            // A connection that has not sent its first request (a browser's preconnect) holds up
            // a graceful shutdown until it does: close it when shutdown starts.
            let outcome = try await withGracefulShutdownHandler {
                try await value.result.get()
            } onGracefulShutdown: {
                value.channel.close(promise: nil)
            }
            switch outcome {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .engineWebSocket:
                return  // the channel's handlers run it from here on
            case .refusedUpgrade(let http, let error):
                try await Self.answerRefusedUpgrade(http, error: error ?? .badRequest)
            }
        } catch {
            logger.debug("connection ended before its first request", metadata: ["error": "\(error)"])
        }
    }
}

extension EngineHTTPChannel {
    /// Node's answer to a refused upgrade: the HTTP error, then the connection is closed.
    static func answerRefusedUpgrade(_ http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, error: EngineHTTPError) async throws {
        try await http.executeThenClose { _, outbound in
            let body = ByteBuffer(string: error.body)
            let head = HTTPResponse(
                status: error.status,
                headerFields: [.contentType: "application/json", .contentLength: String(body.readableBytes), .connection: "close"]
            )
            try await outbound.write(contentsOf: [.head(head), .body(body), .end(nil)])
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with Engine.IO's WebSocket transport for each engine's path.
    public static func http1(engines: [EngineServer], configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        .init { responder in EngineHTTPChannel(engines: engines, responder: responder, configuration: configuration) }
    }

    /// HTTP/1.1 with the relay's WebSocket transport (serve the router given to ``Relay/addRoutes(to:)``).
    public static func http1(relay: Relay, configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        http1(engines: [relay.engine], configuration: configuration)
    }
}

/// The WebSocket handshake (RFC 6455, section 4.2) for Engine.IO requests. Unlike NIO's
/// `NIOTypedWebSocketServerUpgrader` it installs no frame encoder: ``WebSocketTransport``
/// writes finished frames itself.
struct EngineWebSocketUpgrader: NIOTypedHTTPServerProtocolUpgrader {
    typealias UpgradeResult = EngineHTTPChannel.Outcome

    struct Refused: Error {}

    /// What the first request's upgrade came to, kept for `upgrade` (accepted) or for the
    /// error answer (refused; nil error when no endpoint is at that path).
    enum Decision {
        case accepted(EngineServer, EngineServer.AcceptedUpgrade)
        case refused(EngineHTTPError?)
    }

    let engines: [EngineServer]
    let decision: NIOLoopBoundBox<Decision?>
    let supportedProtocol = "websocket"
    let requiredUpgradeHeaders: [String] = []

    /// RFC 6455's fixed GUID for Sec-WebSocket-Accept.
    static let acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let uri = URI(upgradeRequest.uri)
        guard let engine = engines.first(where: { $0.serves(path: uri.path) }) else {
            decision.value = .refused(nil)
            return channel.eventLoop.makeFailedFuture(Refused())
        }
        let keys = upgradeRequest.headers["Sec-WebSocket-Key"]
        guard keys.count == 1, let key = keys.first, upgradeRequest.headers["Sec-WebSocket-Version"] == ["13"] else {
            decision.value = .refused(.badRequest)
            return channel.eventLoop.makeFailedFuture(Refused())
        }
        let decision = self.decision
        return engine.decideUpgrade(channel: channel, head: upgradeRequest, uri: uri).flatMapThrowing { result in
            switch result {
            case .failure(let error):
                decision.value = .refused(error)
                throw Refused()
            case .success(let accepted):
                decision.value = .accepted(engine, accepted)
            }
            var headers = initialResponseHeaders
            headers.replaceOrAdd(name: "Upgrade", value: "websocket")
            headers.replaceOrAdd(name: "Connection", value: "upgrade")
            headers.add(name: "Sec-WebSocket-Accept", value: Self.accept(key: key))
            return headers
        }
    }

    static func accept(key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key + acceptGUID).utf8))
        return Base64.encode(digest)
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        channel.eventLoop.makeCompletedFuture {
            guard case .accepted(let engine, let accepted) = decision.value else { throw Refused() }
            try Self.removeLimitHandlers(channel.pipeline.syncOperations)
            try Self.installTransport(engine: engine, upgrade: accepted, channel: channel, position: .last)
            return .engineWebSocket
        }
    }

    /// Adds the WebSocket frame decoder and ``WebSocketTransport`` for an accepted upgrade.
    static func installTransport(
        engine: EngineServer, upgrade: EngineServer.AcceptedUpgrade, channel: any Channel, position: ChannelPipeline.SynchronousOperations.Position
    ) throws {
        let sync = channel.pipeline.syncOperations
        let decoder = ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: engine.configuration.maxPayload))
        let transport = engine.webSocketTransport(channel: channel, upgrade: upgrade)
        switch position {
        case .before(let handler):
            try sync.addHandler(decoder, position: .before(handler))
            try sync.addHandler(transport, position: .before(handler))
        default:
            try sync.addHandlers([decoder, transport], position: position)
        }
    }

    /// The HTTP request limit handlers leave with the HTTP codec.
    static func removeLimitHandlers(_ sync: ChannelPipeline.SynchronousOperations) throws {
        _ = sync.removeHandler(try sync.handler(type: RequestLineObserver.self))
        _ = sync.removeHandler(try sync.handler(type: RequestHeadLimitHandler.self))
    }
}
