import Accounts
import Foundation
import Logging
import Relay
import SQLKit
import Synchronization

/// Relay's ``BroadcastAdapter`` for several nodes on one PostgreSQL: every operation acts on
/// this node's sockets at once and, unless `local`, is sent to the other nodes with NOTIFY on
/// ``channel`` (``ClusterPublisher``); each node's ``ClusterListener`` hands what arrives to
/// ``receive(_:)``, which acts on that node's sockets. A node ignores its own messages.
///
/// What crosses nodes here: broadcasts that are not logged (volatile ones, typing),
/// `except`, `disconnectSockets`, `socketsJoin` / `socketsLeave`, `fetchSockets`
/// (request/response, ``fetchTimeout``), `serverSideEmit`. Logged events do not: every node's
/// log tail reads them from `event_log`, woken by NOTIFY on `switchboard_log`.
///
/// Node's socket.io `@socket.io/postgres-adapter` works the same way (NOTIFY per broadcast,
/// large payloads in a table); the wire format here is our own (ClusterMessage.swift).
final class PostgresClusterAdapter: BroadcastAdapter {
    /// The NOTIFY channel of adapter messages.
    static let channel = "switchboard_adapter"
    /// The NOTIFY channel of the event log (the log tail's wake-up; payload empty).
    static let logChannel = "switchboard_log"

    let nodeID: String
    let registry: NodeRegistry
    let publisher: ClusterPublisher
    private let database: any Database
    private let logger: Logger
    private let local = InMemoryAdapter()
    private let relayBox = Mutex<WeakRelay>(WeakRelay())
    private let pending = Mutex<[String: FetchCollector]>([:])

    struct WeakRelay { weak var relay: Relay? }

    init(database: any Database, registry: NodeRegistry, logger: Logger) {
        self.database = database
        self.registry = registry
        self.nodeID = registry.nodeID
        self.publisher = ClusterPublisher(database: database, channel: Self.channel, logger: logger)
        self.logger = logger
    }

    /// The relay whose namespaces receive other nodes' messages (set once, after the relay is built with this adapter).
    func attach(_ relay: Relay) { relayBox.withLock { $0.relay = relay } }

    private func publish(_ message: ClusterMessage) {
        publisher.publish(ClusterEnvelope(node: nodeID, message: message))
    }

    // MARK: BroadcastAdapter

    func broadcast(_ packet: EncodedPacket, options: BroadcastOptions, namespace: Namespace) async {
        namespace.deliverLocally(packet, options: options)
        // A packet with an offset was logged by a recovery store: every node delivers it from
        // the log, so forwarding it would deliver it twice (the server's store logs nothing itself).
        guard !options.local, packet.offset == nil else { return }
        publish(.broadcast(namespace: namespace.name, options: options, frames: packet.frames))
    }

    func disconnectSockets(options: BroadcastOptions, close: Bool, namespace: Namespace) async {
        await local.disconnectSockets(options: options, close: close, namespace: namespace)
        guard !options.local else { return }
        publish(.disconnect(namespace: namespace.name, options: options, close: close))
    }

    func socketIDs(options: BroadcastOptions, namespace: Namespace) async -> Set<String> {
        do {
            return Set(try await fetchSockets(options: options, timeout: .seconds(2), namespace: namespace).map(\.id))
        } catch let timeout as FetchSocketsTimeout {
            return Set(timeout.partial.map(\.id))
        } catch {
            return await local.socketIDs(options: options, namespace: namespace)
        }
    }

    func addSockets(options: BroadcastOptions, rooms: Set<String>, namespace: Namespace) async {
        await local.addSockets(options: options, rooms: rooms, namespace: namespace)
        guard !options.local else { return }
        publish(.join(namespace: namespace.name, options: options, rooms: rooms))
    }

    func removeSockets(options: BroadcastOptions, rooms: Set<String>, namespace: Namespace) async {
        await local.removeSockets(options: options, rooms: rooms, namespace: namespace)
        guard !options.local else { return }
        publish(.leave(namespace: namespace.name, options: options, rooms: rooms))
    }

