import Accounts
import Foundation
import Hummingbird
import HummingbirdTesting
import Relay
import Testing
import TestSupport
@testable import Server

/// Socket.IO connection state recovery through `buildApplication`, backed by the database
/// (``DatabaseSessionRecoveryStore`` over the event log), with real WebSocket clients speaking
/// the standard recovery wire: `pid` in the CONNECT reply, the offset as the last argument of
/// logged events, `pid` + `offset` in a reconnecting CONNECT's auth.
@Suite("Connection state recovery (database)")
struct RecoveryTests {
    /// A raw Socket.IO client that remembers its pid and the last offset it saw.
    final class Client {
        let ws: TestWebSocket
        let sid: String
        let pid: String?
        private(set) var lastOffset: String?
        private var queued: [(name: String, args: [JSONValue])] = []
        private var nextAckID = 0

        private init(ws: TestWebSocket, sid: String, pid: String?) {
            self.ws = ws
            self.sid = sid
            self.pid = pid
        }

        /// CONNECT with `auth` (token, and pid + offset to recover), then waits until the
        /// connection handler ran (the ack of an `auth:refresh {}`, refused as invalid_payload).
        static func connect(port: Int, token: String, pid: String? = nil, offset: String? = nil) async throws -> Client {
            var auth: [String: JSONValue] = ["token": .string(token)]
            if let pid { auth["pid"] = .string(pid) }
            if let offset { auth["offset"] = .string(offset) }
            let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
            guard let open = await ws.nextText(), open.hasPrefix("0{") else { throw SocketIOTestError("no Engine.IO open packet") }
            ws.send("40" + JSONValue.object(auth).jsonString)
            guard let reply = await ws.nextText(), reply.hasPrefix("40{") else { throw SocketIOTestError("no CONNECT reply") }
            let body = try JSONValue(parsing: String(reply.dropFirst(2)))
            let client = Client(ws: ws, sid: try #require(body["sid"]?.stringValue), pid: body["pid"]?.stringValue)
            client.lastOffset = offset
            let settled = try await client.call("auth:refresh", [:])
            guard settled["error"]?["code"] == "invalid_payload" else { throw SocketIOTestError("unexpected ack \(settled)") }
            return client
        }

        func call(_ event: String, _ payload: JSONValue) async throws -> JSONValue {
            nextAckID += 1
            let id = nextAckID
            ws.send("42\(id)" + JSONValue.array([.string(event), payload]).jsonString)
            while true {
                guard let text = await ws.nextText() else { throw SocketIOTestError("no ack for \(event)") }
                if text.hasPrefix("43\(id)[") {
                    return try #require(try JSONValue(parsing: String(text.dropFirst(2 + String(id).count))).arrayValue?.first)
                }
                try take(text)
            }
        }

        private func take(_ text: String) throws {
            guard text.hasPrefix("42[") else { return }
            let array = try #require(try JSONValue(parsing: String(text.dropFirst(2))).arrayValue)
            let args = Array(array.dropFirst())
            queued.append((try #require(array.first?.stringValue), args))
        }

        /// The next event (name, arguments with the offset), remembering a logged event's offset.
        func next() async throws -> (name: String, args: [JSONValue]) {
            if queued.isEmpty {
                guard let text = await ws.nextText() else { throw SocketIOTestError("no event arrived") }
                try take(text)
                return try await next()
            }
            let event = queued.removeFirst()
            if event.args.count >= 2, let offset = event.args.last?.stringValue { lastOffset = offset }
            return event
        }

        /// Every event up to and including the first `name` event whose first argument matches.
        func events(through name: String, where matches: (JSONValue) -> Bool = { _ in true }) async throws -> [(name: String, args: [JSONValue])] {
            var seen: [(name: String, args: [JSONValue])] = []
            while true {
                let event = try await next()
                seen.append(event)
                if event.name == name, matches(event.args.first ?? .null) { return seen }
            }
        }

        func close() { ws.close() }
    }

    static func withApp(
        _ configuration: AppConfiguration, _ body: @escaping @Sendable (any TestClientProtocol, Int) async throws -> Void
    ) async throws {
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.live) { client in try await body(client, try #require(client.port)) }
    }

    static func configuration(_ kind: DatabaseKind, clock: ManualClock? = nil) throws -> AppConfiguration {
        var configuration = try TestApp.configuration(kind)
        configuration.requireVerifiedEmail = false
        configuration.allowedOrigins = ["ws://127.0.0.1"]
        configuration.presenceGracePeriod = .milliseconds(100)
        if let clock { configuration.clock = clock.clock }
        return configuration
    }

    static func topic(_ client: some TestClientProtocol, _ token: String, room: Int64, _ topic: String) async throws {
        let response = try await client.execute(
            uri: "/api/rooms/\(room)", method: .patch, headers: SessionRevocationHTTPTests.bearer(token), body: .json(["topic": topic])
        )
        #expect(response.status == .ok)
    }

    /// The topics of the `room:updated` events among `events`, in order.
    static func topics(_ events: [(name: String, args: [JSONValue])]) -> [String] {
        events.filter { $0.name == "room:updated" }.compactMap { $0.args.first?["topic"]?.stringValue }
    }

    @Test("a dropped connection recovers: same sid and pid, the missed events once, in order, before new ones", arguments: TestApp.databaseKinds)
    func recoversMissedEvents(kind: DatabaseKind) async throws {
        try await Self.withApp(try Self.configuration(kind)) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let first = try await Client.connect(port: port, token: bob.token)
            let pid = try #require(first.pid)
            try await Self.topic(client, ann.token, room: room, "seen")
            let seen = try await first.events(through: "room:updated")
            #expect(Self.topics(seen) == ["seen"])
            let offset = try #require(first.lastOffset)
            first.close()

            for missed in ["missed 1", "missed 2", "missed 3"] { try await Self.topic(client, ann.token, room: room, missed) }

            let again = try await Client.connect(port: port, token: bob.token, pid: pid, offset: offset)
            defer { again.close() }
            #expect(again.sid == first.sid && again.pid == pid)
            try await Self.topic(client, ann.token, room: room, "live")
            let events = try await again.events(through: "room:updated") { $0["topic"] == "live" }
            #expect(Self.topics(events) == ["missed 1", "missed 2", "missed 3", "live"])
            // Offsets increase and each event came once.
            let offsets = events.filter { $0.name == "room:updated" }.compactMap { $0.args.last?.stringValue.flatMap(UInt64.init) }
            #expect(offsets.count == 4 && offsets == offsets.sorted() && Set(offsets).count == 4 && offsets[0] > UInt64(offset)!)
        }
    }

    @Test("missed messages are recovered once, in order, before a live one", arguments: TestApp.databaseKinds)
    func recoversMissedMessages(kind: DatabaseKind) async throws {
        try await Self.withApp(try Self.configuration(kind)) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            func post(_ body: String) async throws {
                let response = try await client.execute(
                    uri: "/api/rooms/\(room)/messages", method: .post, headers: SessionRevocationHTTPTests.bearer(ann.token), body: .json(["body": body])
                )
                #expect(response.status == .created || response.status == .ok)
            }
            let first = try await Client.connect(port: port, token: bob.token)
            try await post("seen")
            _ = try await first.events(through: "message:new")
            let pid = try #require(first.pid), offset = try #require(first.lastOffset)
            first.close()
            for i in 1...5 { try await post("missed \(i)") }

            let again = try await Client.connect(port: port, token: bob.token, pid: pid, offset: offset)
            defer { again.close() }
            #expect(again.sid == first.sid)
            try await post("live")
            let events = try await again.events(through: "message:new") { $0["body"] == "live" }
            let bodies = events.filter { $0.name == "message:new" }.compactMap { $0.args.first?["body"]?.stringValue }
            #expect(bodies == ["missed 1", "missed 2", "missed 3", "missed 4", "missed 5", "live"])
        }
    }

    @Test("a deleted or edited message's old body leaves the event log in the same change; a recovering session never gets it", arguments: TestApp.databaseKinds)
    func deleteAndEditRedactTheLog(kind: DatabaseKind) async throws {
        let configuration = try Self.configuration(kind)
        try await Self.withApp(configuration) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            func send(_ body: String) async throws -> Int64 {
                let response = try await client.execute(
                    uri: "/api/rooms/\(room)/messages", method: .post, headers: SessionRevocationHTTPTests.bearer(ann.token), body: .json(["body": body])
                )
                return Int64(try #require((response.json["message"] as? [String: Any])?["id"] as? Int))
            }
            let first = try await Client.connect(port: port, token: bob.token)
            _ = try await send("seen")
            _ = try await first.events(through: "message:new")
            let pid = try #require(first.pid), offset = try #require(first.lastOffset)
            first.close()

            let doomed = try await send("to delete"), edited = try await send("before edit")
            var response = try await client.execute(
                uri: "/api/rooms/\(room)/messages/\(edited)", method: .patch, headers: SessionRevocationHTTPTests.bearer(ann.token), body: .json(["body": "after edit"])
            )
            #expect(response.status == .ok)
            response = try await client.execute(uri: "/api/rooms/\(room)/messages/\(doomed)", method: .delete, headers: SessionRevocationHTTPTests.bearer(ann.token))
            #expect(response.status == .ok || response.status == .noContent)

            let db = try await DatabaseFactory.open(configuration.database, logger: TestApp.logger)
            let stored = try await db.read { sql in
                try await sql.raw("SELECT data FROM event_log").all().map { try $0.decode(column: "data", as: String.self) }
            }
            await db.shutdown()
            #expect(!stored.isEmpty)
            #expect(!stored.contains { $0.contains("to delete") || $0.contains("before edit") })

            let again = try await Client.connect(port: port, token: bob.token, pid: pid, offset: offset)
            defer { again.close() }
            let events = try await again.events(through: "message:deleted")
            let bodies = events.filter { $0.name == "message:new" || $0.name == "message:updated" }.compactMap { $0.args.first?["body"]?.stringValue }
            #expect(bodies == ["", "after edit", "after edit"])
            let replayedDelete = events.first { $0.name == "message:new" && $0.args.first?["id"]?.intValue == Int(doomed) }
            #expect(replayedDelete?.args.first?["deletedAt"]?.stringValue != nil)
        }
    }

    @Test("a member who left a room while away recovers its own room:member left and nothing of that room after it", arguments: TestApp.databaseKinds)
    func leftWhileAway(kind: DatabaseKind) async throws {
        try await Self.withApp(try Self.configuration(kind)) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let other = try await ChatREST.room(client, ann.token)
            try await ChatREST.join(client, bob.token, room: other)
            let first = try await Client.connect(port: port, token: bob.token)
            try await Self.topic(client, ann.token, room: room, "seen")
            _ = try await first.events(through: "room:updated")
            let pid = try #require(first.pid), offset = try #require(first.lastOffset)
            first.close()

            let left = try await client.execute(uri: "/api/rooms/\(room)/leave", method: .post, headers: SessionRevocationHTTPTests.bearer(bob.token))
            #expect(left.status == .noContent || left.status == .ok)
            try await Self.topic(client, ann.token, room: room, "after bob left")

            let again = try await Client.connect(port: port, token: bob.token, pid: pid, offset: offset)
            defer { again.close() }
            #expect(again.sid == first.sid)
            try await Self.topic(client, ann.token, room: other, "in the other room")
            let events = try await again.events(through: "room:updated") { $0["roomId"] == RealtimeGatewayTests.id(other) }
            // (presence events of bob's own drop and return may come in between: the grace is 100 ms here)
            #expect(events.map(\.name).filter { $0 != "presence" } == ["room:member", "room:updated"])
            let member = events.first { $0.name == "room:member" }?.args.first
            #expect(member?["change"] == "left" && member?["roomId"] == RealtimeGatewayTests.id(room) && member?["user"]?["id"] == RealtimeGatewayTests.id(bob.id))
            #expect(Self.topics(events) == ["in the other room"])
        }
    }

