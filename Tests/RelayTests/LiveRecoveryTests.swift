import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import Relay
import Synchronization
import Testing

/// Connection state recovery on the wire (socket.io 4.6+ `connectionStateRecovery`): the pid in
/// the CONNECT reply, offsets appended to logged broadcasts, a reconnect with pid + offset
/// restored (same id and pid, rooms, missed events once and in order before live ones), and every
/// invalid request answered with a clean new session.
@Suite struct LiveRecoveryTests {
    /// A socket as the CONNECT reply describes it.
    struct Connected {
        var ws: TestWebSocket
        var sid: String
        var pid: String?
        var reply: String
    }

    /// Opens a WebSocket and sends CONNECT with `auth` (JSON text, "" for none).
    static func connect(port: Int, namespace: String = "/", auth: String = "") async throws -> Connected {
        let ws = TestWebSocket(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
        guard let open = await ws.nextText(), open.hasPrefix("0{") else { throw SocketIOTestError("no open packet") }
        let prefix = namespace == "/" ? "" : namespace + ","
        ws.send("40" + prefix + auth)
        guard let reply = await ws.nextText(), reply.hasPrefix("40" + prefix + "{") else { throw SocketIOTestError("no CONNECT reply") }
        let data = try JSONValue(parsing: String(reply.dropFirst(2 + prefix.count)))
        let sid = try #require(data["sid"]?.stringValue)
        return Connected(ws: ws, sid: sid, pid: data["pid"]?.stringValue, reply: reply)
    }

    static func recoveryAuth(pid: String?, offset: String, extra: String = "") -> String {
        #"{"#  + extra + #""pid":"\#(pid ?? "")","offset":"\#(offset)"}"#
    }

    static func configuration(_ recovery: ConnectionStateRecovery?) -> RelayConfiguration {
        var configuration = liveConfiguration(pingInterval: .seconds(5))
        configuration.connectionStateRecovery = recovery
        return configuration
    }

    /// Every namespace used here: `join` (rooms, acked true); on connect, `recovered` (a
    /// direct emit, never logged) and, for a user in the auth, its room `user:<name>`.
    static func install(_ namespace: Namespace, onConnect: @escaping @Sendable (Socket) async -> Void = { _ in }) {
        namespace.use { handshake in handshake.auth?["user"]?.stringValue }
        namespace.onConnection { socket in
            if let user = socket.data(as: String.self) { await socket.join("user:\(user)") }
            socket.emit("recovered", .bool(socket.recovered))
            socket.on("join") { args, ack in
                await socket.join(args.compactMap(\.stringValue))
                await ack?([true])
            }
            await onConnect(socket)
        }
    }

    static func eventually(_ condition: () -> Bool) async -> Bool {
        await LiveSocketLifecycleTests.eventually(condition)
    }

    // MARK: - The wire with recovery on

    @Test func connectReplyCarriesPidAndLoggedBroadcastsCarryTheOffset() async throws {
        let store = InMemorySessionRecoveryStore()
        let recovery = ConnectionStateRecovery(store: store)
        try await withLiveRelay(Self.configuration(recovery), setUp: { relay in
            Self.install(relay.namespace("/"))
        }) { relay, client in
            let port = try #require(client.port)
            let a = try await Self.connect(port: port)
            // exactly {"pid":"<22 base64url chars>","sid":"<sid>"}, keys sorted
            let pid = try #require(a.pid)
            #expect(a.reply == #"40{"pid":"\#(pid)","sid":"\#(a.sid)"}"#)
            #expect(pid.utf8.count == 22 && pid.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
            })
            #expect(await a.ws.nextText() == #"42["recovered",false]"#)
            a.ws.send(#"421["join","r"]"#)
            #expect(await a.ws.nextText() == "431[true]")

            let chat = relay.namespace("/")
            await chat.to("r").emit("news", ["n": 1])
            #expect(await a.ws.nextText() == #"42["news",{"n":1},"1"]"#)
            await chat.emit("all", "x", 2)
            #expect(await a.ws.nextText() == #"42["all","x",2,"2"]"#)
            // volatile: not logged, no offset
            await chat.to("r").volatile.emit("typing", .bool(true))
            #expect(await a.ws.nextText() == #"42["typing",true]"#)
            // binary: not logged (Node logs type-2 EVENTs only)
            await chat.to("r").emit("blob", .binary([1]))
            #expect(await a.ws.nextText() == #"451-["blob",{"_placeholder":true,"num":0}]"#)
            #expect(await a.ws.next() == .binary(ByteBuffer(bytes: [1])))
            // one socket: not logged
            chat.socket(id: a.sid)?.emit("direct", .string("d"))
            #expect(await a.ws.nextText() == #"42["direct","d"]"#)
            #expect(store.retainedCount == 2)
            // the next logged one is 3: nothing else took an offset
            await chat.to("r").emit("news", ["n": 3])
            #expect(await a.ws.nextText() == #"42["news",{"n":3},"3"]"#)
        }
    }

