import Logging
import NIOCore
import NIOWebSocket

/// The Engine.IO WebSocket transport: a NIO channel handler placed after NIO's WebSocket frame
/// decoder once the HTTP upgrade is done.
///
/// Everything happens on the channel's event loop and no Swift task exists for the
/// connection: an idle WebSocket costs its NIO channel and the session's state, nothing more.
/// Outbound frames are queued on the ``EngineConnection`` (from any thread) and written here,
/// once per loop tick, as raw WebSocket frames in as few buffers as possible (small frames are
/// coalesced into one `writev` entry; large payloads are written as the shared buffers they are).
///
/// Loop-confined state is only touched on `loop.eventLoop`; the `Sendable` conformance is for
/// handing the object to ``EngineConnection`` and ``EventLoopContext``, which only call
/// `writeQueued()` on the loop and `setReadingPaused(_:)`, which hops.
final class WebSocketTransport: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    enum Phase {
        case starting
        /// Upgrade of a polling session: waiting for `2probe` / `5`.
        case probing
        case open
        case closed
    }

    let loop: EventLoopContext
    private let server: EngineServer
    private let request: EngineRequest
    private let probeSid: String?
    private var phase = Phase.starting
    private var context: ChannelHandlerContext?
    /// The channel's allocator, read once (not through the pipeline on every write).
    private var allocator = ByteBufferAllocator()
    private var connection: EngineConnection?
    /// A fragmented message being reassembled.
    private var fragments: ByteBuffer?
    private var fragmentsBinary = false
    private var closeSent = false
    /// Closes the connection if the peer has not closed it within ``closeDrainTimeout`` of our
    /// close frame.
    private var drainTimer: Scheduled<Void>?
    private var readingPaused = false
    private var readPending = false

    /// Payloads up to this size are copied next to their frame header; larger ones are written
    /// as their own (shared) buffer.
    static let coalesceLimit = 1024

    /// How long input is read and discarded after a server-initiated close frame before the
    /// connection is closed anyway (Node's `ws` waits up to 30 s for the peer's close).
    static let closeDrainTimeout = TimeAmount.seconds(5)

    init(server: EngineServer, request: EngineRequest, probeSid: String?, eventLoop: any EventLoop) {
        self.server = server
        self.request = request
        self.probeSid = probeSid
        self.loop = server.loops.context(for: eventLoop)
    }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        if let sid = probeSid {
            guard let existing = server.connection(sid: sid), existing.beginProbe(self) else {
                // a second WebSocket for a sid, or a sid that cannot upgrade now (as Node: close it)
                phase = .closed
                server.logger.debug("websocket refused: session cannot upgrade now", metadata: ["engine.sid": .string(sid)])
                sendClose(code: .policyViolation, context: context)
                return
            }
            connection = existing
            phase = .probing
        } else {
            let connection = server.makeSession(request: request, transport: .websocket, eventLoop: context.eventLoop)
            self.connection = connection
            phase = .open
            var open = allocator.buffer(capacity: 160)
            let json = connection.handshakeJSON(upgrades: [])
            Self.writeHeader(into: &open, opcode: WebSocketOpcode.text, length: json.utf8.count + 1)
            open.writeInteger(EnginePacketType.open.character)
            open.writeString(json)
            context.writeAndFlush(wrapOutboundOut(open), promise: nil)
            connection.attach(self)
            connection.start()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        transportGone(.transportClose)
        drainTimer?.cancel()
        drainTimer = nil
        self.context = nil
        // the session and its transport refer to each other: let go on both sides
        connection?.webSocketRemoved(self)
        connection = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        transportGone(.transportClose)
        drainTimer?.cancel()
        drainTimer = nil
        context.fireChannelInactive()
    }

    private func transportGone(_ reason: EngineCloseReason) {
        switch phase {
        case .probing: connection?.probeClosed(self)
        case .open: connection?.close(reason: reason)
        case .starting, .closed: break
        }
        phase = .closed
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // after our close frame, input is discarded (the frame decoder reports what it drops)
        guard !closeSent else { return }
        // Frame decoding errors: RFC 6455 close codes; anything else is an I/O failure.
        switch error as? NIOWebSocketError {
        case .invalidFrameLength?:
            fail(.messageTooLarge, "websocket message over maxPayload", context: context)
        case .some(let error):
            fail(.protocolError, "websocket framing error", ["error": "\(error)"], context: context)
        case nil:
            server.logger.debug("websocket I/O error", metadata: ["error": "\(error)"])
            transportGone(.transportError)
            context.close(promise: nil)
        }
    }

    /// Fails the WebSocket for a client's protocol error (RFC 6455 7.1.7): logs why, ends the
    /// session, and closes with `code` so the client learns it.
    private func fail(_ code: WebSocketErrorCode, _ cause: String, _ metadata: Logger.Metadata = [:], context: ChannelHandlerContext) {
        var metadata = metadata
        metadata["websocket.close_code"] = .stringConvertible(UInt16(webSocketErrorCode: code))
        if let connection {
            connection.logProtocolError(cause, metadata)
        } else {
            metadata["relay.protocol_error"] = .string(cause)
            server.logger.info("closing connection: protocol error", metadata: metadata)
        }
        transportGone(.transportError)
        sendClose(code: code, context: context)
    }

    /// Closes this transport from any thread: its session ended or its upgrade timed out while
    /// it was a probe.
    func closeFromServer() {
        loop.eventLoop.execute {
            guard let context = self.context else { return }
            self.phase = .closed
            self.sendClose(code: .normalClosure, context: context)
        }
    }

    // MARK: - Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if closeSent {
            // closing: input is discarded; the peer's close frame completes the closing handshake
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        // RFC 6455 5.1-5.2: client frames are masked; no extension is negotiated, so no RSV bit.
        guard frame.maskKey != nil, !frame.rsv1, !frame.rsv2, !frame.rsv3 else { return protocolError(context) }
        switch frame.opcode {
        case .text, .binary:
            guard fragments == nil else { return protocolError(context) }
            if frame.fin {
                message(frame.unmaskedData, binary: frame.opcode == .binary, context: context)
            } else {
                fragments = frame.unmaskedData
                fragmentsBinary = frame.opcode == .binary
            }
        case .continuation:
            guard var buffer = fragments else { return protocolError(context) }
            fragments = nil  // keep the buffer uniquely referenced while appending
            var data = frame.unmaskedData
            guard buffer.readableBytes + data.readableBytes <= server.configuration.maxPayload else {
                return fail(.messageTooLarge, "websocket message over maxPayload", context: context)
            }
            buffer.writeBuffer(&data)
            if frame.fin {
                message(buffer, binary: fragmentsBinary, context: context)
            } else {
                fragments = buffer
            }
        case .ping:
            var pong = allocator.buffer(capacity: frame.length + 2)
            Self.writeHeader(into: &pong, opcode: WebSocketOpcode.pong, length: frame.length)
            var payload = frame.unmaskedData
            pong.writeBuffer(&payload)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            transportGone(.transportClose)
            var payload = frame.unmaskedData
            // echo the client's code (RFC 6455 5.5.1); a malformed close is a protocol error
            let code: WebSocketErrorCode
            switch payload.readableBytes {
            case 0: code = .normalClosure
            case 1: code = .protocolError
            default:
                let number = Int(payload.readInteger(as: UInt16.self)!)
                let reasonIsText = String(validating: payload.readableBytesView, as: UTF8.self) != nil
                code = Self.isValidCloseCode(number) && reasonIsText ? WebSocketErrorCode(codeNumber: number) : .protocolError
            }
            sendClose(code: code, context: context)
        default:
            protocolError(context)
        }
    }

    private func protocolError(_ context: ChannelHandlerContext, _ cause: String = "websocket framing error") {
        fail(.protocolError, cause, context: context)
    }

    private func message(_ data: ByteBuffer, binary: Bool, context: ChannelHandlerContext) {
        guard let connection else { return }
        let packet: EnginePacket
        if binary {
            packet = EngineCodec.decode(binary: data)
        } else {
            // RFC 6455 8.1: a text message that is not UTF-8 fails the connection (1007)
            guard Self.isUTF8(data.readableBytesView) else {
                return fail(.dataInconsistentWithMessage, "websocket text message not UTF-8", context: context)
            }
            // (a ByteBuffer's bytes are always contiguous)
            let decoded = data.readableBytesView.withContiguousStorageIfAvailable { bytes in
                try? EngineCodec.decodeText(bytes[...])
            }
            guard let decoded = decoded ?? nil else {
                if phase == .probing {
                    connection.logProtocolError("undecodable packet on probe websocket")
                    connection.probeClosed(self)
                    phase = .closed
                    sendClose(code: .normalClosure, context: context)
                } else {
                    connection.receiveInvalid("undecodable websocket packet")
                }
                return
            }
            packet = decoded
        }
        switch phase {
        case .open:
            connection.receive(packet)
        case .probing:
            switch connection.receiveOnProbe(packet, webSocket: self) {
            case .reply(let replies):
                writeFrames(replies.map(OutboundFrame.init), context: context)
                context.flush()
            case .upgraded:
                phase = .open
            case .aborted:
                connection.probeClosed(self)
                phase = .closed
                sendClose(code: .normalClosure, context: context)
            }
        case .starting, .closed:
            break
        }
    }

    // MARK: - Read backpressure

    /// Thread-safe: hops to the loop.
    func setReadingPaused(_ paused: Bool) {
        loop.eventLoop.execute {
            guard self.readingPaused != paused else { return }
            self.readingPaused = paused
            if !paused, self.readPending, let context = self.context {
                self.readPending = false
                context.read()
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if readingPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    // MARK: - Writing

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection?.webSocketWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    /// Writes what the connection queued, with one flush (called on the loop by ``EventLoopContext``).
    func writeQueued() {
        guard let context, let connection, !closeSent else { return }
        let (frames, closing) = connection.takeWebSocketFrames()
        if !frames.isEmpty { writeFrames(frames, context: context) }
        if closing {
            sendClose(code: .normalClosure, context: context)
        } else if !frames.isEmpty {
            context.flush()
        }
    }

    private func writeFrames(_ frames: [OutboundFrame], context: ChannelHandlerContext) {
        var capacity = 0
        for frame in frames { capacity += min(frame.byteCount, Self.coalesceLimit) + 10 }
        var out = allocator.buffer(capacity: capacity)
        for frame in frames {
            let payload: ByteBuffer
            let opcode: WebSocketOpcode
            switch frame {
            case .text(let b): (payload, opcode) = (b, .text)
            case .binary(let b): (payload, opcode) = (b, .binary)
            }
            Self.writeHeader(into: &out, opcode: opcode, length: payload.readableBytes)
            if payload.readableBytes <= Self.coalesceLimit {
                out.writeImmutableBuffer(payload)
            } else {
                context.write(wrapOutboundOut(out), promise: nil)
                context.write(wrapOutboundOut(payload), promise: nil)
                out = allocator.buffer(capacity: capacity)
            }
        }
        if out.readableBytes > 0 { context.write(wrapOutboundOut(out), promise: nil) }
    }

    /// Starts the server's side of the closing handshake (RFC 6455 7.1.2), once: writes the close
    /// frame, then closes the write side (TCP half-close) and keeps reading, discarding input,
    /// until the peer's close frame or EOF, or ``closeDrainTimeout``; only then is the connection
    /// closed. Closing at once with unread input would make the kernel answer with a reset, and
    /// the peer would see 1006 instead of `code`.
    private func sendClose(code: WebSocketErrorCode, context: ChannelHandlerContext) {
        guard !closeSent else { return }
        closeSent = true
        fragments = nil
        var frame = allocator.buffer(capacity: 4)
        Self.writeHeader(into: &frame, opcode: .connectionClose, length: 2)
        frame.write(webSocketErrorCode: code)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { result in
            switch result {
            case .success: bound.value.close(mode: .output, promise: nil)
            case .failure: bound.value.close(promise: nil)
            }
        }
        drainTimer = context.eventLoop.scheduleTask(in: Self.closeDrainTimeout) {
            bound.value.close(promise: nil)
        }
        // input must keep flowing to be discarded, whatever the read backpressure said
        readingPaused = false
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// Close codes a peer may send (RFC 6455 7.4; 1004-1006 and 1015 are never sent).
    static func isValidCloseCode(_ code: Int) -> Bool {
        (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
    }

    /// Valid UTF-8? ASCII (the usual Engine.IO text) is checked without building a String.
    static func isUTF8(_ bytes: ByteBufferView) -> Bool {
        if bytes.allSatisfy({ $0 < 0x80 }) { return true }
        return String(validating: bytes, as: UTF8.self) != nil
    }

    /// An unmasked (server-to-client) frame header, FIN set (RFC 6455, section 5.2).
    static func writeHeader(into buffer: inout ByteBuffer, opcode: WebSocketOpcode, length: Int) {
        buffer.writeInteger(0x80 | UInt8(webSocketOpcode: opcode))
        if length < 126 {
            buffer.writeInteger(UInt8(length))
        } else if length <= Int(UInt16.max) {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
    }
}
