import Logging
import NIOCore
import Synchronization

/// Receives what arrives on an Engine.IO connection. Messages are delivered one at a time, in
/// order, on the thread that read them (for WebSocket, the channel's event loop): `didReceive`
/// must not block. Work that waits belongs in a task (see ``EngineConnection/spawn(_:)``).
public protocol EngineConnectionDelegate: Sendable {
    func engineConnection(_ connection: EngineConnection, didReceive data: EngineData)
    func engineConnection(_ connection: EngineConnection, didCloseWith reason: EngineCloseReason)
}

/// One Engine.IO session (a `sid`), whichever transport currently carries it.
///
/// Thread-safe: state is behind a mutex; nothing here hops actors. Outbound packets are queued
/// (pre-encoded, shared buffers) and drained by the pending polling GET, or written by the
/// WebSocket transport on its event loop (once per loop tick, however many were queued).
public final class EngineConnection: Sendable {
    public let sid: String
    /// The handshake request (headers, query, remote address).
    public let request: EngineRequest
    /// Shared by every connection of the server (one reference instead of a copy each).
    let settings: EngineSettings
    var configuration: RelayConfiguration { settings.configuration }
    let loop: EventLoopContext
    var eventLoop: any EventLoop { loop.eventLoop }
    /// The server's logger with this session's sid (built when something is logged: idle
    /// connections keep no metadata dictionary).
    var logger: Logger {
        var logger = settings.logger
        logger[metadataKey: "engine.sid"] = .string(sid)
        return logger
    }
    private let delegate: Mutex<(any EngineConnectionDelegate)?>
    private let state: Mutex<State>

    enum PollOutcome: Sendable {
        case payload(ByteBuffer)
        /// The request was cancelled by the client or the session is gone.
        case aborted
    }

    struct State: ~Copyable {
        var machine: EngineSessionStateMachine
        var queue: [OutboundFrame] = []
        var queuedBytes = 0
        /// A polling GET is being answered (held or writing).
        var pollInProgress = false
        var pollWaiter: CheckedContinuation<PollOutcome, Never>?
        /// The WebSocket carrying the session (after the upgrade, or from the start).
        var webSocket: WebSocketTransport?
        /// A write of the queue is scheduled on the WebSocket's loop.
        var writeScheduled = false
        /// The WebSocket's channel takes more writes (NIO's write-buffer watermarks): while it
        /// does not, frames wait in `queue`, bounded by maxOutboundBufferBytes.
        var webSocketWritable = true
        /// The heartbeat timer (ping due, or pong deadline) and its generation: a callback that
        /// fires after being replaced does nothing.
        var timer: NIOScheduledCallback?
        var timerGeneration: UInt32 = 0
        /// The client closed over polling while no GET was held: its in-flight GET is owed a noop.
        var owesPollNoop = false
        /// Ends an upgrade that does not complete within upgradeTimeout.
        var upgradeTimer: Scheduled<Void>?
        /// The probing WebSocket of an upgrade under way: closed when the upgrade times out or
        /// the session ends (as Node's engine.io does), so no probe outlives its session.
        var probe: WebSocketTransport?
        /// When the current ping is (or was) due, and when its pong is due: deadlines are computed
        /// from the schedule, not from when a timer happened to fire, and checked on every request
        /// so a late timer cannot keep a timed-out session alive.
        var pingDue: NIODeadline?
        var pongDeadline: NIODeadline?
    }

    init(
        sid: String,
        request: EngineRequest,
        transport: EngineSessionStateMachine.Transport,
        settings: EngineSettings,
        loop: EventLoopContext
    ) {
        self.sid = sid
        self.request = request
        self.settings = settings
        self.loop = loop
        self.delegate = Mutex(nil)
        self.state = Mutex(State(machine: EngineSessionStateMachine(transport: transport)))
    }

    func setDelegate(_ delegate: any EngineConnectionDelegate) {
        self.delegate.withLock { $0 = delegate }
    }

