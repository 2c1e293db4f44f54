import NIOCore
import NIOWebSocket

/// Sends the HTTP/1.1 upgrade request for `/socket.io/?EIO=4&transport=websocket`, waits for
/// `101`, then swaps itself for the WebSocket frame codec and the Socket.IO client. Hand-rolled
/// (no HTTP codec in the pipeline) to keep the generator's cost per connection small.
final class WebSocketUpgradeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let host: String
    private let path: String
    private let client: SocketIOClientConnection
    private var received: ByteBuffer?

    init(host: String, path: String, client: SocketIOClientConnection) {
        self.host = host
        self.path = path
        self.client = client
    }

    func channelActive(context: ChannelHandlerContext) {
        var key = [UInt8](repeating: 0, count: 16)
        for i in key.indices { key[i] = UInt8.random(in: 0...255) }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(base64(key))\r\nSec-WebSocket-Version: 13\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if received == nil { received = incoming } else { received!.writeBuffer(&incoming) }
        guard var buffer = received else { return }
        let view = buffer.readableBytesView
        guard let end = Self.headerEnd(view) else {
            if buffer.readableBytes > 16_384 { fail(context: context, "upgrade response too large") }
            return
        }
        let head = String(decoding: view[view.startIndex..<end], as: UTF8.self)
        guard head.hasPrefix("HTTP/1.1 101") else {
            fail(context: context, "upgrade refused: \(head.prefix(while: { $0 != "\r" }))")
            return
        }
        buffer.moveReaderIndex(forwardBy: end + 4 - view.startIndex)
        received = nil
        do {
            try context.pipeline.syncOperations.addHandlers(
                [ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)), WebSocketFrameEncoder(), client],
                position: .after(self)
            )
        } catch {
            fail(context: context, "pipeline: \(error)")
            return
        }
        if buffer.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(buffer)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(context: context, "\(error)")
    }

    private func fail(context: ChannelHandlerContext, _ message: String) {
        client.worker.connectionFailed(message)
        context.close(promise: nil)
    }

    private static func headerEnd(_ view: ByteBufferView) -> Int? {
        var i = view.startIndex
        while i + 3 < view.endIndex {
            if view[i] == 13, view[i + 1] == 10, view[i + 2] == 13, view[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }

    private func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out = [UInt8]()
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(table[Int(b0 >> 2)])
            out.append(table[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? table[Int((b1 & 15) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? table[Int(b2 & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
