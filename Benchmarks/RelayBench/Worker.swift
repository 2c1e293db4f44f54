import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// What the clients of a run do once connected.
enum Workload: Sendable {
    /// Stay idle (answer pings).
    case idle
    /// `join` their room, then send `msg {room, t}`; receipts of `msg` are deliveries.
    case rooms
    /// Already in their rooms (the server joins them); send `message:send` with ack; receipts
    /// of `message:new` are deliveries.
    case chat
}

/// One client to open: which room it uses and its CONNECT auth JSON.
struct ClientSpec: Sendable {
    var index: Int
    var room: String
    var auth: String?
}

/// Counters of one worker (or all of them, summed).
struct WorkerSnapshot: Sendable {
    var started = 0, connected = 0, joined = 0, failed = 0, closed = 0
    var sent = 0, acks = 0, ackFailures = 0, deliveries = 0
    var lastConnectedAt: UInt64 = 0
    var firstStartedAt: UInt64 = .max
    var maxSendLagMicros: UInt64 = 0
    var latency = Histogram()
    var connectLatency = Histogram()
    var errors: [String] = []

    mutating func add(_ o: WorkerSnapshot) {
        started += o.started; connected += o.connected; joined += o.joined; failed += o.failed; closed += o.closed
        sent += o.sent; acks += o.acks; ackFailures += o.ackFailures; deliveries += o.deliveries
        lastConnectedAt = max(lastConnectedAt, o.lastConnectedAt)
        firstStartedAt = min(firstStartedAt, o.firstStartedAt)
        maxSendLagMicros = max(maxSendLagMicros, o.maxSendLagMicros)
        latency.merge(o.latency); connectLatency.merge(o.connectLatency)
        errors += o.errors.prefix(max(0, 5 - errors.count))
    }
}

/// Everything that happens on one event loop: opening its share of the connections at its
/// share of the rate, sending at its share of the message rate, and counting/histogramming
/// what comes back. Touched only on `loop` (the coordinator talks to it through `submit`).
final class Worker: @unchecked Sendable {
    let loop: any EventLoop
    let host: String
    let port: Int
    let workload: Workload
    /// Stop at the Engine.IO open packet (no Socket.IO CONNECT): isolates the transport's cost.
    var engineOnly = false
    private var clients: [SocketIOClientConnection] = []
    private var stats = WorkerSnapshot()
    private var measuring = false
    private var connectTask: RepeatedTask?
    private var sendTask: RepeatedTask?
    private var roundRobin = 0
    /// Closed-loop sending (chat with rate 0): outstanding sends per client.
    private var inFlightPerClient = 0
    private var sending = false
    private var pendingSpecs: [ClientSpec] = []
    private var nextSpec = 0
    private var senders: [SocketIOClientConnection] = []
    private var sentSinceStart = 0

    init(loop: any EventLoop, host: String, port: Int, workload: Workload) {
        self.loop = loop
        self.host = host
        self.port = port
        self.workload = workload
    }

    // MARK: Connecting

    /// Opens `specs` at `rate` connections per second, at most `maxInFlight` handshakes at a time.
    func open(_ specs: [ClientSpec], rate: Double, maxInFlight: Int) {
        loop.preconditionInEventLoop()
        pendingSpecs = specs
        nextSpec = 0
        let begin = monotonicNanos()
        stats.firstStartedAt = min(stats.firstStartedAt, begin)
        connectTask = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { [self] task in
            let elapsed = Double(monotonicNanos() - begin) / 1e9
            let due = rate > 0 ? min(pendingSpecs.count, Int(elapsed * rate) + 1) : pendingSpecs.count
            while nextSpec < due, stats.started - stats.connected - stats.failed < maxInFlight {
                connect(pendingSpecs[nextSpec])
                nextSpec += 1
            }
            if nextSpec == pendingSpecs.count { task.cancel() }
        }
    }

