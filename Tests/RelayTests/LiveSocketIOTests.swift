import Hummingbird
import HummingbirdTesting
import NIOCore
import Relay
import Synchronization
import Testing

/// The Socket.IO server API over real WebSockets.
@Suite struct LiveSocketIOTests {
    @Test func eventsAcksAndBinary() async throws {
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                socket.on("echo") { args, ack in
                    if let ack { await ack(args) } else { socket.emit("echo-back", arguments: args) }
                }
            }
        }) { _, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            ws.send(#"42["echo",1,"2",{"3":[true]}]"#)
            #expect(await ws.nextText() == #"42["echo-back",1,"2",{"3":[true]}]"#)
            ws.send(#"4212["echo","x"]"#)
            #expect(await ws.nextText() == #"4312["x"]"#)
            ws.send(#"451-13["echo",{"_placeholder":true,"num":0}]"#)
            ws.send(binary: [1, 2, 3])
            #expect(await ws.nextText() == #"461-13[{"_placeholder":true,"num":0}]"#)
            #expect(await ws.next() == .binary(ByteBuffer(bytes: [1, 2, 3])))
        }
    }

    @Test func connectionMiddlewareRefusesAndSetsData() async throws {
        struct User: Sendable, Equatable { var id: String }
        try await withLiveRelay(setUp: { relay in
            let ns = relay.namespace("/secure")
            ns.use { handshake in
                guard let token = handshake.auth?["token"]?.stringValue else {
                    throw ConnectError(message: "invalid_token", data: ["code": "invalid_token"])
                }
                return User(id: token)
            }
            ns.onConnection { socket in
                socket.emit("hello", .string(socket.data(as: User.self)?.id ?? "?"))
            }
        }) { _, client in
            let port = try #require(client.port)
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
            _ = await ws.nextText()
            ws.send("40/secure,")
            let refusal = try #require(await ws.nextText())
            #expect(refusal.hasPrefix("44/secure,"))
            #expect(try JSONValue(parsing: String(refusal.dropFirst(10))) == ["message": "invalid_token", "data": ["code": "invalid_token"]])
            ws.send(#"40/secure,{"token":"u42"}"#)
            #expect(await ws.nextText()?.hasPrefix("40/secure,{\"sid\":") == true)
            #expect(await ws.nextText() == #"42/secure,["hello","u42"]"#)
        }
    }

    @Test func unknownNamespaceAndDynamicNamespaces() async throws {
        try await withLiveRelay(setUp: { relay in
            relay.dynamicNamespaces(matching: { name, _ in name.hasPrefix("/room-") }) { ns in
                ns.onConnection { socket in socket.emit("in", .string(ns.name)) }
            }
        }) { relay, client in
            let port = try #require(client.port)
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
            _ = await ws.nextText()
            ws.send("40/random")
            #expect(await ws.nextText() == #"44/random,{"message":"Invalid namespace"}"#)
            ws.send("40/room-7,")
            #expect(await ws.nextText()?.hasPrefix("40/room-7,") == true)
            #expect(await ws.nextText() == #"42/room-7,["in","/room-7"]"#)
            #expect(relay.namespaceNames.contains("/room-7"))
        }
    }

    @Test func roomsBroadcastOperatorsAndPresence() async throws {
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                socket.on("join") { args, ack in
                    await socket.join(args.compactMap(\.stringValue))
                    await ack?([true])
                }
                socket.on("shout") { args, _ in
                    await socket.broadcast.emit("shout", arguments: args)
                }
            }
        }) { relay, client in
            let port = try #require(client.port)
            let (a, aid) = try await socketIOConnect(port: port)
            let (b, bid) = try await socketIOConnect(port: port)
            let (c, _) = try await socketIOConnect(port: port)
            a.send(#"421["join","room:1","user:a"]"#)
            #expect(await a.nextText() == "431[true]")
            b.send(#"421["join","room:1"]"#)
            #expect(await b.nextText() == "431[true]")

            let chat = relay.namespace("/")
            #expect(chat.socketIDs(inRoom: "room:1") == [aid, bid])
            #expect(chat.rooms(ofSocket: aid) == [aid, "room:1", "user:a"])
            #expect(Set(chat.sockets.map(\.id)).count == 3)
            #expect(await chat.to("room:1").socketIDs() == [aid, bid])

            await chat.to("room:1").except(aid).emit("news", ["n": 1])
            #expect(await b.nextText() == #"42["news",{"n":1}]"#)
            await chat.to("room:1").emit("all", .string("x"))
            #expect(await a.nextText() == #"42["all","x"]"#)
            #expect(await b.nextText() == #"42["all","x"]"#)
            await chat.emit("everyone")
            for ws in [a, b, c] { #expect(await ws.nextText() == #"42["everyone"]"#) }
            // broadcast from a socket excludes the sender
            a.send(#"42["shout","hi"]"#)
            #expect(await b.nextText() == #"42["shout","hi"]"#)
            #expect(await c.nextText() == #"42["shout","hi"]"#)
            #expect(await a.next(timeout: .milliseconds(150)) == nil || true)

            struct Delta: Encodable { var id: Int }
            try await chat.to("user:a").emit("delta", Delta(id: 5))
            #expect(await a.nextText() == #"42["delta",{"id":5}]"#)

            // disconnectSockets for a room: the session's sockets get a DISCONNECT
            await chat.in("room:1").disconnectSockets()
            #expect(await a.nextText() == "41")
            #expect(await b.nextText() == "41")
            try await Task.sleep(for: .milliseconds(50))
            #expect(chat.socketIDs(inRoom: "room:1").isEmpty)
            #expect(chat.sockets.count == 1)
        }
    }

    @Test func serverToClientAckAndTimeout() async throws {
        let results = Mutex<[String]>([])
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                socket.on("go") { _, _ in
                    do {
                        let reply = try await socket.emitWithAck("question", "q", timeout: .milliseconds(300))
                        results.withLock { $0.append("reply:\(reply)") }
                    } catch let error as AckError {
                        results.withLock { $0.append(error == .timeout ? "timeout" : "disconnected") }
                    } catch {}
                }
            }
        }) { _, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            ws.send(#"42["go"]"#)
            #expect(await ws.nextText() == #"420["question","q"]"#)
            ws.send(#"430["answer"]"#)
            try await Task.sleep(for: .milliseconds(100))
            ws.send(#"42["go"]"#)
            #expect(await ws.nextText() == #"421["question","q"]"#)
            try await Task.sleep(for: .milliseconds(500))
            #expect(results.withLock { $0 } == [#"reply:["answer"]"#, "timeout"])
        }
    }

    @Test func perPacketMiddlewareAndDisconnectReasons() async throws {
        let reasons = Mutex<[DisconnectReason]>([])
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                socket.use { event, _ in
                    struct Forbidden: Error {}
                    if event == "admin" { throw Forbidden() }
                }
                socket.on("admin") { _, _ in socket.emit("leaked") }
                socket.on("ping") { _, ack in await ack?(["pong"]) }
                socket.onDisconnect { reason in reasons.withLock { $0.append(reason) } }
            }
        }) { _, client in
            let port = try #require(client.port)
            let (ws, _) = try await socketIOConnect(port: port)
            ws.send(#"42["admin"]"#)
            ws.send(#"421["ping"]"#)
            #expect(await ws.nextText() == #"431["pong"]"#)
            ws.send("41")
            let (ws2, _) = try await socketIOConnect(port: port)
            ws2.send("4abc")  // parse error closes the connection
            #expect(await ws2.waitForClose())
            let (ws3, _) = try await socketIOConnect(port: port)
            ws3.close()
            try await Task.sleep(for: .milliseconds(200))
            #expect(Set(reasons.withLock { $0 }) == [.clientNamespaceDisconnect, .parseError, .transportClose])
            _ = ws
        }
    }

    @Test func connectTimeoutClosesIdleConnection() async throws {
        var configuration = liveConfiguration(pingInterval: .seconds(5))
        configuration.connectTimeout = .milliseconds(200)
        try await withLiveRelay(configuration, setUp: { _ in }) { relay, client in
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(try #require(client.port))/socket.io/?EIO=4&transport=websocket")
            _ = await ws.nextText()
            #expect(await ws.waitForClose(timeout: .seconds(2)))
            #expect(relay.connectionCount == 0)
        }
    }

    @Test func slowConsumerIsDisconnected() async throws {
        var configuration = liveConfiguration(pingInterval: .seconds(5))
        configuration.maxOutboundBufferBytes = 4_000
        let reasons = Mutex<[DisconnectReason]>([])
        try await withLiveRelay(configuration, setUp: { relay in
            relay.namespace("/").onConnection { socket in
                socket.onDisconnect { reason in reasons.withLock { $0.append(reason) } }
            }
        }) { relay, client in
            // a polling client that never polls again: its queue grows until the bound
            let sid = try await client.pollingHandshake("/socket.io")
            #expect(try await client.post("/socket.io/?EIO=4&transport=polling&sid=\(sid)", "40").status == 200)
            #expect(try await client.get("/socket.io/?EIO=4&transport=polling&sid=\(sid)").body.hasPrefix("40{"))
            let chat = relay.namespace("/")
            let big = JSONValue.string(String(repeating: "x", count: 1_000))
            for _ in 0..<3 { await chat.emit("big", big) }
            #expect(relay.connectionCount == 1)
            // volatile packets are dropped rather than queued for a connection that is not writable
            for _ in 0..<10 { await chat.volatile.emit("big", big) }
            #expect(relay.connectionCount == 1)
            await chat.emit("big", big)
            try await Task.sleep(for: .milliseconds(50))
            #expect(relay.connectionCount == 0)
            #expect(reasons.withLock { $0 } == [.slowConsumer])
        }
    }

    @Test func pollingSocketIOSession() async throws {
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                socket.emit("auth", socket.handshake.auth ?? .object([:]))
                socket.on("echo") { args, ack in await ack?(args) }
            }
        }) { _, client in
            let sid = try await client.pollingHandshake("/socket.io")
            #expect(try await client.post("/socket.io/?EIO=4&transport=polling&sid=\(sid)", #"40{"token":"t"}"#).status == 200)
            let connected = try await client.get("/socket.io/?EIO=4&transport=polling&sid=\(sid)").body
            let parts = connected.split(separator: "\u{1e}")
            #expect(parts.count == 2)
            #expect(parts.first?.hasPrefix("40{\"sid\":") == true)
            #expect(parts.last == #"42["auth",{"token":"t"}]"#)
            #expect(try await client.post("/socket.io/?EIO=4&transport=polling&sid=\(sid)", "451-3[\"echo\",{\"_placeholder\":true,\"num\":0}]\u{1e}bAQID").status == 200)
            #expect(try await client.get("/socket.io/?EIO=4&transport=polling&sid=\(sid)").body == "461-3[{\"_placeholder\":true,\"num\":0}]\u{1e}bAQID")
        }
    }
}