    @Test("a member who left a room while away recovers that room's events sent before it left, then its room:member left, nothing after", arguments: TestApp.databaseKinds)
    func leftWhileAwayKeepsEarlierEvents(kind: DatabaseKind) async throws {
        try await Self.withApp(try Self.configuration(kind)) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let other = try await ChatREST.room(client, ann.token)
            try await ChatREST.join(client, bob.token, room: other)
            let first = try await Client.connect(port: port, token: bob.token)
            try await Self.topic(client, ann.token, room: room, "seen")
            _ = try await first.events(through: "room:updated")
            let pid = try #require(first.pid), offset = try #require(first.lastOffset)
            first.close()

            // the connection handler leaves `room` before the replay: the replay must not filter by it
            try await Self.topic(client, ann.token, room: room, "before bob left")
            let left = try await client.execute(uri: "/api/rooms/\(room)/leave", method: .post, headers: SessionRevocationHTTPTests.bearer(bob.token))
            #expect(left.status == .noContent || left.status == .ok)
            try await Self.topic(client, ann.token, room: room, "after bob left")

            let again = try await Client.connect(port: port, token: bob.token, pid: pid, offset: offset)
            defer { again.close() }
            #expect(again.sid == first.sid && again.pid == pid)
            try await Self.topic(client, ann.token, room: other, "in the other room")
            let events = try await again.events(through: "room:updated") { $0["roomId"] == RealtimeGatewayTests.id(other) }
            #expect(events.map(\.name).filter { $0 != "presence" } == ["room:updated", "room:member", "room:updated"])
            #expect(Self.topics(events) == ["before bob left", "in the other room"])
            let member = events.first { $0.name == "room:member" }?.args.first
            #expect(member?["change"] == "left" && member?["roomId"] == RealtimeGatewayTests.id(room))
        }
    }