    @Test func recoveryOffKeepsTheWireAsItWas() async throws {
        try await withLiveRelay(Self.configuration(nil), setUp: { relay in
            Self.install(relay.namespace("/"))
        }) { relay, client in
            let port = try #require(client.port)
            let a = try await Self.connect(port: port, auth: Self.recoveryAuth(pid: "AAAAAAAAAAAAAAAAAAAAAA", offset: "1"))
            #expect(a.reply == #"40{"sid":"\#(a.sid)"}"#)
            #expect(await a.ws.nextText() == #"42["recovered",false]"#)
            await relay.namespace("/").emit("all", "x")
            #expect(await a.ws.nextText() == #"42["all","x"]"#)
        }
    }

    // MARK: - Restored

    /// Missed events are replayed after the connection handler, in offset order, only those
    /// addressed to the socket's rooms, before a live event held meanwhile; each exactly once.
    @Test func reconnectIsRestoredWithRoomsAndMissedEventsInOrderBeforeLiveOnes() async throws {
        let store = HookedStore(InMemorySessionRecoveryStore())
        let recovery = ConnectionStateRecovery(store: store)
        let handlerJoined = Mutex<Set<String>>([])
        try await withLiveRelay(Self.configuration(recovery), setUp: { relay in
            let chat = relay.namespace("/")
            Self.install(chat) { socket in
                guard socket.recovered else { return }
                handlerJoined.withLock { $0 = socket.rooms }
                // a live logged event while the socket is replaying: held, then dropped (the
                // replay covers it)
                await chat.to("r").emit("during-handler", .number(6))
                await socket.join("late-room")
            }
        }) { relay, client in
            let port = try #require(client.port)
            let chat = relay.namespace("/")
            let a = try await Self.connect(port: port)
            #expect(await a.ws.nextText() == #"42["recovered",false]"#)
            a.ws.send(#"421["join","r"]"#)
            #expect(await a.ws.nextText() == "431[true]")
            await chat.to("r").emit("e", .number(1))
            #expect(await a.ws.nextText() == #"42["e",1,"1"]"#)

            a.ws.close()
            #expect(await Self.eventually { chat.sockets.isEmpty })
            await chat.to("r").emit("e", .number(2))
            await chat.to("r").emit("e", .number(3))
            await chat.to("q").emit("not-for-a", .number(4))             // another room
            await chat.emit("e", .number(5))                              // whole namespace
            await chat.to("late-room").emit("e", .number(6))              // joined by the handler: delivered
            await chat.to("r").except("r").emit("not-for-a", .number(7))  // excluded
            // live events logged while phase 2 runs: held, released after the replay
            store.afterEvents.withLock { $0 = { await chat.to("r").emit("live", .number(9)) } }

            let b = try await Self.connect(port: port, auth: Self.recoveryAuth(pid: a.pid, offset: "1"))
            #expect(b.reply == #"40{"pid":"\#(try #require(a.pid))","sid":"\#(a.sid)"}"#)
            #expect(await b.ws.nextText() == #"42["recovered",true]"#)
            #expect(await b.ws.nextText() == #"42["e",2,"2"]"#)
            #expect(await b.ws.nextText() == #"42["e",3,"3"]"#)
            #expect(await b.ws.nextText() == #"42["e",5,"5"]"#)
            #expect(await b.ws.nextText() == #"42["e",6,"6"]"#)
            #expect(await b.ws.nextText() == #"42["during-handler",6,"8"]"#)
            #expect(await b.ws.nextText() == #"42["live",9,"9"]"#)
            await chat.to("r").emit("end")
            #expect(await b.ws.nextText() == #"42["end","10"]"#)
            // restored before the handler ran: the session's rooms
            #expect(handlerJoined.withLock { $0 } == [a.sid, "r"])
            #expect(chat.rooms(ofSocket: a.sid) == [a.sid, "r", "late-room"])
            #expect(chat.socket(id: a.sid)?.recovered == true)
        }
    }

    /// A live logged event held during the replay is released only if the socket is still in
    /// one of its rooms: here it left the room after the event was held (as the chat's handler
    /// leaves the rooms lost while away), so it never gets it.
    @Test func heldEventIsReleasedOnlyIfStillAddressedToTheSocket() async throws {
        let store = HookedStore(InMemorySessionRecoveryStore())
        try await withLiveRelay(Self.configuration(ConnectionStateRecovery(store: store)), setUp: { relay in
            Self.install(relay.namespace("/"))
        }) { relay, client in
            let port = try #require(client.port)
            let chat = relay.namespace("/")
            let a = try await Self.connect(port: port)
            #expect(await a.ws.nextText() == #"42["recovered",false]"#)
            a.ws.send(#"421["join","r"]"#)
            #expect(await a.ws.nextText() == "431[true]")
            await chat.to("r").emit("e", .number(1))
            #expect(await a.ws.nextText() == #"42["e",1,"1"]"#)
            a.ws.close()
            #expect(await Self.eventually { chat.sockets.isEmpty })
            let sid = a.sid
            store.afterEvents.withLock {
                $0 = {
                    await chat.to("r").emit("gone", .number(2))   // held (offset 2, above the replay)
                    await chat.socket(id: sid)?.leave("r")
                }
            }
            let b = try await Self.connect(port: port, auth: Self.recoveryAuth(pid: a.pid, offset: "1"))
            #expect(b.sid == a.sid)
            #expect(await b.ws.nextText() == #"42["recovered",true]"#)
            #expect(await Self.eventually { chat.rooms(ofSocket: sid) == [sid] })
            store.afterEvents.withLock { $0 = nil }
            await chat.emit("end")
            #expect(await b.ws.nextText() == #"42["end","3"]"#)
        }
    }

    /// A CONNECT with the pid of a socket this node still has (its transport not yet timed out)
    /// supersedes it: the stale socket is disconnected, the new one takes its id.
    @Test func staleSocketOfTheSameClientIsSuperseded() async throws {
        try await withLiveRelay(Self.configuration(.inMemory()), setUp: { relay in
            Self.install(relay.namespace("/"))
        }) { relay, client in
            let port = try #require(client.port)
            let chat = relay.namespace("/")
            let a = try await Self.connect(port: port)
            #expect(await a.ws.nextText() == #"42["recovered",false]"#)
            await chat.emit("e", .number(1))
            #expect(await a.ws.nextText() == #"42["e",1,"1"]"#)
            let b = try await Self.connect(port: port, auth: Self.recoveryAuth(pid: a.pid, offset: "1"))
            #expect(b.sid == a.sid && b.pid == a.pid)
            #expect(await a.ws.nextText() == "41")
            #expect(await b.ws.nextText() == #"42["recovered",true]"#)
            #expect(chat.sockets.count == 1)
            await chat.emit("e", .number(2))
            #expect(await b.ws.nextText() == #"42["e",2,"2"]"#)
        }
    }

    // MARK: - Not restored: a clean new session

    /// Bad input of every kind: a new sid and pid, `recovered == false`, nothing replayed
    /// (the first logged event after it is a live one), never another owner's events.
    @Test(arguments: BadRequest.allCases)
    func invalidRecoveryGetsANewSession(_ bad: BadRequest) async throws {
        let clock = RecoveryTestClock()
        let store = InMemorySessionRecoveryStore(window: .seconds(120), now: { clock.now })
        let recovery = ConnectionStateRecovery(store: store, owner: { $0 as? String })
        try await withLiveRelay(Self.configuration(recovery), setUp: { relay in
            Self.install(relay.namespace("/"))
            Self.install(relay.namespace("/other"))
        }) { relay, client in
            let port = try #require(client.port)
            let chat = relay.namespace("/")
            let other = relay.namespace("/other")
            await chat.emit("before", .number(1))  // offsets 1 and 2: logged before alice's session
            await chat.emit("before", .number(2))
            let alice = try await Self.connect(port: port, auth: #"{"user":"alice"}"#)
            #expect(await alice.ws.nextText() == #"42["recovered",false]"#)
            #expect(await Self.eventually { store.sessionCount == 1 })  // first save: floor 2
            await chat.to("user:alice").emit("secret", .string("alice only"))  // offset 3
            #expect(await alice.ws.nextText() == #"42["secret","alice only","3"]"#)
            let o = try await Self.connect(port: port, namespace: "/other", auth: #"{"user":"alice"}"#)
            #expect(await o.ws.nextText() == #"42/other,["recovered",false]"#)
            await other.emit("elsewhere")                                      // offset 4, in /other
            #expect(await o.ws.nextText() == #"42/other,["elsewhere","4"]"#)
            let pid = try #require(alice.pid)
            if bad == .offsetPruned {
                await chat.to("q").emit("q-only")  // offset 5, not for alice: pruned below
                clock.advance(.seconds(121))
            }
            alice.ws.close()
            o.ws.close()
            #expect(await Self.eventually { chat.sockets.isEmpty && other.sockets.isEmpty })
            #expect(await Self.eventually { store.storedSession(pid: pid)?.connected == false })
            await chat.to("user:alice").emit("secret", .string("missed"))     // offset 5 (6 when pruned)

            var namespace = "/"
            var auth: String
            switch bad {
            case .valid: auth = Self.recoveryAuth(pid: pid, offset: "3", extra: #""user":"alice","#)
            case .forgedPid: auth = Self.recoveryAuth(pid: "AAAAAAAAAAAAAAAAAAAAAA", offset: "3", extra: #""user":"alice","#)
            case .otherOwner: auth = Self.recoveryAuth(pid: pid, offset: "3", extra: #""user":"mallory","#)
            case .noOwner: auth = Self.recoveryAuth(pid: pid, offset: "3")
            case .otherNamespace:
                namespace = "/other"
                auth = Self.recoveryAuth(pid: pid, offset: "4", extra: #""user":"alice","#)
            case .offsetOfOtherNamespace: auth = Self.recoveryAuth(pid: pid, offset: "4", extra: #""user":"alice","#)
            case .offsetInTheFuture: auth = Self.recoveryAuth(pid: pid, offset: "99", extra: #""user":"alice","#)
            case .offsetBeforeTheSession: auth = Self.recoveryAuth(pid: pid, offset: "1", extra: #""user":"alice","#)
            case .offsetNotNumeric: auth = Self.recoveryAuth(pid: pid, offset: "3x", extra: #""user":"alice","#)
            case .offsetNegative: auth = Self.recoveryAuth(pid: pid, offset: "-3", extra: #""user":"alice","#)
            case .offsetTooLarge: auth = Self.recoveryAuth(pid: pid, offset: "18446744073709551616", extra: #""user":"alice","#)
            case .offsetAsNumber: auth = #"{"user":"alice","pid":"\#(pid)","offset":3}"#
            case .noOffset: auth = #"{"user":"alice","pid":"\#(pid)"}"#
            case .pidNotAString: auth = #"{"user":"alice","pid":["\#(pid)"],"offset":"3"}"#
            case .offsetPruned:
                // the session is fresh, but an event of "/" after offset 3 is gone
                auth = Self.recoveryAuth(pid: pid, offset: "3", extra: #""user":"alice","#)
            case .sessionExpired:
                clock.advance(.seconds(121))
                auth = Self.recoveryAuth(pid: pid, offset: "5", extra: #""user":"alice","#)
            }
            let b = try await Self.connect(port: port, namespace: namespace, auth: auth)
            let prefix = namespace == "/" ? "" : namespace + ","
            if bad == .valid {
                // the control: the same request, valid, is restored
                #expect(b.sid == alice.sid && b.pid == pid)
                #expect(await b.ws.nextText() == #"42["recovered",true]"#)
                #expect(await b.ws.nextText() == #"42["secret","missed","5"]"#)
                return
            }
            #expect(b.sid != alice.sid && b.sid != o.sid)
            #expect(b.pid != nil && b.pid != pid && b.pid != o.pid)
            #expect(await b.ws.nextText() == "42\(prefix)[\"recovered\",false]")
            // nothing replayed: the next event is the live one
            await relay.namespace(namespace).emit("live")
            let live = try #require(await b.ws.nextText())
            #expect(live.hasPrefix("42\(prefix)[\"live\","))
        }
    }

    enum BadRequest: String, CaseIterable, Sendable {
        /// The control: a valid request, restored.
        case valid
        case forgedPid, otherOwner, noOwner, otherNamespace, offsetOfOtherNamespace, offsetInTheFuture
        case offsetBeforeTheSession, offsetNotNumeric, offsetNegative, offsetTooLarge, offsetAsNumber
        case noOffset, pidNotAString, offsetPruned, sessionExpired
    }

    /// A DISCONNECT from either side ends the session: the pid is not restored afterwards.
    @Test(arguments: [true, false])
    func namespaceDisconnectDiscardsTheSession(byClient: Bool) async throws {
        let store = InMemorySessionRecoveryStore()
        try await withLiveRelay(Self.configuration(ConnectionStateRecovery(store: store)), setUp: { relay in
            Self.install(relay.namespace("/"))
        }) { relay, client in
            let port = try #require(client.port)
            let chat = relay.namespace("/")
            let a = try await Self.connect(port: port)
            #expect(await a.ws.nextText() == #"42["recovered",false]"#)
            await chat.emit("e")
            #expect(await a.ws.nextText() == #"42["e","1"]"#)
            #expect(await Self.eventually { store.sessionCount == 1 })
            if byClient {
                a.ws.send("41")
            } else {
                chat.socket(id: a.sid)?.disconnect()
                #expect(await a.ws.nextText() == "41")
            }
            #expect(await Self.eventually { store.sessionCount == 0 })
            let b = try await Self.connect(port: port, auth: Self.recoveryAuth(pid: a.pid, offset: "1"))
            #expect(b.sid != a.sid && b.pid != a.pid)
            #expect(await b.ws.nextText() == #"42["recovered",false]"#)
        }
    }

    /// A store that can no longer replay (pruned between the two phases): the connection is
    /// closed and the session discarded, so the client comes back with a new one.
    @Test func unreplayableSessionClosesTheConnection() async throws {
        let store = HookedStore(InMemorySessionRecoveryStore())
        try await withLiveRelay(Self.configuration(ConnectionStateRecovery(store: store)), setUp: { relay in
            Self.install(relay.namespace("/"))
        }) { relay, client in
            let port = try #require(client.port)
            let chat = relay.namespace("/")
            let a = try await Self.connect(port: port)
            #expect(await a.ws.nextText() == #"42["recovered",false]"#)
            await chat.emit("e")
            #expect(await a.ws.nextText() == #"42["e","1"]"#)
            a.ws.close()
            #expect(await Self.eventually { chat.sockets.isEmpty })
            store.eventsUnavailable.withLock { $0 = true }
            let b = try await Self.connect(port: port, auth: Self.recoveryAuth(pid: a.pid, offset: "1"))
            #expect(b.sid == a.sid)
            #expect(await b.ws.nextText() == #"42["recovered",true]"#)
            #expect(await b.ws.waitForClose())
            #expect(await Self.eventually { store.inner.sessionCount == 0 })
            store.eventsUnavailable.withLock { $0 = false }
            let c = try await Self.connect(port: port, auth: Self.recoveryAuth(pid: a.pid, offset: "1"))
            #expect(c.sid != a.sid && c.pid != a.pid)
        }
    }
}

/// The in-memory store's rules, without sockets.
@Suite struct InMemorySessionRecoveryStoreTests {
    @Test func windowPrunesEventsAndSessions() async throws {
        let clock = RecoveryTestClock()
        let store = InMemorySessionRecoveryStore(window: .seconds(10), now: { clock.now })
        let everyone = BroadcastOptions()
        #expect(await store.log(namespace: "/", event: "a", arguments: [], options: everyone) == 1)
        try await store.save(RecoverableSession(pid: "p", socketID: "s", namespace: "/", owner: "u", rooms: ["r"]))
        #expect(await store.log(namespace: "/", event: "b", arguments: [], options: BroadcastOptions(rooms: ["r"])) == 2)
        #expect(await store.log(namespace: "/x", event: "c", arguments: [], options: everyone) == 3)
        #expect(try await store.restore(pid: "p", namespace: "/", owner: "u", after: 2)?.rooms == ["r"])
        #expect(try await store.events(namespace: "/", after: 1)?.map(\.offset) == [2])
        #expect(try await store.events(namespace: "/x", after: 0)?.map(\.event) == ["c"])

        // a connected session does not expire; a disconnected one does, after the window
        clock.advance(.seconds(11))
        #expect(await store.log(namespace: "/x", event: "d", arguments: [], options: everyone) == 4)  // prunes 1...3
        #expect(store.retainedCount == 1)
        // 2 was the newest pruned event of "/": still a valid offset (nothing of "/" came after)
        #expect(try await store.restore(pid: "p", namespace: "/", owner: "u", after: 2) != nil)
        #expect(try await store.events(namespace: "/", after: 2) == [])
        // events of "/" after 1 are gone: no longer replayable
        #expect(try await store.events(namespace: "/", after: 1) == nil)
        try await store.save(RecoverableSession(pid: "p", socketID: "s", namespace: "/", owner: "u", rooms: ["r"], connected: false))
        clock.advance(.seconds(10))
        #expect(try await store.restore(pid: "p", namespace: "/", owner: "u", after: 2) != nil)
        clock.advance(.seconds(1))
        #expect(try await store.restore(pid: "p", namespace: "/", owner: "u", after: 2) == nil)
    }

    @Test func pidIsUnpaddedBase64URLOf128Bits() {
        let pids = Set((0..<100).map { _ in ConnectionStateRecovery.generatePID() })
        #expect(pids.count == 100)
        #expect(pids.allSatisfy { $0.utf8.count == 22 })
        #expect(ConnectionStateRecovery.base64URL([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(ConnectionStateRecovery.base64URL(Array(repeating: 0, count: 16)) == "AAAAAAAAAAAAAAAAAAAAAA")
    }

    @Test func offsetsAreDecimalStrings() {
        #expect(ConnectionStateRecovery.parseOffset("0") == 0)
        #expect(ConnectionStateRecovery.parseOffset("18446744073709551615") == .max)
        for bad in ["", "-1", "+1", "1.0", "1e3", " 1", "18446744073709551616", "٣"] {
            #expect(ConnectionStateRecovery.parseOffset(bad) == nil)
        }
    }
}

/// A clock tests move by hand.
final class RecoveryTestClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { instant.withLock { $0 } }
    func advance(_ duration: Duration) { instant.withLock { $0 += duration } }
}

/// The in-memory store with hooks into phase 2.
final class HookedStore: SessionRecoveryStore {
    let inner: InMemorySessionRecoveryStore
    /// Run after `events` computed its answer (before the relay sends it).
    let afterEvents = Mutex<(@Sendable () async -> Void)?>(nil)
    /// `events` answers nil (no longer recoverable).
    let eventsUnavailable = Mutex(false)

    init(_ inner: InMemorySessionRecoveryStore) { self.inner = inner }

    func save(_ session: RecoverableSession) async throws { try await inner.save(session) }
    func discard(pid: String) async throws { try await inner.discard(pid: pid) }
    func restore(pid: String, namespace: String, owner: String?, after offset: UInt64) async throws -> RecoverableSession? {
        try await inner.restore(pid: pid, namespace: namespace, owner: owner, after: offset)
    }
    func events(namespace: String, after offset: UInt64) async throws -> [LoggedEvent]? {
        if eventsUnavailable.withLock({ $0 }) { return nil }
        let answer = try await inner.events(namespace: namespace, after: offset)
        if let hook = afterEvents.withLock({ $0 }) { await hook() }
        return answer
    }
    func log(namespace: String, event: String, arguments: [JSONValue], options: BroadcastOptions) async -> UInt64? {
        await inner.log(namespace: namespace, event: event, arguments: arguments, options: options)
    }
}

/// A server shutdown is recoverable: `Relay.shutdown()` returns once every socket's session has
/// been saved as disconnected, so a persistent store can restore it after a restart.
@Suite struct RecoveryShutdownTests {
    /// Saves of disconnected sessions take a while.
    final class SlowStore: SessionRecoveryStore {
        let inner = InMemorySessionRecoveryStore()
        func save(_ session: RecoverableSession) async throws {
            if !session.connected { try await Task.sleep(for: .milliseconds(300)) }
            try await inner.save(session)
        }
        func discard(pid: String) async throws { try await inner.discard(pid: pid) }
        func restore(pid: String, namespace: String, owner: String?, after offset: UInt64) async throws -> RecoverableSession? {
            try await inner.restore(pid: pid, namespace: namespace, owner: owner, after: offset)
        }
        func events(namespace: String, after offset: UInt64) async throws -> [LoggedEvent]? {
            try await inner.events(namespace: namespace, after: offset)
        }
        func log(namespace: String, event: String, arguments: [JSONValue], options: BroadcastOptions) async -> UInt64? {
            await inner.log(namespace: namespace, event: event, arguments: arguments, options: options)
        }
    }

    @Test func shutdownWaitsForTheSessionsToBeSavedAsDisconnected() async throws {
        let store = SlowStore()
        try await withLiveRelay(LiveRecoveryTests.configuration(ConnectionStateRecovery(store: store)), setUp: { relay in
            LiveRecoveryTests.install(relay.namespace("/"))
        }) { relay, client in
            let port = try #require(client.port)
            let a = try await LiveRecoveryTests.connect(port: port)
            let b = try await LiveRecoveryTests.connect(port: port)
            #expect(await a.ws.nextText() == #"42["recovered",false]"#)
            #expect(await b.ws.nextText() == #"42["recovered",false]"#)
            await relay.shutdown()
            for pid in [a.pid, b.pid] {
                #expect(store.inner.storedSession(pid: try #require(pid))?.connected == false)
            }
        }
    }
}
