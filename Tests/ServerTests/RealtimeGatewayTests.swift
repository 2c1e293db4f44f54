import Accounts
import Foundation
import Hummingbird
import HummingbirdTesting
import Relay
import Testing
import TestSupport
@testable import Server

/// The realtime bridge (ChatGateway, RelayChatEvents, PresenceTracker) through
/// `buildApplication`, with real WebSocket clients speaking Socket.IO to the live server:
/// the whole path of a chat message, as docs/PROTOCOL.md describes it.
@Suite("Realtime chat gateway")
struct RealtimeGatewayTests {
    /// Builds the app (email verification off: posting is what is under test) and runs `body`
    /// with the live HTTP client and the server's port. `clock` replaces the app's time source
    /// (tokens, sessions, chat, the gateway); `grace` is the presence grace period.
    static func withChat(
        _ kind: DatabaseKind, clock: ManualClock? = nil, grace: Duration = .seconds(5),
        _ body: @escaping @Sendable (any TestClientProtocol, Int) async throws -> Void
    ) async throws {
        var configuration = try TestApp.configuration(kind)
        configuration.requireVerifiedEmail = false
        // HummingbirdWSClient sends `Origin: ws://127.0.0.1`; the app admits only listed origins.
        configuration.allowedOrigins = ["ws://127.0.0.1"]
        if let clock { configuration.clock = clock.clock }
        configuration.presenceGracePeriod = grace
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.live) { client in
            try await body(client, try #require(client.port))
        }
    }

    static func id(_ value: Int64) -> JSONValue { .number(Double(value)) }

    static func send(_ room: Int64, _ body: String, _ clientMsgID: String) -> JSONValue {
        ["roomId": id(room), "body": .string(body), "clientMsgId": .string(clientMsgID)]
    }

