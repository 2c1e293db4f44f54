import Hummingbird
import HummingbirdTesting
import NIOCore
import Relay
import Testing

/// WebSocket transport and the polling→WebSocket upgrade over real sockets.
@Suite struct LiveWebSocketTests {
    @Test func websocketHandshakeEchoAndHeartbeat() async throws {
        try await withLiveEngine { _, client in
            let port = try #require(client.port)
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket")
            let open = try #require(await ws.next())
            guard case .text(let openText) = open else { Issue.record("binary open"); return }
            let handshake = try JSONValue(parsing: String(openText.dropFirst()))
            #expect(handshake["upgrades"] == [])
            ws.send("4hello")
            #expect(await ws.next() == .text("4hello"))
            ws.send(binary: [1, 2, 3])
            #expect(await ws.next() == .binary(ByteBuffer(bytes: [1, 2, 3])))
            #expect(await ws.next() == .text("2"))
            ws.send("3")
            #expect(await ws.next() == .text("2"))
            ws.close()
        }
    }

    @Test func websocketClosedOnPingTimeoutAndBadPacket() async throws {
        try await withLiveEngine { engine, client in
            let port = try #require(client.port)
            let silent = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket")
            _ = await silent.next()
            #expect(await silent.waitForClose(timeout: .seconds(3)))
            let bad = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket")
            _ = await bad.next()
            bad.send("abc")
            #expect(await bad.waitForClose())
            try await Task.sleep(for: .milliseconds(100))
            #expect(engine.connectionCount == 0)
        }
    }

    @Test func upgradeFromPolling() async throws {
        try await withLiveEngine { engine, client in
            let port = try #require(client.port)
            let sid = try await client.pollingHandshake("/engine.io")
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket&sid=\(sid)", autoPong: true)
            ws.send("2probe")
            #expect(await ws.next() == .text("3probe"))
            // the polling side is told to stop with a noop
            #expect(try await client.get("/engine.io/?EIO=4&transport=polling&sid=\(sid)").body == "6")
            ws.send("5")
            ws.send("4hello")
            #expect(await ws.nextText() == "4hello")
            #expect(engine.connection(sid: sid)?.transport == .websocket)
            // polling requests for an upgraded sid are refused
            #expect(try await client.get("/engine.io/?EIO=4&transport=polling&sid=\(sid)").status == 400)
            // and so is a second WebSocket for the same sid: it is closed without a word (the close
            // itself is checked by the official suite; HummingbirdWSClient does not always report it)
            let second = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket&sid=\(sid)")
            second.send("4hijack")
            #expect(await second.next(timeout: .milliseconds(500)) == nil)
            #expect(engine.connection(sid: sid)?.transport == .websocket)
            ws.send("4still here")
            #expect(await ws.nextText() == "4still here")
        }
    }

    @Test func queuedPacketsFollowTheUpgrade() async throws {
        try await withLiveEngine { _, client in
            let port = try #require(client.port)
            let sid = try await client.pollingHandshake("/engine.io")
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket&sid=\(sid)")
            ws.send("2probe")
            #expect(await ws.next() == .text("3probe"))
            // sent over polling while probing; the echo waits for the new transport
            #expect(try await client.post("/engine.io/?EIO=4&transport=polling&sid=\(sid)", "4queued").status == 200)
            ws.send("5")
            #expect(await ws.nextText() == "4queued")
        }
    }

    @Test func stalledUpgradeTimesOut() async throws {
        var configuration = liveConfiguration(path: "/engine.io", pingInterval: .seconds(5))
        configuration.upgradeTimeout = .milliseconds(200)
        try await withLiveEngine(configuration) { engine, client in
            let port = try #require(client.port)
            let sid = try await client.pollingHandshake("/engine.io")
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket&sid=\(sid)")
            ws.send("2probe")
            #expect(await ws.next() == .text("3probe"))
            try await Task.sleep(for: .milliseconds(400))
            // polling carries on normally after the timeout
            #expect(try await client.post("/engine.io/?EIO=4&transport=polling&sid=\(sid)", "4after").status == 200)
            #expect(try await client.get("/engine.io/?EIO=4&transport=polling&sid=\(sid)").body == "4after")
            // a late upgrade packet is refused: the session stays on polling
            ws.send("5")
            try await Task.sleep(for: .milliseconds(100))
            #expect(engine.connection(sid: sid)?.transport == .polling)
        }
    }

    @Test func websocketWithUnknownSidIsRefused() async throws {
        try await withLiveEngine { _, client in
            let port = try #require(client.port)
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket&sid=unknown")
            #expect(await ws.waitForClose())
            let badVersion = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=3&transport=websocket")
            #expect(await badVersion.waitForClose())
        }
    }

    @Test func allowRequestGuardsWebSocket() async throws {
        var configuration = liveConfiguration(path: "/engine.io")
        configuration.allowRequest = { $0.query["token"] == "ok" }
        try await withLiveEngine(configuration) { engine, client in
            let port = try #require(client.port)
            let refused = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket")
            #expect(await refused.waitForClose())
            let allowed = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket&token=ok")
            #expect(await allowed.nextText()?.hasPrefix("0{") == true)
            #expect(engine.connectionCount == 1)
        }
    }

    @Test func oversizedWebSocketMessageCloses() async throws {
        try await withLiveEngine { engine, client in
            let port = try #require(client.port)
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/engine.io/?EIO=4&transport=websocket")
            _ = await ws.next()
            ws.send("4" + String(repeating: "x", count: 20_000))
            #expect(await ws.waitForClose())
            try await Task.sleep(for: .milliseconds(100))
            #expect(engine.connectionCount == 0)
        }
    }
}
