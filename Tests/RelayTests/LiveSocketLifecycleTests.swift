import Hummingbird
import HummingbirdTesting
import NIOCore
import Relay
import Synchronization
import Testing

/// Whatever a connection handler sets up and pairs with `onDisconnect` is undone exactly once,
/// however the socket ends relative to the handler: client DISCONNECT or a dropped transport
/// while the handler is still awaiting, or a server-side disconnect from inside it.
@Suite struct LiveSocketLifecycleTests {
    /// Counts set-ups and tear-downs; the handler joins "lobby" after an await.
    final class Ledger: Sendable {
        let counts = Mutex<(entered: Int, setUp: Int, tornDown: Int)>((0, 0, 0))
        var entered: Int { counts.withLock { $0.entered } }
        var setUp: Int { counts.withLock { $0.setUp } }
        var tornDown: Int { counts.withLock { $0.tornDown } }
    }

    /// A one-shot gate the connection handler waits on.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
        func wait() async {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { s in
                    if s.open { return true }
                    s.waiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        func open() {
            let waiters = state.withLock { s in
                s.open = true
                defer { s.waiters = [] }
                return s.waiters
            }
            for w in waiters { w.resume() }
        }
    }

    static func install(_ relay: Relay, _ ledger: Ledger, before: @escaping @Sendable () async -> Void) {
        relay.namespace("/").onConnection { socket in
            ledger.counts.withLock { $0.entered += 1 }
            await before()
            await socket.join("lobby")
            socket.onDisconnect { _ in ledger.counts.withLock { $0.tornDown += 1 } }
            ledger.counts.withLock { $0.setUp += 1 }
        }
    }

    /// Polls until `condition` holds or 5 s pass (a liveness bound, not a speed assertion).
    static func eventually(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }

    @Test func clientDisconnectWhileTheHandlerAwaits() async throws {
        let ledger = Ledger(), gate = Gate()
        try await withLiveRelay(setUp: { Self.install($0, ledger) { await gate.wait() } }) { relay, client in
            let namespace = relay.namespace("/")
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            #expect(await Self.eventually { ledger.entered == 1 })
            ws.send("41")
            #expect(await Self.eventually { namespace.sockets.isEmpty })
            gate.open()
            #expect(await Self.eventually { ledger.setUp == 1 && ledger.tornDown == 1 })
            // the late join did not put the departed socket back in the room
            #expect(namespace.socketIDs(inRoom: "lobby").isEmpty)
            try await Task.sleep(for: .milliseconds(50))
            #expect(ledger.tornDown == 1)
            ws.close()
        }
    }

    @Test func transportDropWhileTheHandlerAwaits() async throws {
        let ledger = Ledger(), gate = Gate()
        try await withLiveRelay(setUp: { Self.install($0, ledger) { await gate.wait() } }) { relay, client in
            let namespace = relay.namespace("/")
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            #expect(await Self.eventually { ledger.entered == 1 })
            ws.close()
            #expect(await Self.eventually { namespace.sockets.isEmpty })
            gate.open()
            #expect(await Self.eventually { ledger.setUp == 1 && ledger.tornDown == 1 })
            #expect(namespace.socketIDs(inRoom: "lobby").isEmpty)
        }
    }

    @Test func serverDisconnectFromInsideTheHandler() async throws {
        let ledger = Ledger()
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                socket.onDisconnect { _ in ledger.counts.withLock { $0.tornDown += 1 } }
                socket.disconnect()
                // registered after the socket ended: runs at once, still exactly once
                socket.onDisconnect { _ in ledger.counts.withLock { $0.tornDown += 1 } }
                await socket.join("lobby")
                ledger.counts.withLock { $0.setUp += 1 }
            }
        }) { relay, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            #expect(await ws.nextText() == "41")
            #expect(await Self.eventually { ledger.setUp == 1 && ledger.tornDown == 2 })
            #expect(relay.namespace("/").socketIDs(inRoom: "lobby").isEmpty)
            ws.close()
        }
    }

    @Test func clientDisconnectWhileTheMiddlewareRuns() async throws {
        let ledger = Ledger(), gate = Gate()
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").use { _ in
                ledger.counts.withLock { $0.entered += 1 }
                await gate.wait()
                return nil
            }
            Self.install(relay, ledger) {}
        }) { relay, client in
            let port = try #require(client.port)
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
            _ = await ws.nextText()
            ws.send("40")
            #expect(await Self.eventually { ledger.entered == 1 })
            ws.send("41")
            try await Task.sleep(for: .milliseconds(50))
            gate.open()
            #expect(await ws.nextText()?.hasPrefix("40{") == true)
            try await Task.sleep(for: .milliseconds(100))
            // the client asked to leave before it was connected: it is not left connected and joined
            #expect(relay.namespace("/").sockets.isEmpty)
            #expect(relay.namespace("/").socketIDs(inRoom: "lobby").isEmpty)
            #expect(ledger.setUp == ledger.tornDown)
            ws.close()
        }
    }

    /// Hundreds of connect/leave races with random timings on both sides: every socket that
    /// was set up is torn down once, and nothing is left in the namespace or its rooms.
    @Test func randomisedConnectAndLeaveRaces() async throws {
        let ledger = Ledger()
        try await withLiveRelay(setUp: { relay in
            Self.install(relay, ledger) {
                let pause = Int.random(in: 0...3)
                if pause > 0 { try? await Task.sleep(for: .milliseconds(pause)) } else { await Task.yield() }
            }
        }) { relay, client in
            let port = try #require(client.port)
            let rounds = 200
            try await withThrowingTaskGroup(of: Void.self) { group in
                for round in 0..<rounds {
                    if round >= 8 { try await group.next() }  // at most 8 at once
                    group.addTask {
                        let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
                        _ = await ws.nextText()
                        ws.send("40")
                        let wait = Int.random(in: 0...4)
                        if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
                        if Bool.random() { ws.send("41") }
                        if Bool.random() { try await Task.sleep(for: .milliseconds(Int.random(in: 0...2))) }
                        ws.close()
                        _ = await ws.waitForClose(timeout: .seconds(5))
                    }
                }
                try await group.waitForAll()
            }
            let namespace = relay.namespace("/")
            #expect(await Self.eventually { namespace.sockets.isEmpty && ledger.setUp == ledger.tornDown })
            #expect(ledger.setUp == ledger.tornDown, "set up \(ledger.setUp), torn down \(ledger.tornDown)")
            #expect(namespace.socketIDs(inRoom: "lobby").isEmpty)
            #expect(ledger.entered >= ledger.setUp)
        }
    }
}
