import NIOCore
import NIOWebSocket

/// One Engine.IO v4 / Socket.IO v5 client over WebSocket, default namespace. It answers
/// pings, sends CONNECT (with optional auth JSON) after the Engine.IO open packet, and hands
/// Socket.IO events and acks to its ``Worker``. Lives on the worker's event loop.
final class SocketIOClientConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    unowned let worker: Worker
    let index: Int
    /// The room this client joins (`join` event) or posts to (`chat`: the room id).
    let room: String
    let auth: String?
    let startedAt: UInt64
    private(set) var context: ChannelHandlerContext?
    private(set) var connected = false
    var nextAckID = 0
    /// Send time of each outstanding ack id.
    var pendingAcks: [Int: UInt64] = [:]
    var sequence = 0

    init(worker: Worker, index: Int, room: String, auth: String?) {
        self.worker = worker
        self.index = index
        self.room = room
        self.auth = auth
        self.startedAt = monotonicNanos()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        worker.connectionClosed(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        worker.connectionFailed("\(error)")
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            handle(frame.unmaskedData.readableBytesView, context: context)
        case .ping:
            send(frame.unmaskedData, opcode: .pong)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    private func handle(_ packet: ByteBufferView, context: ChannelHandlerContext) {
        guard let type = packet.first else { return }
        switch type {
        case UInt8(ascii: "0"):  // Engine.IO open → Socket.IO CONNECT
            if worker.engineOnly {
                connected = true
                worker.connected(self)
            } else {
                sendText(auth.map { "40" + $0 } ?? "40")
            }
        case UInt8(ascii: "2"):  // ping
            sendText("3")
        case UInt8(ascii: "1"):
            context.close(promise: nil)
        case UInt8(ascii: "4"):
            let rest = packet.dropFirst()
            guard let kind = rest.first else { return }
            switch kind {
            case UInt8(ascii: "0"):
                if !connected {
                    connected = true
                    worker.connected(self)
                }
            case UInt8(ascii: "4"):
                worker.connectionFailed("CONNECT_ERROR " + String(decoding: rest.dropFirst(), as: UTF8.self))
                context.close(promise: nil)
            case UInt8(ascii: "2"):
                worker.event(self, rest.dropFirst())
            case UInt8(ascii: "3"):
                var id = 0
                var i = rest.index(after: rest.startIndex)
                while i < rest.endIndex, rest[i] >= 48, rest[i] <= 57 {
                    id = id * 10 + Int(rest[i] - 48)
                    i += 1
                }
                worker.ack(self, id: id, rest[i...])
            case UInt8(ascii: "1"):
                context.close(promise: nil)
            default:
                break
            }
        default:
            break
        }
    }

    /// Sends one Engine.IO text packet as a masked WebSocket text frame.
    func sendText(_ text: String) {
        guard let context else { return }
        send(context.channel.allocator.buffer(string: text), opcode: .text)
    }

    /// Sends a Socket.IO EVENT with an ack id; remembers when.
    func sendEventWithAck(_ body: (Int) -> String, now: UInt64) {
        let id = nextAckID
        nextAckID += 1
        pendingAcks[id] = now
        sendText("42\(id)" + body(id))
    }

    private func send(_ data: ByteBuffer, opcode: WebSocketOpcode) {
        guard let context else { return }
        let frame = WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func close() {
        context?.close(promise: nil)
    }
}

extension ByteBufferView {
    /// The unsigned integer that follows the first occurrence of `marker`, if any.
    func integer(after marker: StaticString) -> UInt64? {
        let m = UnsafeBufferPointer(start: marker.utf8Start, count: marker.utf8CodeUnitCount)
        guard m.count > 0, count >= m.count else { return nil }
        var i = startIndex
        let last = endIndex - m.count
        outer: while i <= last {
            for j in 0..<m.count where self[i + j] != m[j] {
                i += 1
                continue outer
            }
            var j = i + m.count
            var value: UInt64 = 0
            var digits = 0
            while j < endIndex, self[j] >= 48, self[j] <= 57 {
                value = value &* 10 &+ UInt64(self[j] - 48)
                j += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        return nil
    }

    func hasPrefix(_ prefix: StaticString) -> Bool {
        let m = UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        guard count >= m.count else { return false }
        for j in 0..<m.count where self[startIndex + j] != m[j] { return false }
        return true
    }

    func contains(_ needle: StaticString) -> Bool {
        let m = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        guard count >= m.count else { return false }
        var i = startIndex
        outer: while i <= endIndex - m.count {
            for j in 0..<m.count where self[i + j] != m[j] {
                i += 1
                continue outer
            }
            return true
        }
        return false
    }
}
