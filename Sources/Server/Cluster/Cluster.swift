import Accounts
import Logging
import Relay
import ServiceLifecycle
import Synchronization

/// Whether this process runs as one node of several on one PostgreSQL (`CLUSTER`).
public enum ClusterMode: String, Sendable {
    /// On when DATABASE_URL is PostgreSQL (the default).
    case auto
    /// One process: the in-memory adapter, presence and revocation on this node only.
    case off
}

/// The parts that make this process one node of several (PostgreSQL only): membership
/// (``NodeRegistry``), the adapter (``PostgresClusterAdapter``), presence across nodes
/// (``ClusterPresence``), and the service that runs the heartbeat, the NOTIFY sender and the
/// LISTEN connection.
final class Cluster: Sendable {
    let registry: NodeRegistry
    let adapter: PostgresClusterAdapter
    let presence: ClusterPresence
    let listener: ClusterListener
    /// Opened once migrations ran: the service writes nothing before the tables exist.
    let ready = StartGate()
    /// Who the log tail is (H3's `LogTail.wake()`); set before the service runs.
    private let logWake = WakeHook()

    /// The server-side event that tells the other nodes sessions ended (arguments: the session ids).
    static let sessionsEndedEvent = "switchboard:sessions-ended"

    /// nil when clustering is off or the database is SQLite.
    static func make(database: any Database, mode: ClusterMode, nodeTimeout: Duration, logger: Logger) -> Cluster? {
        guard mode != .off, let postgres = database as? PostgresDatabase else { return nil }
        let registry = NodeRegistry(database: database, deadAfter: nodeTimeout, logger: logger)
        return Cluster(registry: registry, database: postgres, logger: logger)
    }

    private init(registry: NodeRegistry, database: PostgresDatabase, logger: Logger) {
        self.registry = registry
        let adapter = PostgresClusterAdapter(database: database, registry: registry, logger: logger)
        self.adapter = adapter
        self.presence = ClusterPresence(database: database, nodeID: registry.nodeID, logger: logger)
        let wake = self.logWake
        self.listener = ClusterListener(
            database: database, adapterChannel: PostgresClusterAdapter.channel, logChannel: PostgresClusterAdapter.logChannel,
            logger: logger,
            onAdapterPayload: { payload in await adapter.receive(payload: payload) },
            onLogNotify: { wake.call() },
            onListening: { wake.call() }
        )
    }

    /// The log tail's wake-up, called on every NOTIFY on `switchboard_log` and after every
    /// (re)connection of the LISTEN connection.
    func setLogWake(_ wake: @escaping @Sendable () -> Void) {
        logWake.set(wake)
    }

    /// Connects the cluster to the chat: dead nodes' users go offline here, this node's
    /// presence is written again after an outage, and sessions ended on another node end here
    /// at once (REST refuses their tokens; their sockets are closed by the adapter's
    /// `disconnectSockets` on `session:<id>`, which the revoking node sends).
    func install(namespace: Namespace, gateway: ChatGateway, tracker: PresenceTracker, sessionLiveness: SessionLiveness) {
        installPresence(
            usersHere: { tracker.usersHere }, isHere: { tracker.isHere($0) },
            announce: { userID, online in await gateway.announce(userID: userID, online: online) }, logger: gateway.logger
        )
        namespace.onServerSideEmit(Self.sessionsEndedEvent) { arguments in
            let sessionIDs = arguments.compactMap(\.stringValue)
            await sessionLiveness.ended(sessionIDs)
            gateway.verifiedTokens.forget(sessionIDs: sessionIDs)   // as the revoking node's observer does
        }
    }

    /// Presence across node deaths: the node that declares others dead announces their users
    /// offline (unless another node, or this one, holds them), and a node that finds itself
    /// declared dead (paused past the bound) or back from an outage restores its rows and
    /// announces online each of its users it restores that no other node holds
    /// (``ClusterPresence/republish(_:isHere:announce:)``), as DEPLOYMENT.md promises.
    func installPresence(
        usersHere: @escaping @Sendable () -> [Int64], isHere: @escaping @Sendable (Int64) -> Bool,
        announce: @escaping @Sendable (Int64, Bool) async -> Void, logger: Logger
    ) {
        let presence = self.presence
        registry.onNodesDead { nodes in
            do {
                for userID in try await presence.removeNodes(nodes) {
                    await presence.confirmOffline(userID, isHere: { isHere(userID) }) { await announce(userID, false) }
                }
            } catch {
                logger.warning("cluster: could not clean up after dead nodes", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
        registry.onRejoined {
            await presence.republish(usersHere(), isHere: isHere) { await announce($0, true) }
        }
    }

    var service: ClusterService { ClusterService(cluster: self) }
}

/// Runs a node's cluster work: the heartbeat, the NOTIFY sender and the LISTEN connection,
/// from the moment migrations ran until graceful shutdown.
struct ClusterService: Service {
    let cluster: Cluster

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await cluster.ready.wait()
            guard !Task.isCancelled else { return }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await cluster.registry.run() }
                group.addTask { await cluster.adapter.publisher.run() }
                group.addTask { await cluster.listener.run() }
                await group.waitForAll()
            }
        }
    }
}

/// A one-shot gate: ``wait()`` returns once ``open()`` was called, or when the task is cancelled
/// (start-up failed before the gate opened).
final class StartGate: Sendable {
    private let isOpen = Mutex(false)

    func open() { isOpen.withLock { $0 = true } }

    func wait() async {
        while !isOpen.withLock({ $0 }) && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// A callback set after construction (the log tail is built after the cluster).
final class WakeHook: Sendable {
    private let hook = Mutex<(@Sendable () -> Void)?>(nil)
    func set(_ body: @escaping @Sendable () -> Void) { hook.withLock { $0 = body } }
    func call() { hook.withLock { $0 }?() }
}
