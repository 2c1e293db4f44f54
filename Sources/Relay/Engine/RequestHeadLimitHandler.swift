import NIOCore
import NIOHTTP1

/// Answers a request whose request line or headers go over the HTTP decoder's limits
/// (`maxHeaderFieldSize`, `maxHeaderListSize`, `maxHeaderFieldCount`) instead of dropping the
/// connection without a word: 414 URI Too Long when the request line was still being read,
/// 431 Request Header Fields Too Large otherwise (RFC 9110 15.5.15, RFC 6585 5), in the one
/// JSON error shape `{"error":{"code":"uri_too_long"|"header_fields_too_large","message":…}}`,
/// with `Connection: close`. Then the write side is closed and input is read and discarded
/// until the client closes or ``drainTimeout`` passes, so the answer is not lost to a reset.
///
/// Two handlers share one ``RequestHeadLimitHandler/Tracker``: ``RequestLineObserver`` before
/// the request decoder (it sees the bytes: has the request line ended?) and this handler after
/// NIO's upgrade handler (it sees the decoder's error and the end of each request, and never the
/// raw bytes the decoder passes on when an upgrade removes it). Both leave with the HTTP codec.
final class RequestHeadLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Where the current request is (loop-confined, shared by the two handlers).
    final class Tracker {
        var inRequestLine = true
    }

    static let drainTimeout = TimeAmount.seconds(2)

    let tracker: Tracker
    private var answered = false
    private var drainTimer: Scheduled<Void>?

    init(tracker: Tracker) { self.tracker = tracker }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { tracker.inRequestLine = true }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if answered { return }  // the decoder reports every read it drops after its error
        guard let parserError = error as? HTTPParserError, parserError == .headerOverflow else {
            context.fireErrorCaught(error)
            return
        }
        answered = true
        let (status, code, message) = tracker.inRequestLine
            ? (HTTPResponseStatus.uriTooLong, "uri_too_long", "The request line is too long.")
            : (HTTPResponseStatus.requestHeaderFieldsTooLarge, "header_fields_too_large", "The request's header fields are too large.")
        var body = context.channel.allocator.buffer(capacity: 96)
        body.writeString(#"{"error":{"code":"\#(code)","message":"\#(message)"}}"#)
        let headers = HTTPHeaders([
            ("Content-Type", "application/json"), ("Content-Length", String(body.readableBytes)), ("Connection", "close"),
        ])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { result in
            switch result {
            case .success: bound.value.close(mode: .output, promise: nil)
            case .failure: bound.value.close(promise: nil)
            }
        }
        drainTimer = context.eventLoop.scheduleTask(in: Self.drainTimeout) { bound.value.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        drainTimer?.cancel()
        drainTimer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        drainTimer?.cancel()
        drainTimer = nil
    }
}

/// Sees a request's bytes before the HTTP decoder: notes when its request line has ended
/// (see ``RequestHeadLimitHandler``).
final class RequestLineObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let tracker: RequestHeadLimitHandler.Tracker

    init(tracker: RequestHeadLimitHandler.Tracker) { self.tracker = tracker }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if tracker.inRequestLine, unwrapInboundIn(data).readableBytesView.contains(UInt8(ascii: "\n")) {
            tracker.inRequestLine = false
        }
        context.fireChannelRead(data)
    }
}
