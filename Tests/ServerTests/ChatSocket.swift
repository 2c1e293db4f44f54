import Foundation
import HummingbirdTesting
import Relay
import Testing
import TestSupport

/// One Socket.IO client of the chat in the default namespace, over a real WebSocket:
/// emits with acks and keeps every server event it receives, in arrival order.
/// Used from one test task at a time.
final class ChatSocket {
    typealias Event = (name: String, payload: JSONValue)

    let ws: TestWebSocket
    private var queued: [Event] = []
    private var nextAckID = 0

    private init(_ ws: TestWebSocket) { self.ws = ws }

    /// Connects with `auth {token}`, waits for the CONNECT, then for the gateway's
    /// connection handler to finish (rooms joined, presence counted): the relay sends the
    /// CONNECT before that handler runs and holds events until it returns, so the ack of an
    /// `auth:refresh {}` (refused as `invalid_payload`, with no side effect) marks the end.
    static func connect(port: Int, token: String) async throws -> ChatSocket {
        let (ws, _) = try await socketIOConnect(port: port, auth: JSONValue.object(["token": .string(token)]).jsonString)
        let socket = ChatSocket(ws)
        let settled = try await socket.call("auth:refresh", [:])
        guard settled["error"]?["code"] == "invalid_payload" else { throw SocketIOTestError("unexpected ack \(settled)") }
        return socket
    }

    /// Sends a CONNECT with `auth` (a JSON text, `""` for none) and returns the server's
    /// answer as the exact text of the packet (`44{…}` when refused).
    static func connectAnswer(port: Int, auth: String) async throws -> String {
        let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
        defer { ws.close() }
        guard let open = await ws.nextText(), open.hasPrefix("0{") else { throw SocketIOTestError("no Engine.IO open packet") }
        ws.send("40" + auth)
        guard let answer = await ws.nextText() else { throw SocketIOTestError("no answer to CONNECT") }
        return answer
    }

    /// Emits `event` with an ack and returns the ack's first argument. Events that arrive
    /// before the ack are kept for ``next()`` / ``events(through:where:)``.
    func call(_ event: String, _ payload: JSONValue, timeout: Duration = .seconds(5)) async throws -> JSONValue {
        nextAckID += 1
        let id = nextAckID
        ws.send("42\(id)" + JSONValue.array([.string(event), payload]).jsonString)
        while true {
            guard let text = await ws.nextText(timeout: timeout) else { throw SocketIOTestError("no ack for \(event)") }
            if text.hasPrefix("43\(id)[") {
                let args = try JSONValue(parsing: String(text.dropFirst(2 + String(id).count)))
                return try #require(args.arrayValue?.first)
            }
            queued.append(try Self.event(text))
        }
    }

    /// The next server event, queued or from the wire.
    func next() async throws -> Event {
        if !queued.isEmpty { return queued.removeFirst() }
        guard let text = await ws.nextText() else { throw SocketIOTestError("no event arrived") }
        return try Self.event(text)
    }

    /// Every event up to and including the first `name` event whose payload matches;
    /// the match is the last element.
    func events(through name: String, where matches: (JSONValue) -> Bool = { _ in true }) async throws -> [Event] {
        var seen: [Event] = []
        while true {
            let event = try await next()
            seen.append(event)
            if event.name == name && matches(event.payload) { return seen }
        }
    }

    /// The payload of the first `name` event whose payload matches.
    func waitFor(_ name: String, where matches: (JSONValue) -> Bool = { _ in true }) async throws -> JSONValue {
        try await events(through: name, where: matches).last!.payload
    }

    /// Events received so far and not yet consumed (nothing is read from the wire).
    var pending: [Event] { queued }

    /// Waits for the server's DISCONNECT packet (`41`), skipping events; false if the
    /// connection closed or went quiet without one.
    func waitForServerDisconnect() async -> Bool {
        while let text = await ws.nextText() {
            if text == "41" { return true }
        }
        return false
    }

    func close() { ws.close() }

    /// Parses `42["name",payload]`.
    static func event(_ text: String) throws -> Event {
        guard text.hasPrefix("42["), let array = try JSONValue(parsing: String(text.dropFirst(2))).arrayValue,
              let name = array.first?.stringValue
        else { throw SocketIOTestError("expected an event packet, got \(text)") }
        return (name, array.count > 1 ? array[1] : .null)
    }
}

/// REST steps of the realtime tests, over the live test client.
enum ChatREST {
    static let password = "correct horse battery"

    /// Registers `name` and logs in: the access token and the user id.
    static func user(_ client: some TestClientProtocol, _ name: String) async throws -> (token: String, id: Int64) {
        try await SessionRevocationHTTPTests.register(client, name)
        return try await login(client, name)
    }

    /// A new session of `name`: its access token and the user id.
    static func login(_ client: some TestClientProtocol, _ name: String) async throws -> (token: String, id: Int64) {
        let response = try await client.execute(
            uri: "/api/auth/login", method: .post, headers: SessionRevocationHTTPTests.json,
            body: .json(["login": name, "password": password])
        )
        #expect(response.status == .ok)
        let token = try #require(response.json["accessToken"] as? String)
        let id = try #require((response.json["user"] as? [String: Any])?["id"] as? Int)
        return (token, Int64(id))
    }

    /// Creates a room owned by the token's user; returns its id.
    static func room(_ client: some TestClientProtocol, _ token: String, kind: String = "public") async throws -> Int64 {
        let response = try await client.execute(
            uri: "/api/rooms", method: .post, headers: SessionRevocationHTTPTests.bearer(token),
            body: .json(["name": "room-\(UUID().uuidString.prefix(6))", "kind": kind])
        )
        #expect(response.status == .created)
        return Int64(try #require(response.json["id"] as? Int))
    }

    /// Users "ann" and "bob" and a public room of ann's that bob has joined.
    static func roomOfTwo(_ client: some TestClientProtocol) async throws -> (ann: (token: String, id: Int64), bob: (token: String, id: Int64), room: Int64) {
        let ann = try await user(client, "ann")
        let bob = try await user(client, "bob")
        let room = try await room(client, ann.token)
        try await join(client, bob.token, room: room)
        return (ann, bob, room)
    }

    static func join(_ client: some TestClientProtocol, _ token: String, room: Int64) async throws {
        let response = try await client.execute(uri: "/api/rooms/\(room)/join", method: .post, headers: SessionRevocationHTTPTests.bearer(token))
        #expect(response.status == .ok)
    }
}
