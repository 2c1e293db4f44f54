import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Accepts an Engine.IO WebSocket upgrade on any request of a kept-alive HTTP/1.1 connection,
/// not only on its first (NIO's upgrade handler, which serves the first request, leaves the
/// pipeline after it). Clients that pool connections (python-socketio's and aiohttp's default
/// `["polling", "websocket"]`, OkHttp) send the upgrade on a connection that already carried
/// polling requests; RFC 9110 7.8 allows `Upgrade` on any request.
///
/// Placed between NIO's HTTP/1 codec and Hummingbird's, it passes every other request on. An
/// upgrade request for an engine's path is kept from Hummingbird; once the response to the
/// previous request has been written, the handshake is decided as for a first request
/// (``EngineWebSocketUpgrader``): a refusal gets Node's JSON error and `Connection: close`; an
/// acceptance gets the 101, the HTTP handlers leave the pipeline and ``WebSocketTransport``
/// takes the connection. Hummingbird's side is then told its input ended, so its task
/// finishes; what it writes or closes afterwards is dropped here (the WebSocket owns the
/// connection and closes it from its own place in the pipeline).
final class KeepAliveUpgradeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum State {
        case http
        /// An upgrade request's head is in; its end (and the previous response's) awaited.
        case collecting(HTTPRequestHead, ended: Bool)
        case deciding
        /// The connection is a WebSocket now (or is being closed after a refusal).
        case done
    }

    private let engines: [EngineServer]
    private let logger: Logger
    private var state = State.http
    /// Requests passed to Hummingbird whose response has not been written in full.
    private var responsesPending = 0

    init(engines: [EngineServer], logger: Logger) {
        self.engines = engines
        self.logger = logger
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch state {
        case .http:
            if case .head(let head) = part, isEngineUpgrade(head) {
                state = .collecting(head, ended: false)
                return
            }
            if case .head = part { responsesPending += 1 }
            context.fireChannelRead(data)
        case .collecting(let head, _):
            // an upgrade request has no body worth keeping; its end starts the handshake
            if case .end = part {
                state = .collecting(head, ended: true)
                startIfReady(context: context)
            }
        case .deciding, .done:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .done = state {
            // Hummingbird's side, above, asks for no more reads once its input ended: the
            // WebSocket's are asked for here (``WebSocketTransport`` applies its backpressure)
            context.read()
            return
        }
        context.fireChannelReadComplete()
    }

    private func isEngineUpgrade(_ head: HTTPRequestHead) -> Bool {
        guard head.method == .GET,
            head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }),
            head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" })
        else { return false }
        let path = URI(head.uri).path
        return engines.contains { $0.serves(path: path) }
    }

    // MARK: - Outbound (Hummingbird's responses)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .done = state {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        if case .end = unwrapOutboundIn(data) {
            responsesPending = max(0, responsesPending - 1)
            context.write(data, promise: promise)
            startIfReady(context: context)
            return
        }
        context.write(data, promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if case .done = state {
            // Hummingbird's task ending; the WebSocket closes the connection itself
            promise?.succeed()
            return
        }
        context.close(mode: mode, promise: promise)
    }

    // MARK: - Handshake

    private func startIfReady(context: ChannelHandlerContext) {
        guard case .collecting(let head, ended: true) = state, responsesPending == 0 else { return }
        state = .deciding
        let decision = NIOLoopBoundBox<EngineWebSocketUpgrader.Decision?>(nil, eventLoop: context.eventLoop)
        let upgrader = EngineWebSocketUpgrader(engines: engines, decision: decision)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        upgrader.buildUpgradeResponse(channel: context.channel, upgradeRequest: head, initialResponseHeaders: [:])
            .hop(to: context.eventLoop)
            .whenComplete { result in
                let (handler, context) = bound.value
                switch (result, decision.value) {
                case (.success(let headers), .accepted(let engine, let accepted)?):
                    handler.accept(head: head, headers: headers, engine: engine, upgrade: accepted, context: context)
                case (_, .refused(let error)?):
                    handler.refuse(head: head, error: error ?? .badRequest, context: context)
                default:
                    handler.refuse(head: head, error: .badRequest, context: context)
                }
            }
    }

    private func refuse(head: HTTPRequestHead, error: EngineHTTPError, context: ChannelHandlerContext) {
        state = .done
        var body = context.channel.allocator.buffer(capacity: 64)
        body.writeString(error.body)
        let headers = HTTPHeaders([
            ("Content-Type", "application/json"), ("Content-Length", String(body.readableBytes)), ("Connection", "close"),
        ])
        let status = HTTPResponseStatus(statusCode: Int(error.status.code))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }

    private func accept(
        head: HTTPRequestHead, headers: HTTPHeaders, engine: EngineServer, upgrade: EngineServer.AcceptedUpgrade, context: ChannelHandlerContext
    ) {
        state = .done
        let response = HTTPResponseHead(version: head.version, status: .switchingProtocols, headers: headers)
        context.writeAndFlush(wrapOutboundOut(.head(response)), promise: nil)
        do {
            // the 101 is encoded: the HTTP handlers go, the WebSocket's come in their place
            // (the request decoder goes last: what it holds after the request is passed on to
            // the frame decoder)
            let sync = context.pipeline.syncOperations
            _ = sync.removeHandler(try sync.handler(type: HTTPResponseEncoder.self))
            try EngineWebSocketUpgrader.removeLimitHandlers(sync)
            try EngineWebSocketUpgrader.installTransport(
                engine: engine, upgrade: upgrade, channel: context.channel, position: .before(self)
            )
            _ = sync.removeHandler(try sync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self))
        } catch {
            logger.debug("websocket upgrade on a kept-alive connection failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        // Hummingbird's side: no more requests on this connection
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        context.read()
    }
}
