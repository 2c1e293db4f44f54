import Accounts
import Foundation
import Logging
import Relay
import SQLKit
import Synchronization
import Testing
import TestSupport
@testable import Server

/// Two cluster nodes in one process on one real PostgreSQL (each with its own LISTEN connection,
/// publisher and heartbeat): what no client can ask for over the wire. Runs when
/// TEST_DATABASE_URL is set; the whole server is tested with three processes in
/// Tests/interop/test_cluster_*.py.
@Suite("Cluster adapter on PostgreSQL", .serialized)
struct ClusterAdapterTests {
    static var enabled: Bool { TestDatabases.kinds.contains(.postgres) }

    /// A node: its cluster parts and a relay, run until `stop()`.
    final class Node: Sendable {
        let cluster: Cluster
        let relay: Relay
        let listening = Counter()
        let task: Mutex<Task<Void, Never>?> = Mutex(nil)

        init(database: any Database, nodeTimeout: Duration) throws {
            cluster = try #require(Cluster.make(database: database, mode: .auto, nodeTimeout: nodeTimeout, logger: TestDatabases.logger))
            relay = Relay(configuration: RelayConfiguration(path: "/socket.io"), logger: TestDatabases.logger, adapter: cluster.adapter)
            cluster.adapter.attach(relay)
            _ = relay.namespace("/")
            let listening = self.listening
            cluster.setLogWake { listening.increment() }
            let cluster = self.cluster
            task.withLock {
                $0 = Task {
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask { await cluster.registry.run() }
                        group.addTask { await cluster.adapter.publisher.run() }
                        group.addTask { await cluster.listener.run() }
                    }
                }
            }
        }

