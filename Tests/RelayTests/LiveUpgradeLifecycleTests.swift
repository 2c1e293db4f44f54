import Hummingbird
import HummingbirdTesting
import NIOCore
import Relay
import Testing

/// The polling→WebSocket upgrade while it is under way, and what is left of a session once it
/// ends (issue 11, items 2 and 3).
@Suite struct LiveUpgradeLifecycleTests {
    /// Opens a polling session and a probe WebSocket for it, up to `3probe`.
    static func probe(_ client: any TestClientProtocol) async throws -> (sid: String, ws: TestWebSocket) {
        let port = try #require(client.port)
        let sid = try await client.pollingHandshake("/engine.io")
        let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket&sid=\(sid)")
        ws.send("2probe")
        #expect(await ws.next() == .text("3probe"))
        return (sid, ws)
    }

    /// Until the client sends `5`, polling carries the session's packets (as Node's engine.io):
    /// a message sent meanwhile comes back on the next GET, not only after the upgrade.
    @Test func pollingCarriesPacketsWhileProbeIsOpen() async throws {
        try await withLiveEngine { engine, client in
            let (sid, ws) = try await Self.probe(client)
            let uri = "/engine.io/?EIO=4&transport=polling&sid=\(sid)"
            #expect(try await client.post(uri, "4during probe").status == 200)
            #expect(try await client.get(uri).body == "4during probe")
            // nothing queued: a noop, so a pausing client can send `5`
            #expect(try await client.get(uri).body == "6")
            ws.send("5")
            ws.send("4after")
            #expect(await ws.nextText() == "4after")
            #expect(engine.connection(sid: sid)?.transport == .websocket)
        }
    }

    /// Pings keep reaching a client that keeps polling while its probe is open (before, every
    /// poll got a noop and the ping waited until the session timed out).
    @Test func pingsReachPollingClientDuringProbe() async throws {
        var configuration = liveConfiguration(path: "/engine.io", pingInterval: .milliseconds(300))
        configuration.pingTimeout = .seconds(3)
        configuration.upgradeTimeout = .seconds(60)
        try await withLiveEngine(configuration) { engine, client in
            let (sid, ws) = try await Self.probe(client)
            let uri = "/engine.io/?EIO=4&transport=polling&sid=\(sid)"
            var pings = 0
            for _ in 0..<200 where pings < 3 {
                let body = try await client.get(uri).body
                if body.split(separator: "\u{1e}").contains("2") {
                    pings += 1
                    #expect(try await client.post(uri, "3").status == 200)
                } else {
                    #expect(body == "6")
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            #expect(pings == 3)
            #expect(engine.connection(sid: sid) != nil)
            ws.close()
        }
    }

    /// A probe whose client never sends `5` is closed at upgradeTimeout; polling carries on.
    @Test func abandonedProbeIsClosedAtUpgradeTimeout() async throws {
        var configuration = liveConfiguration(path: "/engine.io", pingInterval: .seconds(5))
        configuration.pingTimeout = .seconds(5)
        configuration.upgradeTimeout = .milliseconds(300)
        try await withLiveEngine(configuration) { engine, client in
            let (sid, ws) = try await Self.probe(client)
            #expect(await ws.waitForClose(timeout: .seconds(5)))
            let uri = "/engine.io/?EIO=4&transport=polling&sid=\(sid)"
            #expect(try await client.post(uri, "4still polling").status == 200)
            #expect(try await client.get(uri).body == "4still polling")
            #expect(engine.connection(sid: sid)?.transport == .polling)
        }
    }

    /// A probe open when its session ends is closed with it.
    @Test func probeIsClosedWhenItsSessionEnds() async throws {
        var configuration = liveConfiguration(path: "/engine.io", pingInterval: .seconds(5))
        configuration.upgradeTimeout = .seconds(60)
        try await withLiveEngine(configuration) { engine, client in
            let (sid, ws) = try await Self.probe(client)
            engine.connection(sid: sid)?.close()
            #expect(await ws.waitForClose(timeout: .seconds(5)))
            #expect(engine.connection(sid: sid) == nil)
        }
    }

    /// Nothing keeps a closed session alive: its WebSocket and the session referred to each
    /// other, so neither was ever freed.
    @Test func closedWebSocketSessionIsReleased() async throws {
        try await withLiveEngine { engine, client in
            let port = try #require(client.port)
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket", autoPong: true)
            guard case .text(let open)? = await ws.next() else { Issue.record("no open packet"); return }
            let sid = try #require(try JSONValue(parsing: String(open.dropFirst()))["sid"]?.stringValue)
            weak let session = engine.connection(sid: sid)
            #expect(session != nil)
            ws.close()
            for _ in 0..<100 where session != nil { try await Task.sleep(for: .milliseconds(20)) }
            #expect(engine.connection(sid: sid) == nil)
            #expect(session == nil)
        }
    }

    /// The same for an upgraded session whose probe timed out before: the probe, its timer and
    /// the session are all released.
    @Test func abandonedProbeAndItsSessionAreReleased() async throws {
        var configuration = liveConfiguration(path: "/engine.io", pingInterval: .seconds(5))
        configuration.upgradeTimeout = .milliseconds(200)
        try await withLiveEngine(configuration) { engine, client in
            let (sid, ws) = try await Self.probe(client)
            weak let session = engine.connection(sid: sid)
            #expect(await ws.waitForClose(timeout: .seconds(5)))
            engine.connection(sid: sid)?.close()
            for _ in 0..<100 where session != nil { try await Task.sleep(for: .milliseconds(20)) }
            #expect(session == nil)
        }
    }
}
