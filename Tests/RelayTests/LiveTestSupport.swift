import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import Relay
import Synchronization
import Testing

/// Builds a Hummingbird application around a Relay (the same way the app does) and runs a live test.
func withLiveRelay(
    _ configuration: RelayConfiguration = liveConfiguration(pingInterval: .seconds(5)),
    setUp: (Relay) -> Void,
    _ test: @escaping @Sendable (Relay, any TestClientProtocol) async throws -> Void
) async throws {
    let logger = Logger(label: "relay-tests")
    let router = Router(context: BasicRequestContext.self)
    let relay = Relay(configuration: configuration, logger: logger)
    relay.addRoutes(to: router)
    setUp(relay)
    let app = Application(
        router: router,
        server: .http1(relay: relay),
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        logger: logger
    )
    try await app.test(.live) { client in
        try await test(relay, client)
        relay.close()
    }
}

/// An Engine.IO-only echo endpoint at /engine.io.
func withLiveEngine(
    _ configuration: RelayConfiguration = liveConfiguration(path: "/engine.io"),
    _ test: @escaping @Sendable (EngineServer, any TestClientProtocol) async throws -> Void
) async throws {
    let logger = Logger(label: "relay-tests")
    let router = Router(context: BasicRequestContext.self)
    let engine = EngineServer(configuration: configuration, logger: logger) { _ in Echo() }
    engine.addRoutes(to: router)
    let app = Application(
        router: router,
        server: .http1(engines: [engine]),
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        logger: logger
    )
    try await app.test(.live) { client in
        try await test(engine, client)
        engine.closeAll()
    }
}

struct Echo: EngineConnectionDelegate {
    func engineConnection(_ connection: EngineConnection, didReceive data: EngineData) { connection.send(data) }
    func engineConnection(_ connection: EngineConnection, didCloseWith reason: EngineCloseReason) {}
}

func liveConfiguration(path: String = "/socket.io", pingInterval: Duration = .milliseconds(200)) -> RelayConfiguration {
    RelayConfiguration(path: path, pingInterval: pingInterval, pingTimeout: .milliseconds(200), maxPayload: 10_000, connectTimeout: .seconds(2))
}

struct HTTPResult: Sendable {
    var status: Int
    var body: String
    var headers: HTTPFields
}

extension TestClientProtocol {
    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> HTTPResult {
        try await execute(uri: uri, method: .get, headers: headers) { HTTPResult(status: $0.status.code, body: String(buffer: $0.body), headers: $0.headers) }
    }

    func post(_ uri: String, _ body: String) async throws -> HTTPResult {
        try await execute(uri: uri, method: .post, body: ByteBuffer(string: body)) {
            HTTPResult(status: $0.status.code, body: String(buffer: $0.body), headers: $0.headers)
        }
    }

    /// Opens a polling session, returns its sid.
    func pollingHandshake(_ path: String) async throws -> String {
        let result = try await get("\(path)/?EIO=4&transport=polling")
        #expect(result.status == 200)
        let open = try JSONValue(parsing: String(result.body.dropFirst()))
        return try #require(open["sid"]?.stringValue)
    }
}

/// A scripted WebSocket client: send text/binary, await the next message, observe close.
final class TestWebSocket: Sendable {
    private let buffer = MessageBuffer()
    private let outbox: AsyncStream<WebSocketMessage?>.Continuation
    private let task: Task<Void, any Error>

    /// - Parameter autoPong: answer Engine.IO pings ("2") itself instead of delivering them.
    init(url: String, autoPong: Bool = false) {
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

    func send(_ text: String) { outbox.yield(.text(text)) }
    func send(binary: [UInt8]) { outbox.yield(.binary(ByteBuffer(bytes: binary))) }
    func close() { outbox.yield(nil) }

    /// The next message, or nil when the connection closed (or after `timeout`).
    func next(timeout: Duration = .seconds(5)) async -> WebSocketMessage? {
        await buffer.next(timeout: timeout)
    }

    /// Next text message, skipping Engine.IO pings (answered with a pong).
    func nextText(timeout: Duration = .seconds(5)) async -> String? {
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
    func waitForClose(timeout: Duration = .seconds(5)) async -> Bool {
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
func socketIOConnect(port: Int, namespace: String = "/", auth: String = "", path: String = "/socket.io") async throws -> (TestWebSocket, String) {
    let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)\(path)/?EIO=4&transport=websocket")
    let open = try #require(await ws.nextText())
    #expect(open.hasPrefix("0{"))
    let prefix = namespace == "/" ? "" : namespace + ","
    ws.send("40" + prefix + auth)
    let connect = try #require(await ws.nextText())
    #expect(connect.hasPrefix("40" + prefix + "{"))
    let sid = try JSONValue(parsing: String(connect.dropFirst(2 + prefix.count)))["sid"]?.stringValue
    return (ws, try #require(sid))
}
