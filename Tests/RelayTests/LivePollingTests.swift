import Hummingbird
import HummingbirdTesting
import Relay
import Testing

/// HTTP long-polling over real sockets.
@Suite struct LivePollingTests {
    @Test func handshakeEchoAndBinary() async throws {
        try await withLiveEngine { _, client in
            let result = try await client.get("/engine.io/?EIO=4&transport=polling")
            #expect(result.status == 200)
            #expect(result.body.hasPrefix("0{"))
            let open = try JSONValue(parsing: String(result.body.dropFirst()))
            #expect(open["upgrades"] == ["websocket"])
            #expect(open["pingInterval"] == 200)
            #expect(open["pingTimeout"] == 200)
            #expect(open["maxPayload"] == 10_000)
            let sid = try #require(open["sid"]?.stringValue)

            let push = try await client.post("/engine.io/?EIO=4&transport=polling&sid=\(sid)", "4hello\u{1e}bAQIDBA==")
            #expect(push.status == 200)
            #expect(push.body == "ok")
            let poll = try await client.get("/engine.io/?EIO=4&transport=polling&sid=\(sid)")
            #expect(poll.body == "4hello\u{1e}bAQIDBA==")
        }
    }

    @Test func heldGetAnsweredByPing() async throws {
        try await withLiveEngine { _, client in
            let sid = try await client.pollingHandshake("/engine.io")
            for _ in 0..<2 {
                let poll = try await client.get("/engine.io/?EIO=4&transport=polling&sid=\(sid)")
                #expect(poll.status == 200)
                #expect(poll.body == "2")
                #expect(try await client.post("/engine.io/?EIO=4&transport=polling&sid=\(sid)", "3").status == 200)
            }
        }
    }

    @Test func pingTimeoutClosesSession() async throws {
        try await withLiveEngine { engine, client in
            let sid = try await client.pollingHandshake("/engine.io")
            try await Task.sleep(for: .milliseconds(600))
            #expect(engine.connection(sid: sid) == nil)
            let poll = try await client.get("/engine.io/?EIO=4&transport=polling&sid=\(sid)")
            #expect(poll.status == 400)
            #expect(poll.body == #"{"code":1,"message":"Session ID unknown"}"#)
        }
    }

    @Test func errorResponsesLikeNode() async throws {
        try await withLiveEngine { _, client in
            let unknownTransport = try await client.get("/engine.io/?EIO=4&transport=abc")
            #expect(unknownTransport.status == 400)
            #expect(unknownTransport.body == #"{"code":0,"message":"Transport unknown"}"#)
            #expect(unknownTransport.headers[.contentType] == "application/json")
            #expect(try await client.get("/engine.io/?EIO=4").body == #"{"code":0,"message":"Transport unknown"}"#)
            #expect(try await client.get("/engine.io/?EIO=4&transport=polling&sid=nope").body == #"{"code":1,"message":"Session ID unknown"}"#)
            let post = try await client.post("/engine.io/?EIO=4&transport=polling", "4x")
            #expect(post.status == 400)
            #expect(post.body == #"{"code":2,"message":"Bad handshake method"}"#)
            let put = try await client.execute(uri: "/engine.io/?EIO=4&transport=polling", method: .put) { $0.status.code }
            #expect(put == 400)
            #expect(try await client.get("/engine.io/?EIO=3&transport=polling").body == #"{"code":5,"message":"Unsupported protocol version"}"#)
            #expect(try await client.get("/engine.io/?transport=polling").status == 400)
            // websocket transport without an upgrade
            #expect(try await client.get("/engine.io/?EIO=4&transport=websocket").body == #"{"code":3,"message":"Bad request"}"#)
        }
    }

    @Test func invalidPayloadClosesSession() async throws {
        try await withLiveEngine { engine, client in
            let sid = try await client.pollingHandshake("/engine.io")
            let push = try await client.post("/engine.io/?EIO=4&transport=polling&sid=\(sid)", "abc")
            #expect(push.status == 400)
            #expect(engine.connection(sid: sid) == nil)
            #expect(try await client.get("/engine.io/?EIO=4&transport=polling&sid=\(sid)").status == 400)
        }
    }

    @Test func oversizedPostIsRefusedAndClosesSession() async throws {
        try await withLiveEngine { engine, client in
            let sid = try await client.pollingHandshake("/engine.io")
            let push = try await client.post("/engine.io/?EIO=4&transport=polling&sid=\(sid)", "4" + String(repeating: "x", count: 20_000))
            #expect(push.status == 413)
            #expect(engine.connection(sid: sid) == nil)
            #expect(engine.connectionCount == 0)
        }
    }

    @Test func clientCloseEndsSession() async throws {
        try await withLiveEngine { engine, client in
            let sid = try await client.pollingHandshake("/engine.io")
            #expect(try await client.post("/engine.io/?EIO=4&transport=polling&sid=\(sid)", "1").status == 200)
            #expect(engine.connection(sid: sid) == nil)
        }
    }

    @Test func corsAndAllowRequest() async throws {
        var configuration = liveConfiguration(path: "/engine.io")
        configuration.cors = CORSOptions(allowOrigin: .list(["https://chat.example"]), allowCredentials: true)
        configuration.allowRequest = { request in request.headers[.origin] != "https://evil.example" }
        try await withLiveEngine(configuration) { _, client in
            let ok = try await client.get("/engine.io/?EIO=4&transport=polling", headers: [.origin: "https://chat.example"])
            #expect(ok.status == 200)
            #expect(ok.headers[.accessControlAllowOrigin] == "https://chat.example")
            #expect(ok.headers[.accessControlAllowCredentials] == "true")
            let other = try await client.get("/engine.io/?EIO=4&transport=polling", headers: [.origin: "https://other.example"])
            #expect(other.headers[.accessControlAllowOrigin] == nil)
            let refused = try await client.get("/engine.io/?EIO=4&transport=polling", headers: [.origin: "https://evil.example"])
            #expect(refused.status == 403)
            #expect(refused.body == #"{"code":4,"message":"Forbidden"}"#)
            let preflight = try await client.execute(
                uri: "/engine.io/?EIO=4&transport=polling",
                method: .options,
                headers: [.origin: "https://chat.example", .accessControlRequestHeaders: "content-type"]
            ) { $0 }
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowMethods] == "GET,POST")
            #expect(preflight.headers[.accessControlAllowHeaders] == "content-type")
        }
    }
}