    private func connect(_ spec: ClientSpec) {
        stats.started += 1
        let client = SocketIOClientConnection(worker: self, index: spec.index, room: spec.room, auth: spec.auth)
        let host = self.host
        let boundClient = NIOLoopBound(client, eventLoop: loop)
        let path = "/socket.io/?EIO=4&transport=websocket"
        ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(30))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        WebSocketUpgradeHandler(host: "\(host)", path: path, client: boundClient.value))
                }
            }
            .connect(host: host, port: port)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    // RST on close: no TIME_WAIT left behind to exhaust the ephemeral ports between runs
                    (channel as? SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenFailure { _ in }
                case .failure(let error):
                    connectionFailed("connect: \(error)")
                }
            }
        clients.append(client)
    }

    func connected(_ client: SocketIOClientConnection) {
        let now = monotonicNanos()
        stats.connected += 1
        stats.lastConnectedAt = now
        stats.connectLatency.record((now - client.startedAt) / 1000)
        switch workload {
        case .rooms:
            client.sendEventWithAck({ _ in "[\"join\",\"\(client.room)\"]" }, now: now)
        case .chat:
            if sending, inFlightPerClient > 0 {
                for _ in 0..<inFlightPerClient { sendChat(client, now: now) }
            }
        case .idle:
            break
        }
    }

    func connectionFailed(_ message: String) {
        stats.failed += 1
        if stats.errors.count < 5 { stats.errors.append(message) }
    }

    func connectionClosed(_ client: SocketIOClientConnection) {
        stats.closed += 1
    }

    // MARK: Traffic

    func event(_ client: SocketIOClientConnection, _ payload: ByteBufferView) {
        let stamp: UInt64?
        switch workload {
        case .rooms:
            guard payload.hasPrefix("[\"msg\",") else { return }
            stamp = payload.integer(after: "\"t\":")
        case .chat:
            guard payload.hasPrefix("[\"message:new\",") else { return }
            stamp = payload.integer(after: "\"body\":\"bench ")
        case .idle:
            return
        }
        guard measuring else { return }
        stats.deliveries += 1
        if let stamp {
            let now = monotonicNanos()
            stats.latency.record(now > stamp ? (now - stamp) / 1000 : 0)
        }
    }

    func ack(_ client: SocketIOClientConnection, id: Int, _ payload: ByteBufferView) {
        let now = monotonicNanos()
        guard let sentAt = client.pendingAcks.removeValue(forKey: id) else { return }
        switch workload {
        case .rooms:
            stats.joined += 1
        case .chat:
            let ok = payload.contains("\"ok\":true")
            if measuring {
                if ok { stats.acks += 1 } else { stats.ackFailures += 1 }
                if ok { ackLatency.record((now - sentAt) / 1000) }
            }
            if !ok, stats.errors.count < 5 { stats.errors.append("ack: " + String(decoding: payload.prefix(200), as: UTF8.self)) }
            if sending, inFlightPerClient > 0 { sendChat(client, now: now) }
        case .idle:
            break
        }
    }

    /// Chat: ack latency (the delivery latency of `message:new` goes to `stats.latency`).
    private var ackLatency = Histogram()

    /// Sends `rate` messages per second in total for this worker, round-robin over its connected
    /// clients (rate 0 with `inFlight` > 0: closed loop, each client keeps `inFlight` sends outstanding).
    func startSending(rate: Double, inFlight: Int) {
        loop.preconditionInEventLoop()
        sendTask?.cancel()
        sending = true
        inFlightPerClient = rate > 0 ? 0 : inFlight
        if rate <= 0 {
            let now = monotonicNanos()
            for client in clients where client.connected {
                for _ in 0..<inFlight { sendChat(client, now: now) }
            }
            return
        }
        let begin = monotonicNanos()
        sentSinceStart = 0
        senders = clients.filter(\.connected)
        guard !senders.isEmpty else { return }
        sendTask = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { [self] _ in
            let now = monotonicNanos()
            let due = Int(Double(now - begin) / 1e9 * rate) - sentSinceStart
            guard due > 0 else { return }
            // how late the first of these sends is compared with its schedule
            let scheduledAt = begin + UInt64(Double(sentSinceStart + 1) / rate * 1e9)
            if now > scheduledAt { stats.maxSendLagMicros = max(stats.maxSendLagMicros, (now - scheduledAt) / 1000) }
            for _ in 0..<min(due, 100_000) {
                let client = senders[roundRobin % senders.count]
                roundRobin &+= 1
                switch workload {
                case .rooms:
                    client.sendText("42[\"msg\",{\"room\":\"\(client.room)\",\"t\":\(monotonicNanos())}]")
                    stats.sent += 1
                case .chat:
                    sendChat(client, now: monotonicNanos())
                case .idle:
                    break
                }
            }
            sentSinceStart += due
        }
    }

    private func sendChat(_ client: SocketIOClientConnection, now: UInt64) {
        guard client.connected else { return }
        client.sequence += 1
        let clientMsgID = "b\(client.index)-\(client.sequence)-\(now)"
        client.sendEventWithAck({ _ in
            "[\"message:send\",{\"roomId\":\(client.room),\"body\":\"bench \(now)\",\"clientMsgId\":\"\(clientMsgID)\"}]"
        }, now: now)
        stats.sent += 1
    }

    func stopSending() {
        sendTask?.cancel()
        sendTask = nil
        sending = false
    }

    /// Starts or ends the measured window (deliveries, acks and latencies are counted inside it only).
    func setMeasuring(_ on: Bool) {
        measuring = on
        if on {
            stats.latency = Histogram()
            ackLatency = Histogram()
            stats.deliveries = 0
            stats.acks = 0
            stats.ackFailures = 0
            stats.sent = 0
            stats.maxSendLagMicros = 0
        }
    }

    func snapshot() -> WorkerSnapshot { stats }

    /// Snapshot with the chat ack histogram in `latency` and the delivery histogram in `connectLatency`' place.
    func chatSnapshot() -> (WorkerSnapshot, Histogram) { (stats, ackLatency) }

    func closeAll() {
        connectTask?.cancel()
        stopSending()
        for client in clients { client.close() }
    }
}