    /// This node's sockets, then each live peer's answer (peers as of the last heartbeat).
    func fetchSockets(options: BroadcastOptions, timeout: Duration, namespace: Namespace) async throws -> [SocketSummary] {
        let mine = try await local.fetchSockets(options: options, timeout: timeout, namespace: namespace)
        let expected = registry.peers.count
        guard !options.local, expected > 0 else { return mine }
        let requestID = UUID().uuidString
        let collector = FetchCollector(expected: expected)
        pending.withLock { $0[requestID] = collector }
        defer { _ = pending.withLock { $0.removeValue(forKey: requestID) } }
        publish(.fetch(namespace: namespace.name, options: options, requestID: requestID))
        let (remote, missing) = await collector.wait(timeout: timeout)
        if missing > 0 { throw FetchSocketsTimeout(partial: mine + remote, missingNodes: missing) }
        return mine + remote
    }

    func serverSideEmit(_ event: String, arguments: [JSONValue], namespace: Namespace) async {
        publish(.serverSideEmit(namespace: namespace.name, event: event, arguments: arguments))
    }

    // MARK: Receiving

    /// One NOTIFY payload from the adapter channel (inline, or a reference to a stored payload).
    func receive(payload: String) async {
        var text = payload
        if let reference = ClusterReference(json: payload) {
            guard reference.node != nodeID else { return }
            do {
                let row = try await database.read { db in
                    try await db.raw("SELECT payload FROM adapter_messages WHERE id = \(bind: reference.id)").first()
                }
                guard let stored = try row?.decode(column: "payload", as: String.self) else { return }
                text = stored
            } catch {
                logger.warning("cluster message by reference not read", metadata: ["cluster.ref": "\(reference.id)", "error": "\(String(reflecting: error))"])
                return
            }
        }
        guard let envelope = ClusterEnvelope(json: text) else {
            logger.warning("cluster message malformed: dropped", metadata: ["cluster.payload_bytes": "\(text.utf8.count)"])
            return
        }
        guard envelope.node != nodeID else { return }
        await receive(envelope)
    }

    func receive(_ envelope: ClusterEnvelope) async {
        func namespace(_ name: String) -> Namespace? {
            guard let relay = relayBox.withLock({ $0.relay }), relay.namespaceNames.contains(name) else { return nil }
            return relay.namespace(name)
        }
        switch envelope.message {
        case .broadcast(let name, let options, let frames):
            namespace(name)?.deliverLocally(EncodedPacket(frames: frames), options: options)
        case .disconnect(let name, let options, let close):
            if let ns = namespace(name) { await local.disconnectSockets(options: options, close: close, namespace: ns) }
        case .join(let name, let options, let rooms):
            if let ns = namespace(name) { await local.addSockets(options: options, rooms: rooms, namespace: ns) }
        case .leave(let name, let options, let rooms):
            if let ns = namespace(name) { await local.removeSockets(options: options, rooms: rooms, namespace: ns) }
        case .fetch(let name, let options, let requestID):
            let sockets = namespace(name).map { ns in ns.localSockets(options).map(SocketSummary.init) } ?? []
            publish(.fetchReply(to: envelope.node, requestID: requestID, sockets: sockets))
        case .fetchReply(let to, let requestID, let sockets):
            guard to == nodeID else { return }
            pending.withLock { $0[requestID] }?.add(sockets)
        case .serverSideEmit(let name, let event, let arguments):
            await namespace(name)?.receiveServerSideEmit(event, arguments: arguments)
        }
    }
}

/// Gathers the answers to one `fetchSockets` request until every expected node answered or the time is up.
final class FetchCollector: Sendable {
    private struct State {
        var sockets: [SocketSummary] = []
        var answers = 0
        var expected: Int
        var continuation: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state: Mutex<State>

    init(expected: Int) { state = Mutex(State(expected: expected)) }

    func add(_ sockets: [SocketSummary]) {
        let resume = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.finished else { return nil }
            s.sockets += sockets
            s.answers += 1
            guard s.answers >= s.expected else { return nil }
            s.finished = true
            defer { s.continuation = nil }
            return s.continuation
        }
        resume?.resume()
    }

    private func expire() {
        let resume = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.finished else { return nil }
            s.finished = true
            defer { s.continuation = nil }
            return s.continuation
        }
        resume?.resume()
    }

    /// The sockets gathered and how many nodes did not answer.
    func wait(timeout: Duration) async -> ([SocketSummary], Int) {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.expire()
        }
        await withCheckedContinuation { continuation in
            let done = state.withLock { s -> Bool in
                if s.finished { return true }
                s.continuation = continuation
                return false
            }
            if done { continuation.resume() }
        }
        timer.cancel()
        return state.withLock { s in (s.sockets, max(0, s.expected - s.answers)) }
    }
}