    /// The open packet's JSON.
    func handshakeJSON(upgrades: [String]) -> String {
        let ups = upgrades.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"sid":"\#(sid)","upgrades":[\#(ups)],"pingInterval":\#(configuration.pingInterval.milliseconds),"pingTimeout":\#(configuration.pingTimeout.milliseconds),"maxPayload":\#(configuration.maxPayload)}"#
    }

    public var transport: EngineSessionStateMachine.Transport? { state.withLock { $0.machine.transport } }
    public var isClosed: Bool { state.withLock { $0.machine.isClosed } }
    var owesPollNoop: Bool { state.withLock { $0.owesPollNoop } }

    /// Arms the heartbeat; called once the open packet is on its way.
    func start() {
        state.withLock { s in apply(s.machine.opened(), to: &s) }
    }

    // MARK: - Sending

    /// Sends a message. Returns false if it was dropped (closed, or volatile and not writable).
    @discardableResult
    public func send(_ data: EngineData, volatile: Bool = false) -> Bool {
        enqueue(CollectionOfOne(OutboundFrame(EnginePacket(.message, data))), volatile: volatile)
    }

    /// Queues pre-encoded frames (all or none).
    @discardableResult
    func enqueue(_ frames: some Collection<OutboundFrame>, volatile: Bool) -> Bool {
        let (queued, write) = queue(frames, volatile: volatile)
        if let write { write.loop.scheduleWrite(write) }
        return queued
    }

    /// Queues pre-encoded frames (all or none); a WebSocket write it needs is added to `batch`
    /// instead of being scheduled now (a broadcast schedules each event loop once).
    func enqueue(_ frames: some Collection<OutboundFrame>, volatile: Bool, batch: inout WriteBatch) -> Bool {
        let (queued, write) = queue(frames, volatile: volatile)
        if let write { batch.add(write) }
        return queued
    }

    /// Queues the frames; returns whether they were queued and the WebSocket whose write the
    /// caller must schedule.
    private func queue(_ frames: some Collection<OutboundFrame>, volatile: Bool) -> (Bool, WebSocketTransport?) {
        var deferred = Deferred()
        var write: WebSocketTransport?
        let queued: Bool = state.withLock { s in
            guard case .open(let transport, let upgrade, _) = s.machine.state else { return false }
            if volatile {
                let writable = transport == .polling ? s.pollWaiter != nil : s.webSocket != nil && s.webSocketWritable
                if !writable { return false }
            }
            var size = 0
            for frame in frames { size += frame.byteCount }
            if s.queuedBytes + size > configuration.maxOutboundBufferBytes {
                s.queue.removeAll()
                s.queuedBytes = 0
                apply(s.machine.close(.slowConsumer), to: &s, deferred: &deferred)
                return false
            }
            s.queue.append(contentsOf: frames)
            s.queuedBytes += size
            if transport == .websocket {
                write = claimWebSocketWrite(&s)
            } else {
                flush(&s, transport: transport, upgrade: upgrade)
            }
            return true
        }
        perform(deferred)
        return (queued, write)
    }

    /// The WebSocket to write this connection's queue, if a write is not already scheduled
    /// (marks it scheduled). While the channel is not writable frames wait, unless the session
    /// is closing: then what is left goes out before the close frame.
    private func claimWebSocketWrite(_ s: inout State, closing: Bool = false) -> WebSocketTransport? {
        guard let webSocket = s.webSocket, s.webSocketWritable || closing, !s.writeScheduled else { return nil }
        s.writeScheduled = true
        return webSocket
    }

    private func flush(_ s: inout State, transport: EngineSessionStateMachine.Transport, upgrade: EngineSessionStateMachine.UpgradeState) {
        guard !s.queue.isEmpty else { return }
        switch transport {
        case .polling:
            // Until the client sends `5`, polling carries packets (pings included), probing or
            // not, as Node's engine.io does: a client may keep polling while its probe is open.
            guard let waiter = s.pollWaiter else { return }
            s.pollWaiter = nil
            let payload = OutboundFrame.payload(s.queue)
            s.queue.removeAll(keepingCapacity: false)
            s.queuedBytes = 0
            waiter.resume(returning: .payload(payload))
        case .websocket:
            if let write = claimWebSocketWrite(&s) { write.loop.scheduleWrite(write) }
        }
    }

    /// Closes the session (server side).
    public func close(reason: EngineCloseReason = .forcedClose) {
        var deferred = Deferred()
        state.withLock { s in apply(s.machine.close(reason), to: &s, deferred: &deferred) }
        perform(deferred)
    }

    // MARK: - Receiving

    /// Handles one decoded packet from the active transport.
    func receive(_ packet: EnginePacket) {
        var deferred = Deferred()
        state.withLock { s in apply(s.machine.received(packet), to: &s, deferred: &deferred) }
        if deferred.closeReason == .parseError {
            logProtocolError("unexpected engine.io packet", ["engine.packet_type": .stringConvertible(packet.type.rawValue)])
        }
        perform(deferred)
    }

    /// Runs work for this connection in a task: on the connection's event loop when
    /// ``RelayConfiguration/runsHandlersOnEventLoop`` is set, else on the global pool.
    public func spawn(_ body: sending @escaping @isolated(any) () async -> Void) {
        if configuration.runsHandlersOnEventLoop {
            Task(executorPreference: loop.executor, operation: body)
        } else {
            Task(operation: body)
        }
    }

    /// Stops (or resumes) reading from the WebSocket, so a client whose events queue up faster
    /// than its handlers finish is slowed down by TCP instead of growing memory.
    func setReadingPaused(_ paused: Bool) {
        let webSocket = state.withLock { $0.webSocket }
        webSocket?.setReadingPaused(paused)
    }

    /// Undecodable Engine.IO input arrived: the session closes (`parse error`), and why is logged.
    func receiveInvalid(_ cause: String) {
        logProtocolError(cause)
        var deferred = Deferred()
        state.withLock { s in apply(s.machine.receivedInvalid(), to: &s, deferred: &deferred) }
        perform(deferred)
    }

    /// Closes the session because the client broke the Engine.IO or Socket.IO protocol
    /// (reason `parse error`, as Node's engine.io), logging why.
    func closeForProtocolError(_ cause: String, _ metadata: Logger.Metadata = [:]) {
        logProtocolError(cause, metadata)
        close(reason: .parseError)
    }

    /// Logs (info: a client's fault, not the server's) why this connection is being closed for
    /// a protocol error. `cause` is a short stable phrase; `metadata` adds the offending detail.
    func logProtocolError(_ cause: String, _ metadata: Logger.Metadata = [:]) {
        var metadata = metadata
        metadata["relay.protocol_error"] = .string(cause)
        if let transport { metadata["engine.transport"] = .string(transport.rawValue) }
        logger.info("closing connection: protocol error", metadata: metadata)
    }

    // MARK: - Long-polling

    /// Answers a polling GET: returns queued packets at once, else holds until data, a noop or close.
    /// Returns nil if the GET is refused (duplicate poll, wrong transport, closed).
    func poll() async -> Result<PollOutcome, EngineHTTPError> {
        var deferred = Deferred()
        let immediate: Result<PollOutcome, EngineHTTPError>? = state.withLock { s in
            checkPongDeadline(&s, deferred: &deferred)
            guard case .open(let transport, let upgrade, _) = s.machine.state else {
                if s.owesPollNoop {
                    // the client closed over POST while this GET was on its way
                    s.owesPollNoop = false
                    return .success(.payload(ByteBuffer(integer: EnginePacketType.noop.character)))
                }
                return .failure(.unknownSid)
            }
            guard transport == .polling else { return .failure(.badRequest) }
            if s.pollInProgress {
                // overlapping GETs: Node closes the session; the first GET gets the close packet
                deferred.protocolError = "overlapping polling GET"
                apply(s.machine.close(.transportError), to: &s, deferred: &deferred)
                return .failure(.badRequest)
            }
            if !s.queue.isEmpty {
                let payload = OutboundFrame.payload(s.queue)
                s.queue.removeAll(keepingCapacity: false)
                s.queuedBytes = 0
                return .success(.payload(payload))
            }
            if upgrade == .probed {
                // nothing to carry: a noop lets the client pause polling and send `5`
                return .success(.payload(ByteBuffer(integer: EnginePacketType.noop.character)))
            }
            s.pollInProgress = true
            return nil
        }
        perform(deferred)
        if let immediate { return immediate }
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<PollOutcome, Never>) in
            state.withLock { s in
                guard case .open(let transport, let upgrade, _) = s.machine.state, transport == .polling else {
                    continuation.resume(returning: .payload(ByteBuffer(integer: EnginePacketType.close.character)))
                    return
                }
                s.pollWaiter = continuation
                flush(&s, transport: transport, upgrade: upgrade)
                if upgrade == .probed { releasePoll(&s) }
            }
        }
        state.withLock { $0.pollInProgress = false }
        return .success(outcome)
    }

    /// Checks a POST may be accepted now.
    func canPost() -> EngineHTTPError? {
        var deferred = Deferred()
        let error: EngineHTTPError? = state.withLock { s in
            checkPongDeadline(&s, deferred: &deferred)
            guard case .open(let transport, _, _) = s.machine.state else { return .unknownSid }
            return transport == .polling ? nil : .badRequest
        }
        perform(deferred)
        return error
    }

    private func releasePoll(_ s: inout State) {
        if let waiter = s.pollWaiter {
            s.pollWaiter = nil
            waiter.resume(returning: .payload(ByteBuffer(integer: EnginePacketType.noop.character)))
        }
    }

    // MARK: - WebSocket

    /// Takes what the WebSocket should write now (called on its loop). `closing` says the session
    /// is over: the transport writes the frames, then closes.
    func takeWebSocketFrames() -> (frames: [OutboundFrame], closing: Bool) {
        state.withLock { s in
            s.writeScheduled = false
            let closing = s.machine.isClosed
            guard s.webSocketWritable || closing, !s.queue.isEmpty else { return ([], closing) }
            let frames = s.queue
            s.queue.removeAll(keepingCapacity: false)
            s.queuedBytes = 0
            return (frames, closing)
        }
    }

    /// The WebSocket's channel crossed a write-buffer watermark.
    func webSocketWritabilityChanged(_ writable: Bool) {
        state.withLock { s in
            s.webSocketWritable = writable
            if writable, case .open(let t, let u, _) = s.machine.state { flush(&s, transport: t, upgrade: u) }
        }
    }

    /// A WebSocket-only session: its transport is attached from the start.
    func attach(_ webSocket: WebSocketTransport) {
        state.withLock { s in
            s.webSocket = webSocket
            if case .open(let t, let u, _) = s.machine.state { flush(&s, transport: t, upgrade: u) }
        }
    }

    /// A WebSocket with this sid connected. False if it must be refused.
    func beginProbe(_ probe: WebSocketTransport) -> Bool {
        state.withLock { s in
            guard s.machine.webSocketProbeOpened() else { return false }
            s.probe = probe
            s.upgradeTimer = eventLoop.scheduleTask(in: .nanoseconds(configuration.upgradeTimeout.nanosecondsClamped)) { () -> Void in
                // (strong capture: cancelled on upgrade, probe close and session close)
                self.upgradeTimedOut()
            }
            return true
        }
    }

    /// The client did not send `5` within upgradeTimeout: polling carries on and the probe is
    /// closed (Node's engine.io closes it the same way).
    private func upgradeTimedOut() {
        let probe: WebSocketTransport? = state.withLock { s in
            s.upgradeTimer = nil
            s.machine.probeClosed()
            defer { s.probe = nil }
            return s.probe
        }
        logger.debug("upgrade timed out: probe closed")
        probe?.closeFromServer()
    }

    /// Can a WebSocket with this sid be accepted right now?
    func canProbe() -> Bool {
        state.withLock { s in
            if case .open(.polling, .none, _) = s.machine.state { return true }
            return false
        }
    }

    enum ProbeStep {
        case reply([EnginePacket])
        case upgraded
        case aborted
    }

    /// A packet on the probing WebSocket; on `5` the session moves to `webSocket`.
    func receiveOnProbe(_ packet: EnginePacket, webSocket: WebSocketTransport) -> ProbeStep {
        state.withLock { s in
            switch s.machine.receivedOnProbe(packet) {
            case .reply(let reply, let releasesPoll):
                if releasesPoll { releasePoll(&s) }
                return .reply([reply])
            case .upgrade:
                releasePoll(&s)
                s.upgradeTimer?.cancel()
                s.upgradeTimer = nil
                s.probe = nil
                s.webSocket = webSocket
                if case .open(let t, let u, _) = s.machine.state { flush(&s, transport: t, upgrade: u) }
                return .upgraded
            case .abort:
                return .aborted
            }
        }
    }

    /// The probing WebSocket closed (or gave up) before the upgrade completed.
    func probeClosed(_ probe: WebSocketTransport) {
        state.withLock { s in
            guard s.probe === probe else { return }
            s.probe = nil
            s.upgradeTimer?.cancel()
            s.upgradeTimer = nil
            s.machine.probeClosed()
        }
    }

    /// The WebSocket carrying the session is gone: the session lets go of it (the two refer to
    /// each other until then).
    func webSocketRemoved(_ webSocket: WebSocketTransport) {
        state.withLock { s in
            if s.webSocket === webSocket { s.webSocket = nil }
            if s.probe === webSocket { s.probe = nil }
        }
    }

    // MARK: - Actions

    struct Deferred {
        var deliveries: [EngineData] = []
        var closeReason: EngineCloseReason?
        /// Why the client's input closed the session (logged before the close is performed).
        var protocolError: String?
        /// A probing WebSocket to close because the session ended.
        var probe: WebSocketTransport?
    }

    /// Performs a heartbeat action (timers, the ping's frame) under the lock.
    private func apply(_ action: EngineSessionStateMachine.TimerAction, to s: inout State) {
        switch action {
        case .none:
            break
        case .schedulePing:
            schedulePing(&s)
        case .sendPing:
            let frame = OutboundFrame(.ping)
            s.queue.append(frame)
            s.queuedBytes += frame.byteCount
            if case .open(let t, let u, _) = s.machine.state { flush(&s, transport: t, upgrade: u) }
            // A ping handed to a transport gets the full pingTimeout from now (as in Node). A ping
            // still queued (polling client not polling) cannot be answered: its deadline runs from
            // when it was due, so a late timer does not extend a dead session.
            let pingStillQueued = !s.queue.isEmpty
            let base = pingStillQueued ? (s.pingDue ?? .now()) : .now()
            let deadline = base + .nanoseconds(configuration.pingTimeout.nanosecondsClamped)
            s.pongDeadline = deadline
            arm(&s, at: deadline, .pongTimeout)
        }
    }

    private func schedulePing(_ s: inout State) {
        let due = NIODeadline.now() + .nanoseconds(configuration.pingInterval.nanosecondsClamped)
        s.pingDue = due
        s.pongDeadline = nil
        arm(&s, at: due, .ping)
    }

    /// Performs what a packet on the active transport calls for; deliveries and the close
    /// notification are collected in `deferred`, to run after the lock is released.
    private func apply(_ action: EngineSessionStateMachine.ReceiveAction, to s: inout State, deferred: inout Deferred) {
        switch action {
        case .none:
            break
        case .schedulePing:
            schedulePing(&s)
        case .deliver(let data):
            deferred.deliveries.append(data)
        case .close(let close):
            apply(close, to: &s, deferred: &deferred)
        }
    }

    /// Ends the session as the machine's ``EngineSessionStateMachine/CloseAction`` says (nil: it
    /// was closed already); the probe's close and the close notification run after the lock.
    private func apply(_ close: EngineSessionStateMachine.CloseAction?, to s: inout State, deferred: inout Deferred) {
        guard let close else { return }
        s.timer?.cancel()
        s.timer = nil
        s.upgradeTimer?.cancel()
        s.upgradeTimer = nil
        deferred.probe = s.probe
        s.probe = nil
        if close.owesLatePollNoop, s.pollWaiter == nil, !s.pollInProgress, s.webSocket == nil {
            s.owesPollNoop = true
        }
        if let waiter = s.pollWaiter {
            s.pollWaiter = nil
            var frames = close.flushesQueue ? s.queue : []
            frames.append(OutboundFrame(close.heldPollAnswer))
            waiter.resume(returning: .payload(OutboundFrame.payload(frames)))
        }
        if !close.flushesQueue || s.webSocket == nil {
            s.queue.removeAll()
            s.queuedBytes = 0
        }
        // the transport writes what is left, then a close frame, then closes
        if let write = claimWebSocketWrite(&s, closing: true) { write.loop.scheduleWrite(write) }
        deferred.closeReason = close.reason
    }

    /// Closes the session now if its pong deadline has passed (the timer may not have fired yet).
    private func checkPongDeadline(_ s: inout State, deferred: inout Deferred) {
        guard let deadline = s.pongDeadline, NIODeadline.now() >= deadline else { return }
        apply(s.machine.pingTimeoutFired(), to: &s, deferred: &deferred)
    }

    /// Arms the heartbeat timer: a NIO scheduled callback, which allocates no promise, future or
    /// closure (every connection has one armed at all times).
    private func arm(_ s: inout State, at deadline: NIODeadline, _ purpose: HeartbeatTimer.Purpose) {
        s.timer?.cancel()
        s.timerGeneration &+= 1
        s.timer = try? eventLoop.scheduleCallback(
            at: deadline, handler: HeartbeatTimer(connection: self, generation: s.timerGeneration, purpose: purpose)
        )
    }

    fileprivate func heartbeatTimerFired(generation: UInt32, purpose: HeartbeatTimer.Purpose) {
        var deferred = Deferred()
        state.withLock { s in
            guard s.timerGeneration == generation else { return }
            s.timer = nil
            switch purpose {
            case .ping: apply(s.machine.pingTimerFired(), to: &s)
            case .pongTimeout: apply(s.machine.pingTimeoutFired(), to: &s, deferred: &deferred)
            }
        }
        perform(deferred)
    }

    private func perform(_ deferred: Deferred) {
        if let cause = deferred.protocolError { logProtocolError(cause) }
        if !deferred.deliveries.isEmpty, let delegate = delegate.withLock({ $0 }) {
            for data in deferred.deliveries {
                delegate.engineConnection(self, didReceive: data)
            }
        }
        deferred.probe?.closeFromServer()
        if let reason = deferred.closeReason { finishClose(reason) }
    }

    private func finishClose(_ reason: EngineCloseReason) {
        logger.debug("engine session closed", metadata: ["reason": .string(reason.rawValue)])
        settings.server?.sessionClosed(self, reason: reason)
        let delegate = self.delegate.withLock { d in
            let current = d
            d = nil
            return current
        }
        delegate?.engineConnection(self, didCloseWith: reason)
    }
}

