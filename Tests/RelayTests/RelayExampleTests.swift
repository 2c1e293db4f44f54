import Hummingbird
import HummingbirdTesting
import Logging
import Relay
import Testing

/// The runnable example of docs/RELAY.md, built as written (only the port, and the Origin the
/// test's WebSocket client always sends, differ) and driven by a real WebSocket client.
@Suite struct RelayExampleTests {
    struct ChatMessage: Codable, Sendable { var room: String; var text: String }
    struct User: Sendable { var id: String }

    static func makeExample(logger: Logger) -> (Relay, Router<BasicRequestContext>) {
        let router = Router(context: BasicRequestContext.self)
        let relay = Relay(
            configuration: RelayConfiguration(
                path: "/socket.io",
                pingInterval: .seconds(25), pingTimeout: .seconds(20),
                maxPayload: 1_000_000, connectTimeout: .seconds(45),
                cors: CORSOptions(allowOrigin: .list(["https://chat.example"]), allowCredentials: true),
                allowedOrigins: ["https://chat.example", "ws://127.0.0.1"]
            ),
            logger: logger
        )
        relay.addRoutes(to: router)

        let chat = relay.namespace("/")
        chat.use { handshake in
            guard let token = handshake.auth?["token"]?.stringValue, token == "letmein" else {
                throw ConnectError(message: "invalid_token", data: ["code": "invalid_token"])
            }
            return User(id: "42")
        }
        chat.onConnection { socket in
            let user = socket.data(as: User.self)!
            await socket.join("user:\(user.id)")
            socket.use { event, args in
                if event == "admin:wipe" { throw ConnectError(message: "forbidden") }
            }
            socket.on("room:join") { args, ack in
                if let room = args.first?.stringValue { await socket.join("room:\(room)") }
                await ack?([true])
            }
            socket.on("message:send", as: ChatMessage.self) { message, ack in
                await ack?([["ok": true]])
                try await socket.to("room:\(message.room)").emit("message:new", message)
            }
            socket.onDisconnect { reason in logger.info("gone", metadata: ["reason": "\(reason.rawValue)"]) }
        }
        return (relay, router)
    }

    @Test func theDocumentedExampleWorks() async throws {
        let logger = Logger(label: "chat")
        let (relay, router) = Self.makeExample(logger: logger)
        let app = Application(
            router: router,
            server: .http1(relay: relay),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            services: [relay],
            logger: logger
        )
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let alice = TestWebSocket(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
            #expect(await alice.nextText()?.hasPrefix("0{") == true)
            alice.send(#"40{"token":"nope"}"#)
            #expect(try JSONValue(parsing: String(try #require(await alice.nextText()).dropFirst(2)))
                == ["message": "invalid_token", "data": ["code": "invalid_token"]])
            alice.send(#"40{"token":"letmein"}"#)
            #expect(await alice.nextText()?.hasPrefix(#"40{"sid":"#) == true)

            let (bob, _) = try await socketIOConnect(port: port, auth: #"{"token":"letmein"}"#)
            for ws in [alice, bob] {
                ws.send(#"421["room:join","lobby"]"#)
                #expect(await ws.nextText() == "431[true]")
            }
            alice.send(#"422["message:send",{"room":"lobby","text":"hi"}]"#)
            #expect(await alice.nextText() == #"432[{"ok":true}]"#)
            let delivered = try #require(await bob.nextText())
            #expect(delivered.hasPrefix("42"))
            #expect(try JSONValue(parsing: String(delivered.dropFirst(2))) == ["message:new", ["room": "lobby", "text": "hi"]])
            // per-packet middleware refuses this one: no answer, the socket stays connected
            alice.send(#"423["admin:wipe"]"#)
            alice.send(#"424["room:join","x"]"#)
            #expect(await alice.nextText() == "434[true]")
            relay.close()
        }
    }
}
