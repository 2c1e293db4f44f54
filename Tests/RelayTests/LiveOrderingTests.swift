import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import Relay
import Synchronization
import Testing

/// Inbound events are delivered synchronously by the transport and handled in tasks: these
/// check that nothing is lost or reordered on the way, and the Origin allow-list.
@Suite struct LiveOrderingTests {
    /// Records what handlers saw, in order, and waits for a count.
    final class Log: Sendable {
        private let entries = Mutex<[String]>([])
        func append(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }

        func wait(forCount count: Int, timeout: Duration = .seconds(10)) async -> [String] {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let now = all
                if now.count >= count { return now }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return all
        }
    }

    @Test func aFloodOfEventsIsHandledCompletelyAndInOrder() async throws {
        let log = Log()
        let count = 3000
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                socket.on("n") { args, _ in
                    // a handler slower than the client: the backlog builds up, reading pauses
                    log.append(String(args.first?.intValue ?? -1))
                    if (args.first?.intValue ?? 0) % 100 == 0 { try await Task.sleep(for: .milliseconds(5)) }
                }
            }
        }) { _, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            for i in 0..<count { ws.send(#"42["n",\#(i)]"#) }
            let seen = await log.wait(forCount: count)
            #expect(seen == (0..<count).map(String.init))
        }
    }

    @Test func eventsSentWhileTheConnectionHandlerRunsAreNotLost() async throws {
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                // the CONNECT ack is already out; the client may emit before `on` is called
                try? await Task.sleep(for: .milliseconds(200))
                socket.on("hi") { args, ack in await ack?(args) }
            }
        }) { _, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            ws.send(#"421["hi","early"]"#)
            #expect(await ws.nextText() == #"431["early"]"#)
        }
    }

    /// Event "e" is handled slowly (30 ms) and logged, then the disconnect and its reason.
    func recordSlowEvents(_ relay: Relay, into log: Log) {
        relay.namespace("/").onConnection { socket in
            socket.on("e") { args, _ in
                try await Task.sleep(for: .milliseconds(30))
                log.append(args.first?.stringValue ?? "?")
            }
            socket.onDisconnect { reason in log.append("disconnect: \(reason.rawValue)") }
        }
    }

    @Test func clientDisconnectComesAfterTheEventsBeforeIt() async throws {
        let log = Log()
        try await withLiveRelay(setUp: { recordSlowEvents($0, into: log) }) { _, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            for name in ["a", "b", "c"] { ws.send(#"42["e","\#(name)"]"#) }
            ws.send("41")
            #expect(await log.wait(forCount: 4) == ["a", "b", "c", "disconnect: client namespace disconnect"])
        }
    }

    @Test func aClosedConnectionStillHasItsEventsHandled() async throws {
        let log = Log()
        try await withLiveRelay(setUp: { recordSlowEvents($0, into: log) }) { relay, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            for name in ["a", "b"] { ws.send(#"42["e","\#(name)"]"#) }
            try await Task.sleep(for: .milliseconds(5))
            ws.close()
            #expect(await log.wait(forCount: 3) == ["a", "b", "disconnect: transport close"])
            #expect(relay.connectionCount == 0)
        }
    }

    @Test func originAllowListGuardsPollingAndWebSocket() async throws {
        var configuration = liveConfiguration(pingInterval: .seconds(5))
        configuration.allowedOrigins = ["https://chat.example"]
        try await withLiveRelay(configuration, setUp: { _ in }) { relay, client in
            let port = try #require(client.port)
            let foreign = try await client.get("/socket.io/?EIO=4&transport=polling", headers: [.origin: "https://evil.example"])
            #expect(foreign.status == 403)
            #expect(foreign.body == #"{"code":4,"message":"Forbidden"}"#)
            #expect(try await client.get("/socket.io/?EIO=4&transport=polling", headers: [.origin: "https://chat.example"]).status == 200)
            #expect(try await client.get("/socket.io/?EIO=4&transport=polling").status == 200)  // not a browser

            // the WebSocket client always sends `Origin: ws://127.0.0.1`, which is not on the list
            let refused = TestWebSocket(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
            #expect(await refused.waitForClose())
            #expect(relay.connectionCount == 2)
        }
        configuration.allowedOrigins = ["https://chat.example", "ws://127.0.0.1"]
        try await withLiveRelay(configuration, setUp: { _ in }) { relay, client in
            let allowed = TestWebSocket(url: "ws://127.0.0.1:\(try #require(client.port))/socket.io/?EIO=4&transport=websocket")
            #expect(await allowed.nextText()?.hasPrefix("0{") == true)
            #expect(relay.connectionCount == 1)
        }
    }
}

@Suite struct LiveConnectionLimitsTests {
    @Test func aConnectionThatSendsNoRequestIsClosed() async throws {
        let logger = Logger(label: "relay-tests")
        let router = Router(context: BasicRequestContext.self)
        let relay = Relay(configuration: liveConfiguration(), logger: logger)
        relay.addRoutes(to: router)
        let app = Application(
            router: router,
            server: .http1(relay: relay, configuration: .init(idleTimeout: .milliseconds(300))),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: logger
        )
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get()
            let started = ContinuousClock.now
            // nothing is sent: the server hangs up after the idle timeout (we give up after 3 s)
            channel.eventLoop.scheduleTask(in: .seconds(3)) { channel.close(promise: nil) }
            try await channel.closeFuture.get()
            #expect(ContinuousClock.now - started < .seconds(2))
        }
    }
}
