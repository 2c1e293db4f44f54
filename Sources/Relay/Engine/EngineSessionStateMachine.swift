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
/// It holds no sockets and no timers: every input returns what the session must do, each input
/// its own action type holding only what can follow it (as postgres-nio's `ListenStateMachine`),
/// so no caller receives an action it must ignore. How a session closes (what happens to queued
/// packets and to a held polling GET) is decided here too, in ``CloseAction``.
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

    /// After ``opened()`` and ``pingTimerFired()``.
    public enum TimerAction: Sendable, Hashable {
        case none
        /// Arm the ping timer (pingInterval), replacing any timer.
        case schedulePing
        /// Queue a ping on the active transport, then arm the pong deadline (pingTimeout),
        /// replacing any timer.
        case sendPing
    }

    /// After ``received(_:)``: a packet on the active transport.
    public enum ReceiveAction: Sendable, Hashable {
        case none
        /// The pong came: arm the ping timer (pingInterval), replacing the pong deadline.
        case schedulePing
        /// Hand a message to the layer above.
        case deliver(EngineData)
        case close(CloseAction)
    }

    /// After ``receivedOnProbe(_:)``: a packet on the probing WebSocket.
    public enum ProbeAction: Sendable, Hashable {
        /// Write `packet` on the probe. `releasesPoll`: also answer the held (or next) polling GET
        /// with a noop, so the client pauses polling and can send `5`.
        case reply(EnginePacket, releasesPoll: Bool)
        /// `5`: the upgrade is complete. Answer the held polling GET with a noop and carry the
        /// session (its queue first) over the probe's WebSocket from now on.
        case upgrade
        /// Anything else: the upgrade is abandoned (the session carries on over polling); the
        /// probe is closed.
        case abort
    }

    /// How the session ends (after ``close(_:)``, ``receivedInvalid()``, ``pingTimeoutFired()`` or a
    /// close packet): cancel the timers, close an upgrade's probe, then what this says, then
    /// tell the layer above `reason`.
    public struct CloseAction: Sendable, Hashable {
        public var reason: EngineCloseReason
        /// Packets still queued go out before the end (a server's own close: a Socket.IO
        /// disconnect queued just before it must reach the client); otherwise they are dropped.
        public var flushesQueue: Bool
        /// What ends a polling GET held at the close (after the queue, when it is flushed): `noop`
        /// when the client closed (it asked; Node's engine.io answers so), `close` otherwise.
        public var heldPollAnswer: EnginePacket
        /// A client that closed over POST may have a GET on its way: if no GET is held and no
        /// WebSocket carries the session, that GET is owed a `noop` instead of "unknown sid".
        public var owesLatePollNoop: Bool

        init(_ reason: EngineCloseReason) {
            self.reason = reason
            flushesQueue = reason == .forcedClose || reason == .serverShutdown
            heldPollAnswer = reason == .transportClose ? .noop : .close
            owesLatePollNoop = reason == .transportClose
        }
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
    public func opened() -> TimerAction { .schedulePing }

    public mutating func pingTimerFired() -> TimerAction {
        guard case .open(let t, let u, .waitingToPing) = state else { return .none }
        state = .open(transport: t, upgrade: u, heartbeat: .awaitingPong)
        return .sendPing
    }

    /// The pong deadline passed (its timer fired, or a request found it past). nil: a pong came
    /// meanwhile, or the session is closed.
    public mutating func pingTimeoutFired() -> CloseAction? {
        guard case .open(_, _, .awaitingPong) = state else { return nil }
        return close(.pingTimeout)
    }

    /// A packet arrived on the active transport.
    public mutating func received(_ packet: EnginePacket) -> ReceiveAction {
        guard case .open(let t, let u, let h) = state else { return .none }
        switch packet.type {
        case .pong:
            guard h == .awaitingPong else { return .none }
            state = .open(transport: t, upgrade: u, heartbeat: .waitingToPing)
            return .schedulePing
        case .message:
            return .deliver(packet.data ?? .text(""))
        case .close:
            return close(.transportClose).map(ReceiveAction.close) ?? .none
        case .noop, .ping:
            return .none
        case .open, .upgrade:
            return close(.parseError).map(ReceiveAction.close) ?? .none
        }
    }

    /// Input that could not be decoded arrived.
    public mutating func receivedInvalid() -> CloseAction? {
        close(.parseError)
    }

    /// Server-side close (or a transport failure detected by the session). nil when already closed.
    public mutating func close(_ reason: EngineCloseReason) -> CloseAction? {
        guard !isClosed else { return nil }
        state = .closed(reason)
        return CloseAction(reason)
    }

    /// A WebSocket with this session's sid connected. Returns false if it must be refused
    /// (not polling, or an upgrade already under way).
    public mutating func webSocketProbeOpened() -> Bool {
        guard case .open(.polling, .none, let h) = state else { return false }
        state = .open(transport: .polling, upgrade: .awaitingProbe, heartbeat: h)
        return true
    }

    /// A packet arrived on the probing WebSocket.
    public mutating func receivedOnProbe(_ packet: EnginePacket) -> ProbeAction {
        guard case .open(.polling, let u, let h) = state else { return .abort }
        switch (u, packet.type) {
        case (.awaitingProbe, .ping) where packet.data == .text("probe"):
            state = .open(transport: .polling, upgrade: .probed, heartbeat: h)
            return .reply(.probePong, releasesPoll: true)
        case (.probed, .upgrade):
            state = .open(transport: .websocket, upgrade: .none, heartbeat: h)
            return .upgrade
        case (.probed, .ping) where packet.data == .text("probe"):
            return .reply(.probePong, releasesPoll: false)
        default:
            // anything else aborts the upgrade; the session continues over polling
            state = .open(transport: .polling, upgrade: .none, heartbeat: h)
            return .abort
        }
    }

    /// The probing WebSocket closed before the upgrade completed (or the upgrade timed out).
    public mutating func probeClosed() {
        guard case .open(.polling, let u, let h) = state, u != .none else { return }
        state = .open(transport: .polling, upgrade: .none, heartbeat: h)
    }
}