/// The relay's one conversion of a `Duration` to numbers (Relay imports nothing of ours, so it
/// cannot share Accounts' `Duration.millis`).
extension Duration {
    /// Whole nanoseconds (truncated), saturating at `Int64.max`: what NIO's `TimeAmount` takes.
    var nanosecondsClamped: Int64 {
        let (s, attos) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? Int64.max : ns + attos / 1_000_000_000
    }

    /// Whole milliseconds (truncated): the handshake's `pingInterval` and `pingTimeout`.
    var milliseconds: Int64 { nanosecondsClamped / 1_000_000 }
}

/// What every connection of an ``EngineServer`` shares.
final class EngineSettings: Sendable {
    let configuration: RelayConfiguration
    let logger: Logger
    /// Set once by the server's initializer, before any connection exists (weak: connections
    /// outliving their server must not keep it alive).
    nonisolated(unsafe) weak var server: EngineServer?

    init(configuration: RelayConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }
}

/// The heartbeat timer's callback (strong reference: the timer is cancelled when re-armed and
/// when the session closes).
struct HeartbeatTimer: NIOScheduledCallbackHandler, Sendable {
    enum Purpose: Sendable { case ping, pongTimeout }

    let connection: EngineConnection
    let generation: UInt32
    let purpose: Purpose

    func handleScheduledCallback(eventLoop: some EventLoop) {
        connection.heartbeatTimerFired(generation: generation, purpose: purpose)
    }
}
