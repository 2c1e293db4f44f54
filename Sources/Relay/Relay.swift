import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A Socket.IO v5 server (over Engine.IO v4) mounted on a Hummingbird router.
///
/// ```swift
/// let relay = Relay(configuration: RelayConfiguration(path: "/socket.io"), logger: logger)
/// relay.addRoutes(to: router)
/// let chat = relay.namespace("/")
/// chat.onConnection { socket in
///     socket.on("message") { args, ack in await ack?(args) }
/// }
/// let app = Application(router: router, server: .http1(relay: relay))
/// ```
/// `Relay` is also a `Service`: run it in the ServiceGroup so that graceful shutdown closes
/// every connection.
public final class Relay: Sendable, Service {
    public let configuration: RelayConfiguration
    public let engine: EngineServer
    let logger: Logger
    let adapter: any BroadcastAdapter
    /// Keyed by the name's bytes (``ProtocolName``): Node matches namespace names exactly.
    private let namespaces: Mutex<[ProtocolName: Namespace]>
    private let dynamicRules: Mutex<[DynamicRule]>

    struct DynamicRule: Sendable {
        let matches: @Sendable (String, Handshake) -> Bool
        let configure: @Sendable (Namespace) -> Void
    }

    public init(
        configuration: RelayConfiguration,
        logger: Logger,
        adapter: any BroadcastAdapter = InMemoryAdapter(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.logger = logger
        self.adapter = adapter
        self.namespaces = Mutex([:])
        self.dynamicRules = Mutex([])
        let holder = RelayHolder()
        self.engine = EngineServer(configuration: configuration, logger: logger, eventLoopGroup: eventLoopGroup) { connection in
            guard let relay = holder.relay else {
                // the Relay was released while its routes still serve: refuse politely
                connection.close(reason: .serverShutdown)
                return ClosedDelegate()
            }
            return SocketIOClient(connection: connection, relay: relay)
        }
        holder.relay = self
    }

    /// Mounts the polling endpoint; serve the router with `.http1(relay:)` so that WebSocket
    /// upgrades reach the relay.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        engine.addRoutes(to: router)
    }

    /// The namespace with this name, created on first use ("/" is the default namespace).
    public func namespace(_ name: String = "/") -> Namespace {
        let name = name.hasPrefix("/") ? name : "/" + name
        return namespaces.withLock { all in
            if let existing = all[ProtocolName(name)] { return existing }
            let created = Namespace(name: name, adapter: adapter, recovery: configuration.connectionStateRecovery, observer: configuration.observer)
            all[ProtocolName(name)] = created
            return created
        }
    }

    /// Dynamic namespaces: a CONNECT to an unknown name that `matches` creates the namespace,
    /// which `configure` sets up (middleware, connection handler) before the client joins it.
    public func dynamicNamespaces(
        matching matches: @escaping @Sendable (_ name: String, _ handshake: Handshake) -> Bool,
        configure: @escaping @Sendable (Namespace) -> Void
    ) {
        dynamicRules.withLock { $0.append(DynamicRule(matches: matches, configure: configure)) }
    }

    /// Namespaces that exist now.
    public var namespaceNames: [String] { namespaces.withLock { $0.keys.map(\.string) } }

    func resolveNamespace(_ name: String, handshake: Handshake) -> Namespace? {
        let key = ProtocolName(name)
        if let existing = namespaces.withLock({ $0[key] }) { return existing }
        let rules = dynamicRules.withLock { $0 }
        guard let rule = rules.first(where: { $0.matches(name, handshake) }) else { return nil }
        let (namespace, created) = namespaces.withLock { all -> (Namespace, Bool) in
            if let existing = all[key] { return (existing, false) }
            let ns = Namespace(name: name, adapter: adapter, recovery: configuration.connectionStateRecovery, observer: configuration.observer)
            all[key] = ns
            return (ns, true)
        }
        if created { rule.configure(namespace) }
        return namespace
    }

    /// Number of open Engine.IO connections.
    public var connectionCount: Int { engine.connectionCount }

    /// Closes every connection (sockets see ``DisconnectReason/serverShuttingDown``).
    public func close() {
        engine.closeAll(reason: .serverShutdown)
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Closes every connection; with connection state recovery, then waits (at most 5 s) until
    /// every socket's session has been saved as disconnected (a server shutdown is recoverable,
    /// so a persistent store can restore the sessions after a restart).
    public func shutdown() async {
        close()
        await configuration.connectionStateRecovery?.writes.drain(timeout: .seconds(5))
    }
}

struct ClosedDelegate: EngineConnectionDelegate {
    func engineConnection(_ connection: EngineConnection, didReceive data: EngineData) {}
    func engineConnection(_ connection: EngineConnection, didCloseWith reason: EngineCloseReason) {}
}

final class RelayHolder: @unchecked Sendable {
    // Written once in Relay.init before any connection can exist.
    weak var relay: Relay?
}