    /// `{ok:false, error:{code, message}}` with the given code and a non-empty message,
    /// nothing else (`fields` is checked by the caller when expected).
    static func expectFailure(_ ack: JSONValue, _ code: String, fields: Set<String>? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(ack.objectValue?.keys.map { $0 } ?? []) == ["ok", "error"], "\(ack)", sourceLocation: sourceLocation)
        #expect(ack["ok"] == false, sourceLocation: sourceLocation)
        let error = ack["error"]?.objectValue ?? [:]
        #expect(error["code"]?.stringValue == code, "\(ack)", sourceLocation: sourceLocation)
        #expect(error["message"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
        if let fields {
            #expect(Set(error.keys) == ["code", "message", "fields"], "\(ack)", sourceLocation: sourceLocation)
            #expect(Set(error["fields"]?.objectValue?.keys.map { $0 } ?? []) == fields, "\(ack)", sourceLocation: sourceLocation)
        } else {
            #expect(Set(error.keys) == ["code", "message"], "\(ack)", sourceLocation: sourceLocation)
        }
    }

    static func refusal(_ code: String, _ message: String) -> String {
        #"44{"data":{"code":"\#(code)","message":"\#(message)"},"message":"\#(code)"}"#
    }

    static func auth(_ token: String) -> String { JSONValue.object(["token": .string(token)]).jsonString }

    @Test("a refused CONNECT carries CONNECT_ERROR {message: code, data: {code, message}}", arguments: TestApp.databaseKinds)
    func refusals(kind: DatabaseKind) async throws {
        let clock = ManualClock()
        try await Self.withChat(kind, clock: clock) { client, port in
            #expect(try await ChatSocket.connectAnswer(port: port, auth: "") == Self.refusal(
                "invalid_token", "An access token is required: connect with auth {token}."
            ))
            #expect(try await ChatSocket.connectAnswer(port: port, auth: Self.auth("not-a-jwt")) == Self.refusal(
                "invalid_token", "The access token is not valid."
            ))

            let ann = try await ChatREST.user(client, "ann")
            let ended = try await ChatREST.login(client, "ann")
            #expect(try await client.execute(uri: "/api/auth/logout", method: .post, headers: SessionRevocationHTTPTests.bearer(ended.token)).status == .noContent)
            #expect(try await ChatSocket.connectAnswer(port: port, auth: Self.auth(ended.token)) == Self.refusal(
                "session_revoked", "This session has ended; log in again."
            ))

            // A live token connects; the same token one second past its 900 s lifetime is refused.
            let live = try await ChatSocket.connect(port: port, token: ann.token)
            live.close()
            clock.advance(901)
            #expect(try await ChatSocket.connectAnswer(port: port, auth: Self.auth(ann.token)) == Self.refusal(
                "token_expired", "The access token has expired; refresh it and reconnect."
            ))
        }
    }

    @Test("message:send acks {ok, message, duplicate} and the room gets the same message as message:new", arguments: TestApp.databaseKinds)
    func sendAckAndDelta(kind: DatabaseKind) async throws {
        try await Self.withChat(kind) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let a = try await ChatSocket.connect(port: port, token: ann.token)
            let b = try await ChatSocket.connect(port: port, token: bob.token)
            defer { a.close(); b.close() }

            let ack = try await a.call("message:send", Self.send(room, "  hello bob ", "a-1"))
            #expect(Set(ack.objectValue?.keys.map { $0 } ?? []) == ["ok", "message", "duplicate"])
            #expect(ack["ok"] == true && ack["duplicate"] == false)
            let message = try #require(ack["message"])
            #expect(Set(message.objectValue?.keys.map { $0 } ?? []) == ["id", "roomId", "authorId", "body", "createdAt", "clientMsgId", "author"])
            #expect(message["roomId"] == Self.id(room) && message["authorId"] == Self.id(ann.id))
            #expect(message["body"] == "hello bob" && message["clientMsgId"] == "a-1")
            #expect(message["author"]?["id"] == Self.id(ann.id) && message["author"]?["username"] == "ann")
            #expect(message["id"]?.intValue != nil && message["createdAt"]?.stringValue?.hasSuffix("Z") == true)

            // The other member and the sender's own socket get the stored message, byte for byte.
            #expect(try await b.waitFor("message:new") == message)
            #expect(try await a.waitFor("message:new") == message)

            let reply = try await b.call("message:send", ["roomId": Self.id(room), "body": "hi ann", "clientMsgId": "b-1", "replyTo": message["id"]!])
            #expect(reply["ok"] == true && reply["message"]?["replyTo"] == message["id"])
            #expect(try await a.waitFor("message:new") == reply["message"])
        }
    }

    @Test("a repeated clientMsgId acks duplicate:true with the stored message and is not broadcast", arguments: TestApp.databaseKinds)
    func duplicateIsNotBroadcast(kind: DatabaseKind) async throws {
        try await Self.withChat(kind) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let a = try await ChatSocket.connect(port: port, token: ann.token)
            let b = try await ChatSocket.connect(port: port, token: bob.token)
            defer { a.close(); b.close() }

            let first = try await a.call("message:send", Self.send(room, "once", "retry-1"))
            #expect(first["duplicate"] == false)
            #expect(try await b.waitFor("message:new") == first["message"])

            let again = try await a.call("message:send", Self.send(room, "once", "retry-1"))
            #expect(again == .object(["ok": true, "message": first["message"]!, "duplicate": true]))

            // The next message bob sees is the one after the retry: the retry was never sent.
            let next = try await a.call("message:send", Self.send(room, "twice", "retry-2"))
            let seen = try await b.events(through: "message:new")
            #expect(seen.filter { $0.name == "message:new" }.map(\.payload) == [next["message"]!])

            let history = try await client.execute(uri: "/api/rooms/\(room)/messages", method: .get, headers: SessionRevocationHTTPTests.bearer(ann.token))
            #expect((history.json["messages"] as? [[String: Any]])?.map { $0["body"] as? String } == ["once", "twice"])
        }
    }

    @Test("a muted member's typing: true is refused with muted and retryAfter; a stop passes", arguments: TestApp.databaseKinds)
    func mutedTyping(kind: DatabaseKind) async throws {
        try await Self.withChat(kind) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let b = try await ChatSocket.connect(port: port, token: bob.token)
            defer { b.close() }
            #expect(try await b.call("typing", ["roomId": Self.id(room), "typing": true])["ok"] == true)
            let muted = try await client.execute(
                uri: "/api/rooms/\(room)/mutes", method: .post, headers: SessionRevocationHTTPTests.bearer(ann.token),
                body: .json(["userId": bob.id, "durationSeconds": 600])
            )
            #expect(muted.status.code < 300, "\(muted.status)")
            let refused = try await b.call("typing", ["roomId": Self.id(room), "typing": true])
            #expect(refused["ok"] == false && refused["error"]?.objectValue?["code"]?.stringValue == "muted", "\(refused)")
            #expect(refused["error"]?.objectValue?["retryAfter"] == .number(600), "\(refused)")
            #expect(try await b.call("typing", ["roomId": Self.id(room), "typing": false])["ok"] == true)
        }
    }

    @Test("failures ack {ok:false, error:{code, message, fields?}}", arguments: TestApp.databaseKinds)
    func errorAcks(kind: DatabaseKind) async throws {
        try await Self.withChat(kind) { client, port in
            let ann = try await ChatREST.user(client, "ann")
            let eve = try await ChatREST.user(client, "eve")
            let room = try await ChatREST.room(client, ann.token, kind: "private")
            let a = try await ChatSocket.connect(port: port, token: ann.token)
            let e = try await ChatSocket.connect(port: port, token: eve.token)
            defer { a.close(); e.close() }

            Self.expectFailure(try await e.call("message:send", Self.send(room, "let me in", "e-1")), "not_a_member")
            Self.expectFailure(try await e.call("typing", ["roomId": Self.id(room), "typing": true]), "not_a_member")
            Self.expectFailure(try await e.call("room:read", ["roomId": Self.id(room), "messageId": 1]), "not_a_member")
            Self.expectFailure(try await a.call("message:send", Self.send(room + 1000, "nowhere", "a-0")), "room_not_found")

            let malformed = JSONValue.object(["ok": false, "error": ["code": "invalid_payload", "message": "The event payload is missing or malformed."]])
            #expect(try await a.call("message:send", ["nonsense": true]) == malformed)
            #expect(try await a.call("message:send", .null) == malformed)
            #expect(try await a.call("room:read", ["roomId": "one"]) == malformed)
            #expect(try await a.call("auth:refresh", [:]) == .object(["ok": false, "error": ["code": "invalid_payload", "message": "Send {token}."]]))

            Self.expectFailure(try await a.call("message:send", Self.send(room, " \n ", "a-1")), "validation_failed", fields: ["body"])
            Self.expectFailure(
                try await a.call("message:send", Self.send(room, "ok", String(repeating: "x", count: 65))), "validation_failed", fields: ["clientMsgId"]
            )
            Self.expectFailure(
                try await a.call("message:send", ["roomId": Self.id(room), "body": "re", "clientMsgId": "a-2", "replyTo": 999_999]),
                "validation_failed", fields: ["replyTo"]
            )
            // Nothing of that was stored.
            let history = try await client.execute(uri: "/api/rooms/\(room)/messages", method: .get, headers: SessionRevocationHTTPTests.bearer(ann.token))
            #expect((history.json["messages"] as? [[String: Any]])?.isEmpty == true)
        }
    }

    @Test("room:read acks {ok, read} and every socket of the reader gets read; a joiner's sockets are subscribed before room:member", arguments: TestApp.databaseKinds)
    func readAndMembership(kind: DatabaseKind) async throws {
        try await Self.withChat(kind) { client, port in
            let ann = try await ChatREST.user(client, "ann")
            let bob = try await ChatREST.user(client, "bob")
            let room = try await ChatREST.room(client, ann.token)
            let a = try await ChatSocket.connect(port: port, token: ann.token)
            let b1 = try await ChatSocket.connect(port: port, token: bob.token)
            let b2 = try await ChatSocket.connect(port: port, token: bob.token)
            defer { a.close(); b1.close(); b2.close() }

            // Bob joins over REST while connected: his sockets are in the room before the event.
            try await ChatREST.join(client, bob.token, room: room)
            let joined = try await b2.waitFor("room:member")
            #expect(joined["roomId"] == Self.id(room) && joined["change"] == "joined" && joined["role"] == "member")
            #expect(joined["user"] == .object(["id": Self.id(bob.id), "username": "bob", "displayName": joined["user"]?["displayName"] ?? .null]))
            #expect(try await a.waitFor("room:member") == joined)

            let sent = try await a.call("message:send", Self.send(room, "read me", "a-1"))
            let message = try #require(sent["message"])
            #expect(try await b1.waitFor("message:new") == message)
            #expect(try await b2.waitFor("message:new") == message)

            let ack = try await b1.call("room:read", ["roomId": Self.id(room), "messageId": message["id"]!])
            #expect(Set(ack.objectValue?.keys.map { $0 } ?? []) == ["ok", "read"] && ack["ok"] == true)
            let read = try #require(ack["read"])
            #expect(Set(read.objectValue?.keys.map { $0 } ?? []) == ["roomId", "lastReadMessageId", "lastReadAt", "unreadCount", "mentionCount"])
            #expect(read["roomId"] == Self.id(room) && read["lastReadMessageId"] == message["id"] && read["unreadCount"] == 0)
            // The other tab clears its badge from the same delta; the writer gets none.
            #expect(try await b2.waitFor("read") == read)

            // Leaving: the room hears it, the leaver's sockets too (sent before they are unsubscribed).
            let left = try await client.execute(uri: "/api/rooms/\(room)/leave", method: .post, headers: SessionRevocationHTTPTests.bearer(bob.token))
            #expect(left.status == .noContent)
            let gone = try await b2.waitFor("room:member", where: { $0["change"] == "left" })
            #expect(gone["user"]?["id"] == Self.id(bob.id))
            #expect(try await a.waitFor("room:member", where: { $0["change"] == "left" }) == gone)
            // After that the room's messages no longer reach him: by the time a message in a room
            // of his own arrives, none from the room he left has.
            let after = try await a.call("message:send", Self.send(room, "not for bob", "a-2"))
            #expect(after["ok"] == true)
            let own = try await ChatREST.room(client, bob.token)
            let mine = try await b1.call("message:send", Self.send(own, "note to self", "b-1"))
            let seen = try await b2.events(through: "message:new", where: { $0 == mine["message"] })
            #expect(!seen.contains { $0.name == "message:new" && $0.payload["roomId"] == Self.id(room) })
        }
    }

    @Test("inside the refresh window an event brings a pushed auth:token; past expiry events are refused until auth:refresh", arguments: TestApp.databaseKinds)
    func pushedFreshToken(kind: DatabaseKind) async throws {
        let clock = ManualClock()
        try await Self.withChat(kind, clock: clock) { client, port in
            let ann = try await ChatREST.user(client, "ann")
            let room = try await ChatREST.room(client, ann.token)
            let a = try await ChatSocket.connect(port: port, token: ann.token)
            defer { a.close() }

            // 900 s tokens: the refresh window is the last 300 s. Outside it, no push.
            #expect(try await a.call("message:send", Self.send(room, "early", "t-1"))["ok"] == true)
            #expect(!a.pending.contains { $0.name == "auth:token" })

            // 601 s later 299 s are left: the push comes before the ack, for the same session.
            clock.advance(601)
            #expect(try await a.call("message:send", Self.send(room, "late", "t-2"))["ok"] == true)
            let pushed = try #require(a.pending.first { $0.name == "auth:token" }?.payload)
            #expect(Set(pushed.objectValue?.keys.map { $0 } ?? []) == ["accessToken", "expiresAt"])
            #expect(pushed["expiresAt"]?.stringValue == WireTime.string(clock.now.addingTimeInterval(900)))
            let fresh = try #require(pushed["accessToken"]?.stringValue)
            #expect(fresh != ann.token)
            let me = try await client.execute(uri: "/api/me", method: .get, headers: SessionRevocationHTTPTests.bearer(fresh))
            #expect(me.status == .ok && me.json["username"] as? String == "ann")
            // The socket now acts with the fresh token: the old token's expiry passes unnoticed.
            let before = a.pending.filter { $0.name == "auth:token" }.count
            clock.advance(300)
            #expect(try await a.call("message:send", Self.send(room, "later", "t-3"))["ok"] == true)
            #expect(a.pending.filter { $0.name == "auth:token" }.count == before)

            // Past the fresh token's expiry every event is refused with token_expired.
            clock.advance(601)
            let refused = try await a.call("message:send", Self.send(room, "too late", "t-4"))
            #expect(refused == .object(["ok": false, "error": [
                "code": "token_expired", "message": "The access token has expired; send auth:refresh with a new one.",
            ]]))
            #expect(try await a.call("auth:refresh", ["token": .string(fresh)]) == .object(["ok": false, "error": [
                "code": "token_expired", "message": "That token has expired too.",
            ]]))
            // A new token of the same user (a new session here) brings the socket back.
            let renewed = try await ChatREST.login(client, "ann")
            #expect(try await a.call("auth:refresh", ["token": .string(renewed.token)])
                == .object(["ok": true, "expiresAt": .string(WireTime.string(clock.now.addingTimeInterval(900)))]))
            #expect(try await a.call("message:send", Self.send(room, "back", "t-4"))["ok"] == true)
        }
    }

    @Test("presence: online at the first connection, offline with lastSeenAt after the last one and the grace period", arguments: TestApp.databaseKinds)
    func presenceOnlineOffline(kind: DatabaseKind) async throws {
        try await Self.withChat(kind, grace: .milliseconds(200)) { client, port in
            let (ann, bob, _) = try await ChatREST.roomOfTwo(client)
            let a = try await ChatSocket.connect(port: port, token: ann.token)
            defer { a.close() }
            let isBob: (JSONValue) -> Bool = { $0["userId"] == Self.id(bob.id) }

            let b1 = try await ChatSocket.connect(port: port, token: bob.token)
            #expect(try await a.waitFor("presence", where: isBob) == .object(["online": true, "userId": Self.id(bob.id)]))
            // A second tab is not news.
            let b2 = try await ChatSocket.connect(port: port, token: bob.token)
            b1.close()
            b2.close()
            let seen = try await a.events(through: "presence", where: isBob)
            let offline = try #require(seen.last?.payload)
            #expect(offline["online"] == false && offline["userId"] == Self.id(bob.id))
            #expect(Set(offline.objectValue?.keys.map { $0 } ?? []) == ["online", "userId", "lastSeenAt"])
            #expect(offline["lastSeenAt"]?.stringValue?.hasSuffix("Z") == true)
            #expect(seen.dropLast().allSatisfy { !($0.name == "presence" && isBob($0.payload)) })
        }
    }

    @Test("presence: a reconnect inside the grace period announces nothing (no offline, no second online)", arguments: TestApp.databaseKinds)
    func reconnectInsideGrace(kind: DatabaseKind) async throws {
        let grace = Duration.seconds(2)
        try await Self.withChat(kind, grace: grace) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let a = try await ChatSocket.connect(port: port, token: ann.token)
            defer { a.close() }
            let isBob: (JSONValue) -> Bool = { $0["userId"] == Self.id(bob.id) }

            let b1 = try await ChatSocket.connect(port: port, token: bob.token)
            _ = try await a.waitFor("presence", where: isBob)
            // A page reload: the connection goes, a new one comes well inside the grace.
            b1.close()
            let b2 = try await ChatSocket.connect(port: port, token: bob.token)
            defer { b2.close() }
            // Let the grace period of the first connection run out, then mark the stream.
            try await Task.sleep(for: grace + .seconds(1))
            let marker = try await b2.call("message:send", Self.send(room, "still here", "b-1"))
            let seen = try await a.events(through: "message:new", where: { $0 == marker["message"] })
            let presence = seen.filter { $0.name == "presence" && isBob($0.payload) }.map(\.payload)
            // bob never went offline, so nobody is told anything about him
            #expect(presence.isEmpty, "\(presence)")
        }
    }

    @Test("logout disconnects that session's sockets at once; the user's other sessions stay", arguments: TestApp.databaseKinds)
    func revocationDisconnects(kind: DatabaseKind) async throws {
        try await Self.withChat(kind) { client, port in
            let ann = try await ChatREST.user(client, "ann")
            let other = try await ChatREST.login(client, "ann")
            let room = try await ChatREST.room(client, ann.token)
            let doomed1 = try await ChatSocket.connect(port: port, token: ann.token)
            let doomed2 = try await ChatSocket.connect(port: port, token: ann.token)
            let survivor = try await ChatSocket.connect(port: port, token: other.token)
            defer { doomed1.close(); doomed2.close(); survivor.close() }

            let logout = try await client.execute(uri: "/api/auth/logout", method: .post, headers: SessionRevocationHTTPTests.bearer(ann.token))
            #expect(logout.status == .noContent)
            // The server's DISCONNECT arrives without any client traffic (no heartbeat is due for 25 s).
            #expect(await doomed1.waitForServerDisconnect())
            #expect(await doomed2.waitForServerDisconnect())
            #expect(try await survivor.call("message:send", Self.send(room, "still in", "s-1"))["ok"] == true)
        }
    }

    /// Issue 11 item 13 on the socket path: a database overloaded past its wait (a SQLite write
    /// locked out past busy_timeout, 5 s) acks `server_busy` as REST answers 503, not `internal_error`.
    @Test("an overloaded database acks server_busy")
    func overloadAcksServerBusy() async throws {
        var configuration = try TestApp.configuration(.sqlite)
        configuration.requireVerifiedEmail = false
        configuration.allowedOrigins = ["ws://127.0.0.1"]
        guard case .sqlite(let path) = configuration.database else { throw TestSetupFailure("not sqlite") }
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let ann = try await ChatREST.user(client, "ann")
            let room = try await ChatREST.room(client, ann.token)
            let socket = try await ChatSocket.connect(port: port, token: ann.token)
            defer { socket.close() }
            let ack = try await withSQLiteWriteLockHeld(path: path, logger: TestApp.logger) {
                try await socket.call("message:send", Self.send(room, "busy", "busy-1"), timeout: .seconds(30))
            }
            Self.expectFailure(ack, "server_busy")
            // nothing was half-written: the retry with the same clientMsgId stores it once
            let retry = try await socket.call("message:send", Self.send(room, "busy", "busy-1"))
            #expect(retry["ok"] == true && retry["duplicate"] == false, "\(retry)")
        }
    }
}