    @Test("a pid reused on another node: the old node's later disconnected save or discard leaves the live session alone", arguments: TestApp.databaseKinds)
    func oldNodeCannotEndTheMovedSession(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            let log = EventLogStore()
            _ = try await db.write { sql in try await log.append([EventLogEntry(event: "e", arguments: [], rooms: ["r"])], on: sql) }
            let offset = try await db.read { sql in try await log.maxSeq(on: sql) }
            let a = DatabaseSessionRecoveryStore(database: db, log: log, window: .seconds(120), nodeID: "node-a")
            let b = DatabaseSessionRecoveryStore(database: db, log: log, window: .seconds(120), nodeID: "node-b")
            let live = RecoverableSession(pid: "PPPPPPPPPPPPPPPPPPPPPP", socketID: "s1", namespace: "/", owner: "o", rooms: ["r"])
            try await a.save(live)
            // the client reconnects on node b with the pid while a's socket is still up
            #expect(try await b.restore(pid: live.pid, namespace: "/", owner: "o", after: offset) != nil)
            try await b.save(live)
            // a's old socket ends later: a recoverable save as disconnected, or a discard
            var stale = live
            stale.connected = false
            try await a.save(stale)
            try await a.discard(pid: live.pid)
            struct Row: Decodable { let nodeId: String?; let disconnectedAt: Int64? }
            let row = try await db.read { sql in
                try await sql.raw("SELECT node_id, disconnected_at FROM recovery_sessions WHERE pid_hash = \(bind: DatabaseSessionRecoveryStore.hash(pid: live.pid))")
                    .first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
            }
            #expect(row?.nodeId == "node-b" && row?.disconnectedAt == nil)
            // b's own end still works
            try await b.discard(pid: live.pid)
            #expect(try await b.restore(pid: live.pid, namespace: "/", owner: "o", after: offset) == nil)
        }
    }

    @Test("a session recovers across a restart of the app on the same SQLite file")
    func recoversAcrossRestart() async throws {
        let configuration = try Self.configuration(.sqlite)
        struct State: Sendable { var token = "", pid = "", offset = "", sid = "" }
        let state = LockedBox(State())
        try await Self.withApp(configuration) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let first = try await Client.connect(port: port, token: bob.token)
            try await Self.topic(client, ann.token, room: room, "before")
            _ = try await first.events(through: "room:updated")
            state.set(State(token: bob.token, pid: try #require(first.pid), offset: try #require(first.lastOffset), sid: first.sid))
            first.close()
            try await Self.topic(client, ann.token, room: room, "while away")
        }
        let saved = state.value
        try await Self.withApp(configuration) { client, port in
            let again = try await Client.connect(port: port, token: saved.token, pid: saved.pid, offset: saved.offset)
            defer { again.close() }
            #expect(again.sid == saved.sid && again.pid == saved.pid)
            let events = try await again.events(through: "room:updated")
            #expect(Self.topics(events) == ["while away"])
        }
    }

    @Test("a forged pid, another user's pid, a stale offset and an offset in the future get a clean new session", arguments: TestApp.databaseKinds)
    func invalidRecoveryIsANewSession(kind: DatabaseKind) async throws {
        let clock = ManualClock()
        try await Self.withApp(try Self.configuration(kind, clock: clock)) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let annSocket = try await Client.connect(port: port, token: ann.token)
            let bobSocket = try await Client.connect(port: port, token: bob.token)
            try await Self.topic(client, ann.token, room: room, "one")
            _ = try await bobSocket.events(through: "room:updated")
            _ = try await annSocket.events(through: "room:updated")
            let bobPID = try #require(bobSocket.pid), annPID = try #require(annSocket.pid)
            let offset = try #require(bobSocket.lastOffset)
            bobSocket.close()
            annSocket.close()
            try await Self.topic(client, ann.token, room: room, "missed")

            /// A new session: another sid and pid, and no replay (the next room:updated is the live one).
            func expectNewSession(pid: String, offset: String, _ comment: Comment) async throws {
                let socket = try await Client.connect(port: port, token: bob.token, pid: pid, offset: offset)
                defer { socket.close() }
                #expect(socket.sid != bobSocket.sid && socket.pid != nil && socket.pid != pid && socket.pid != bobPID, comment)
                let live = "live \(UUID().uuidString.prefix(6))"
                try await Self.topic(client, ann.token, room: room, live)
                #expect(Self.topics(try await socket.events(through: "room:updated")) == [live], comment)
            }
            try await expectNewSession(pid: "AAAAAAAAAAAAAAAAAAAAAA", offset: offset, "forged pid")
            try await expectNewSession(pid: annPID, offset: offset, "another user's pid")
            try await expectNewSession(pid: bobPID, offset: String(UInt64(offset)! + 1000), "an offset in the future")
            try await expectNewSession(pid: bobPID, offset: "0", "an offset before the log")
            clock.advance(121)
            try await expectNewSession(pid: bobPID, offset: offset, "an offset older than the window")
        }
    }
}

/// A value shared between a test's steps.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func set(_ value: Value) { lock.withLock { stored = value } }
}
