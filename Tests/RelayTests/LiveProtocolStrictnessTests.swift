import Hummingbird
import HummingbirdTesting
import NIOCore
import Relay
import Testing

/// What Node's socket.io server refuses or tells apart, Relay refuses and tells apart too
/// (issue 11, items 4, 6 and 7).
@Suite struct LiveProtocolStrictnessTests {
    /// Ack ids of 16 digits and more (up to 2^53 − 1) are answered with the same id.
    @Test func longAckIDsAreAnswered() async throws {
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                socket.on("echo") { args, ack in await ack?(args) }
            }
        }) { _, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            ws.send(#"421234567890123456["echo","x"]"#)
            #expect(await ws.nextText() == #"431234567890123456["x"]"#)
            ws.send(#"429007199254740991["echo","y"]"#)
            #expect(await ws.nextText() == #"439007199254740991["y"]"#)
        }
    }

    /// A second CONNECT for a namespace already connected closes the connection (Node's
    /// `Client.ondecoded`: "invalid state").
    @Test func secondConnectClosesTheConnection() async throws {
        try await withLiveRelay(setUp: { relay in relay.namespace("/").onConnection { _ in } }) { relay, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            ws.send("40")
            #expect(await ws.waitForClose(timeout: .seconds(3)))
            try await Task.sleep(for: .milliseconds(50))
            #expect(relay.connectionCount == 0)
        }
    }

    /// So does any packet for a namespace the client has not joined, and a CONNECT_ERROR sent by
    /// the client (the other branches of the same rule).
    @Test(arguments: [#"42/other,["x"]"#, "41/other,", #"43/other,1[]"#, #"44{"message":"x"}"#])
    func packetForNamespaceNotJoinedClosesTheConnection(packet: String) async throws {
        try await withLiveRelay(setUp: { relay in relay.namespace("/").onConnection { _ in } }) { _, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            ws.send(packet)
            #expect(await ws.waitForClose(timeout: .seconds(3)))
        }
    }

    /// Namespace names are matched by their bytes: `/\u{212A}itchen` (KELVIN SIGN) is not
    /// `/Kitchen`, though Swift's `==` says they are equal.
    @Test func namespaceNamesAreComparedByBytes() async throws {
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/Kitchen").onConnection { socket in socket.emit("in", .string(socket.namespace.name)) }
        }) { _, client in
            let port = try #require(client.port)
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
            _ = await ws.nextText()
            ws.send("40/\u{212A}itchen,")
            #expect(await ws.nextText() == "44/\u{212A}itchen,{\"message\":\"Invalid namespace\"}")
            ws.send("40/Kitchen,")
            #expect(await ws.nextText()?.hasPrefix("40/Kitchen,{\"sid\":") == true)
            #expect(await ws.nextText() == #"42/Kitchen,["in","/Kitchen"]"#)
        }
    }

    /// Event names are matched by their bytes: `e\u{301}` is not `\u{E9}`, `\u{212A}` is not `K`.
    @Test func eventNamesAreComparedByBytes() async throws {
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                socket.on("Kitchen") { _, ack in await ack?(["Kitchen"]) }
                socket.on("caf\u{E9}") { _, ack in await ack?(["precomposed"]) }
            }
        }) { _, client in
            let (ws, _) = try await socketIOConnect(port: try #require(client.port))
            ws.send("421[\"\u{212A}itchen\"]")
            ws.send("422[\"cafe\u{301}\"]")
            ws.send("423[\"Kitchen\"]")
            ws.send("424[\"caf\u{E9}\"]")
            #expect(await ws.nextText() == #"433["Kitchen"]"#)
            #expect(await ws.nextText() == #"434["precomposed"]"#)
        }
    }

    /// Room names are matched by their bytes, when joining and when broadcasting.
    @Test func roomNamesAreComparedByBytes() async throws {
        try await withLiveRelay(setUp: { relay in
            relay.namespace("/").onConnection { socket in
                await socket.join("Kitchen")
                socket.on("broadcast") { args, _ in
                    guard let room = args.first?.stringValue else { return }
                    await socket.namespace.to(room).emit("to", .string(room))
                }
            }
        }) { relay, client in
            let (ws, sid) = try await socketIOConnect(port: try #require(client.port))
            ws.send("42[\"broadcast\",\"\u{212A}itchen\"]")
            ws.send(#"42["broadcast","Kitchen"]"#)
            #expect(await ws.nextText() == #"42["to","Kitchen"]"#)
            let namespace = relay.namespace("/")
            #expect(namespace.socketIDs(inRoom: "\u{212A}itchen").isEmpty)
            #expect(namespace.socketIDs(inRoom: "Kitchen") == [sid])
        }
    }
}
