/// Why an Engine.IO session ended. The raw values are the reasons Node's engine.io reports.
public enum EngineCloseReason: String, Sendable, Hashable {
    /// The client closed the transport or sent a close packet.
    case transportClose = "transport close"
    /// The transport failed (aborted request, write error).
    case transportError = "transport error"
    /// No pong within pingTimeout after a ping.
    case pingTimeout = "ping timeout"
    /// The client sent something that is not Engine.IO (or not Socket.IO at the layer above).
    case parseError = "parse error"
    /// The server closed the session.
    case forcedClose = "forced close"
    /// The connection's outbound buffer stayed over its bound: a slow consumer.
    case slowConsumer = "slow consumer"
    /// The server is shutting down.
    case serverShutdown = "server shutting down"
}

/// The pure Engine.IO session state machine: heartbeat, the polling→WebSocket upgrade and close.
///
/// It holds no sockets and no timers: every input returns the actions the session must perform.
public struct EngineSessionStateMachine: Sendable, Hashable {
    public enum Transport: String, Sendable, Hashable { case polling, websocket }

    public enum UpgradeState: Sendable, Hashable {
        case none
        /// A WebSocket with this sid is open; waiting for `2probe`.
        case awaitingProbe
        /// `3probe` sent; waiting for `5`.
        case probed
    }

    public enum Heartbeat: Sendable, Hashable {
        /// The ping timer is armed.
        case waitingToPing
        /// A ping was sent; the pong deadline is armed.
        case awaitingPong
    }

    public enum State: Sendable, Hashable {
        case open(transport: Transport, upgrade: UpgradeState, heartbeat: Heartbeat)
        case closed(EngineCloseReason)
    }

    public enum Action: Sendable, Hashable {
        /// Queue a packet on the active transport.
        case send(EnginePacket)
        /// Arm the ping timer (pingInterval), replacing any timer.
        case schedulePing
        /// Arm the pong deadline (pingTimeout), replacing any timer.
        case schedulePingTimeout
        /// Hand a message to the layer above.
        case deliver(EngineData)
        /// Write a packet directly on the probing WebSocket.
        case sendOnProbe(EnginePacket)
        /// Answer the pending (or next) polling GET with a noop so the client stops polling.
        case releasePoll
        /// The upgrade completed: drain the queue over the WebSocket from now on.
        case switchToWebSocket
        /// Close the session: cancel timers, release waiters, notify the layer above.
        case close(EngineCloseReason)
    }

    public private(set) var state: State

    public init(transport: Transport) {
        state = .open(transport: transport, upgrade: .none, heartbeat: .waitingToPing)
    }

    public var isClosed: Bool { if case .closed = state { return true } else { return false } }

    public var transport: Transport? {
        if case .open(let t, _, _) = state { return t }
        return nil
    }

    public var upgrade: UpgradeState {
        if case .open(_, let u, _) = state { return u }
        return .none
    }

    /// The session was just created (its open packet is being sent).
    public func opened() -> [Action] { [.schedulePing] }

    public mutating func pingTimerFired() -> [Action] {
        guard case .open(let t, let u, .waitingToPing) = state else { return [] }
        state = .open(transport: t, upgrade: u, heartbeat: .awaitingPong)
        return [.send(.ping), .schedulePingTimeout]
    }

    public mutating func pingTimeoutFired() -> [Action] {
        guard case .open(_, _, .awaitingPong) = state else { return [] }
        state = .closed(.pingTimeout)
        return [.close(.pingTimeout)]
    }

    /// A packet arrived on the active transport.
    public mutating func received(_ packet: EnginePacket) -> [Action] {
        guard case .open(let t, let u, let h) = state else { return [] }
        switch packet.type {
        case .pong:
            guard h == .awaitingPong else { return [] }
            state = .open(transport: t, upgrade: u, heartbeat: .waitingToPing)
            return [.schedulePing]
        case .message:
            return [.deliver(packet.data ?? .text(""))]
        case .close:
            state = .closed(.transportClose)
            return [.close(.transportClose)]
        case .noop, .ping:
            return []
        case .open, .upgrade:
            state = .closed(.parseError)
            return [.close(.parseError)]
        }
    }

    /// Input that could not be decoded arrived.
    public mutating func receivedInvalid() -> [Action] {
        close(.parseError)
    }

    /// Server-side close (or a transport failure detected by the session).
    public mutating func close(_ reason: EngineCloseReason) -> [Action] {
        guard !isClosed else { return [] }
        state = .closed(reason)
        return [.close(reason)]
    }

    /// A WebSocket with this session's sid connected. Returns false if it must be refused
    /// (not polling, or an upgrade already under way).
    public mutating func webSocketProbeOpened() -> Bool {
        guard case .open(.polling, .none, let h) = state else { return false }
        state = .open(transport: .polling, upgrade: .awaitingProbe, heartbeat: h)
        return true
    }

    /// A packet arrived on the probing WebSocket.
    public mutating func receivedOnProbe(_ packet: EnginePacket) -> [Action] {
        guard case .open(.polling, let u, let h) = state else { return [] }
        switch (u, packet.type) {
        case (.awaitingProbe, .ping) where packet.data == .text("probe"):
            state = .open(transport: .polling, upgrade: .probed, heartbeat: h)
            return [.sendOnProbe(.probePong), .releasePoll]
        case (.probed, .upgrade):
            state = .open(transport: .websocket, upgrade: .none, heartbeat: h)
            return [.releasePoll, .switchToWebSocket]
        case (.probed, .ping) where packet.data == .text("probe"):
            return [.sendOnProbe(.probePong)]
        default:
            // anything else aborts the upgrade; the session continues over polling
            state = .open(transport: .polling, upgrade: .none, heartbeat: h)
            return []
        }
    }

    /// The probing WebSocket closed before the upgrade completed.
    public mutating func probeClosed() {
        guard case .open(.polling, let u, let h) = state, u != .none else { return }
        state = .open(transport: .polling, upgrade: .none, heartbeat: h)
    }
}
