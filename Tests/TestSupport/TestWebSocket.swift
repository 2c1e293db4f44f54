import HummingbirdWSClient
import Logging
import NIOCore
import Relay
import Synchronization

/// A scripted WebSocket client: send text/binary, await the next message, observe close.
public final class TestWebSocket: Sendable {
    private let buffer = MessageBuffer()
    private let outbox: AsyncStream<WebSocketMessage?>.Continuation
    private let task: Task<Void, any Error>

    /// - Parameter autoPong: answer Engine.IO pings ("2") itself instead of delivering them.
    public init(url: String, autoPong: Bool = false) {
        let (outbox, outboxContinuation) = AsyncStream<WebSocketMessage?>.makeStream()
        self.outbox = outboxContinuation
        let buffer = self.buffer
        self.task = Task {
            defer { buffer.finish() }
            try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 20), logger: Logger(label: "ws-client")) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            if autoPong, message == .text("2") {
                                outboxContinuation.yield(.text("3"))
                            } else {
                                buffer.push(message)
                            }
                        }
                    }
                    group.addTask {
                        for await message in outbox {
                            switch message {
                            case .text(let t)?: try await outbound.write(.text(t))
                            case .binary(let b)?: try await outbound.write(.binary(b))
                            case nil: return
                            }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        }
    }

    public func send(_ text: String) { outbox.yield(.text(text)) }
    public func send(binary: [UInt8]) { outbox.yield(.binary(ByteBuffer(bytes: binary))) }
    public func close() { outbox.yield(nil) }

    /// The next message, or nil when the connection closed (or after `timeout`).
    public func next(timeout: Duration = .seconds(5)) async -> WebSocketMessage? {
        await buffer.next(timeout: timeout)
    }

    /// Next text message, skipping Engine.IO pings (answered with a pong).
    public func nextText(timeout: Duration = .seconds(5)) async -> String? {
        while let m = await next(timeout: timeout) {
            if case .text(let t) = m {
                if t == "2" { send("3"); continue }
                return t
            }
            return "<binary>"
        }
        return nil
    }

    /// Waits until the server closes the connection (true) or the timeout passes (false).
    public func waitForClose(timeout: Duration = .seconds(5)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await next(timeout: deadline - ContinuousClock.now) == nil { return buffer.isFinished }
        }
        return buffer.isFinished
    }

    deinit { task.cancel() }
}

final class MessageBuffer: Sendable {
    struct State {
        var messages: [WebSocketMessage] = []
        var finished = false
        var waiter: (id: Int, continuation: CheckedContinuation<WebSocketMessage?, Never>)?
        var nextID = 0
    }
    private let state = Mutex(State())

    var isFinished: Bool { state.withLock { $0.finished && $0.messages.isEmpty } }

    func push(_ message: WebSocketMessage) {
        let waiter: CheckedContinuation<WebSocketMessage?, Never>? = state.withLock { s in
            if let w = s.waiter {
                s.waiter = nil
                return w.continuation
            }
            s.messages.append(message)
            return nil
        }
        waiter?.resume(returning: message)
    }

    func finish() {
        let waiter = state.withLock { s in
            s.finished = true
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.continuation.resume(returning: nil)
    }

    func next(timeout: Duration) async -> WebSocketMessage? {
        let id: Int = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            let waiter = self.state.withLock { s -> CheckedContinuation<WebSocketMessage?, Never>? in
                guard let w = s.waiter, w.id == id else { return nil }
                s.waiter = nil
                return w.continuation
            }
            waiter?.resume(returning: nil)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let immediate: WebSocketMessage?? = state.withLock { s in
                if !s.messages.isEmpty { return .some(s.messages.removeFirst()) }
                if s.finished { return .some(nil) }
                s.waiter = (id, continuation)
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}

/// Connects a WebSocket and joins a Socket.IO namespace; returns the socket id.
///
/// - Parameter auth: the CONNECT packet's JSON payload (`""` for none).
/// - Throws: ``SocketIOTestError`` when the server does not answer with an Engine.IO open
///   packet and a Socket.IO CONNECT carrying a `sid`.
public func socketIOConnect(port: Int, namespace: String = "/", auth: String = "", path: String = "/socket.io") async throws -> (TestWebSocket, String) {
    let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)\(path)/?EIO=4&transport=websocket")
    guard let open = await ws.nextText(), open.hasPrefix("0{") else { throw SocketIOTestError("no Engine.IO open packet") }
    let prefix = namespace == "/" ? "" : namespace + ","
    ws.send("40" + prefix + auth)
    let connect = await ws.nextText()
    guard let connect, connect.hasPrefix("40" + prefix + "{"),
          let sid = try JSONValue(parsing: String(connect.dropFirst(2 + prefix.count)))["sid"]?.stringValue
    else { throw SocketIOTestError("expected a CONNECT with a sid, got \(connect ?? "a closed connection")") }
    return (ws, sid)
}

/// A Socket.IO exchange in a test did not go as the protocol says.
public struct SocketIOTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