        func stop() async {
            let task = task.withLock { $0 }
            task?.cancel()
            await task?.value
        }
    }

    final class Announcements: Sendable {
        let items = Mutex<[String]>([])
    }

    final class Counter: Sendable {
        private let count = Mutex(0)
        func increment() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    static func eventually(_ what: String, within limit: Duration = .seconds(10), _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupError("not within \(limit): \(what)")
    }

    /// Two nodes that see each other and both LISTEN.
    static func withTwoNodes(nodeTimeout: Duration = .seconds(2), _ body: @Sendable (Node, Node, any Database) async throws -> Void) async throws {
        try await TestDatabases.with(.postgres) { db in
            let a = try Node(database: db, nodeTimeout: nodeTimeout)
            let b = try Node(database: db, nodeTimeout: nodeTimeout)
            do {
                try await eventually("both nodes listen and see each other") {
                    a.listening.value > 0 && b.listening.value > 0
                        && a.cluster.registry.peers == [b.cluster.registry.nodeID] && b.cluster.registry.peers == [a.cluster.registry.nodeID]
                }
                try await body(a, b, db)
            } catch {
                await a.stop(); await b.stop()
                throw error
            }
            await a.stop(); await b.stop()
        }
    }

    @Test("serverSideEmit reaches the other node's handlers only; large and binary arguments travel by reference", .enabled(if: enabled))
    func serverSideEmitByReference() async throws {
        try await Self.withTwoNodes { a, b, db in
            let atA = Mutex<[[JSONValue]]>([]), atB = Mutex<[[JSONValue]]>([])
            a.relay.namespace("/").onServerSideEmit("sync") { args in atA.withLock { $0.append(args) } }
            b.relay.namespace("/").onServerSideEmit("sync") { args in atB.withLock { $0.append(args) } }

            await a.relay.namespace("/").serverSideEmit("sync", arguments: ["small", 1])
            let big = String(repeating: "é", count: 6_000)   // 12,000 bytes: over NOTIFY's 8000
            await a.relay.namespace("/").serverSideEmit("sync", arguments: [.string(big), ["bytes": .binary([0, 1, 255])]])
            try await Self.eventually("both events at B") { atB.withLock { $0.count } == 2 }
            #expect(atB.withLock { $0 } == [["small", 1], [.string(big), ["bytes": .binary([0, 1, 255])]]])
            #expect(atA.withLock { $0 }.isEmpty)
            let stored = try await db.read { db in try await db.raw("SELECT count(*) AS n FROM adapter_messages").first()?.decode(column: "n", as: Int.self) }
            #expect(stored == 1)
        }
    }

    @Test("fetchSockets asks every live node; a node that does not answer in time is reported", .enabled(if: enabled))
    func fetchSocketsAcrossNodes() async throws {
        try await Self.withTwoNodes { a, b, _ in
            let found = try await a.relay.namespace("/").to("room:1").fetchSockets(timeout: .seconds(5))
            #expect(found.isEmpty)
            // B stops answering (its listener is gone) but is still within the bound: A waits, then reports it
            await b.stop()
            await #expect(throws: FetchSocketsTimeout.self) {
                _ = try await a.relay.namespace("/").fetchSockets(timeout: .milliseconds(300))
            }
        }
    }

    @Test("admin stats' online census says it is partial, and how many nodes are missing, when a node does not answer", .enabled(if: enabled))
    func onlineCensusReportsMissingNodes() async throws {
        try await Self.withTwoNodes { a, b, _ in
            let whole = await OnlineCensus.take(a.relay.namespace("/"), timeout: .seconds(5), logger: TestDatabases.logger)
            #expect(!whole.partial && whole.missingNodes == 0 && whole.sockets == 0)
            await b.stop()   // B no longer answers but is still within the bound
            let census = await OnlineCensus.take(a.relay.namespace("/"), timeout: .milliseconds(300), logger: TestDatabases.logger)
            #expect(census.partial)
            #expect(census.missingNodes == 1)
        }
    }

    @Test("a node silent past the bound is declared dead by the other, once, and its presence rows go", .enabled(if: enabled))
    func deadNodeIsReaped() async throws {
        try await Self.withTwoNodes(nodeTimeout: .seconds(1)) { a, b, db in
            let reaped = Mutex<[String]>([])
            a.cluster.registry.onNodesDead { nodes in reaped.withLock { $0 += nodes } }
            let bID = b.cluster.registry.nodeID
            try await db.read { db in
                try await db.raw("INSERT INTO presence_connections (user_id, node_id) VALUES (7, \(bind: bID)), (7, \(bind: a.cluster.registry.nodeID))").run()
            }
            await b.stop()
            try await Self.eventually("B declared dead") { !reaped.withLock { $0 }.isEmpty }
            #expect(reaped.withLock { $0 } == [bID])
            let offline = try await a.cluster.presence.removeNodes([bID])
            #expect(offline.isEmpty)   // user 7 is still held by A
            let rows = try await db.read { db in try await db.raw("SELECT node_id FROM presence_connections").all().map { try $0.decode(column: "node_id", as: String.self) } }
            #expect(rows == [a.cluster.registry.nodeID])
            #expect(a.cluster.registry.peers.isEmpty)
        }
    }

    @Test("presence: a node paused past the bound is announced offline by the other, and online again by itself when it resumes", .enabled(if: enabled))
    func pausedNodeReannouncesItsUsers() async throws {
        try await Self.withTwoNodes(nodeTimeout: .seconds(1)) { a, b, db in
            let announced = Announcements()
            let user: Int64 = 5151
            // A holds the user (a connected socket); B holds nobody. Wired as Cluster.install wires the chat.
            for (node, name, holds) in [(a, "A", true), (b, "B", false)] {
                node.cluster.installPresence(
                    usersHere: { holds ? [user] : [] }, isHere: { holds && $0 == user },
                    announce: { id, online in announced.items.withLock { $0.append("\(id) \(online ? "online" : "offline") by \(name)") } },
                    logger: TestDatabases.logger
                )
            }
            await a.cluster.presence.claim(user, isHere: { true }) { announced.items.withLock { $0.append("\(user) online by A") } }
            // A is paused (SIGSTOP): its heartbeat stops past the bound; B declares it dead.
            await a.stop()
            try await Self.eventually("B announces A's user offline") { announced.items.withLock { $0 } == ["\(user) online by A", "\(user) offline by B"] }
            // A resumes (SIGCONT): its next heartbeat finds its row gone.
            await a.cluster.registry.beat()
            #expect(announced.items.withLock { $0 } == ["\(user) online by A", "\(user) offline by B", "\(user) online by A"])
            let aID = a.cluster.registry.nodeID
            let rows = try await db.read { db in
                try await db.raw("SELECT node_id FROM presence_connections WHERE user_id = \(bind: user)").all().map { try $0.decode(column: "node_id", as: String.self) }
            }
            #expect(rows == [aID])
            // A late cleanup of A's old death (a slow reaper) leaves the node that is back alone.
            #expect(try await b.cluster.presence.removeNodes([aID]).isEmpty)
            let after = try await db.read { db in
                try await db.raw("SELECT node_id FROM presence_connections WHERE user_id = \(bind: user)").all().map { try $0.decode(column: "node_id", as: String.self) }
            }
            #expect(after == [aID])
        }
    }

    @Test("presence: a release on one node racing a claim on the other announces in decision order, the last one true", .enabled(if: enabled))
    func presenceDecisionsAreSerializedAcrossNodes() async throws {
        try await Self.withTwoNodes { a, b, _ in
            // What was announced, in the order the announcements were made (each is made while
            // its decision still holds the user's lock, as ChatGateway's are).
            let announced = Announcements()
            func note(_ what: String) -> @Sendable () async -> Void {
                { announced.items.withLock { $0.append(what) } }
            }
            let user: Int64 = 4242
            await a.cluster.presence.claim(user, isHere: { true }, announce: note("online by A"))
            #expect(announced.items.withLock { $0 } == ["online by A"])
            for _ in 0..<40 {
                announced.items.withLock { $0 = [] }
                // A's last connection's grace ends while B gets the user's first connection.
                async let released: Void = a.cluster.presence.release(user, isHere: { false }, announce: note("offline by A"))
                async let claimed: Void = b.cluster.presence.claim(user, isHere: { true }, announce: note("online by B"))
                _ = await (released, claimed)
                // Either B came first (each saw the other's row: nothing to say) or A did
                // ("offline", then "online"): never "online" then "offline", never twice the same.
                let round = announced.items.withLock { $0 }
                #expect(round == [] || round == ["offline by A", "online by B"], "\(round)")
                // Back to "held by A only" for the next round, by the same rules.
                announced.items.withLock { $0 = [] }
                await a.cluster.presence.claim(user, isHere: { true }, announce: note("online by A"))
                await b.cluster.presence.release(user, isHere: { false }, announce: note("offline by B"))
                #expect(announced.items.withLock { $0 } == [], "A held the user throughout")
            }
        }
    }
}
