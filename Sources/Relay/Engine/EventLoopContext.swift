import NIOCore
import Synchronization

/// What the relay keeps per event loop: the write coalescer of its WebSocket transports and a
/// task executor that runs event handlers on the loop itself.
final class EventLoopContext: Sendable {
    let eventLoop: any EventLoop
    let executor: EventLoopTaskExecutor
    /// WebSocket transports with queued frames, written and flushed once per loop tick.
    private let dirty: Mutex<Dirty>

    private struct Dirty: ~Copyable {
        var transports: [WebSocketTransport] = []
        var scheduled = false
    }

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.executor = EventLoopTaskExecutor(eventLoop: eventLoop)
        self.dirty = Mutex(Dirty())
    }

    /// Asks for `transport.writeQueued()` on the loop. Every transport made dirty before the
    /// loop gets to it is written in the same pass, so a broadcast to many connections on one
    /// loop costs one wake-up of that loop, and each connection one `writev`.
    func scheduleWrite(_ transport: WebSocketTransport) {
        scheduleWrites(CollectionOfOne(transport))
    }

    /// `scheduleWrite` for many transports of this loop, with one lock and one wake-up.
    func scheduleWrites(_ transports: some Sequence<WebSocketTransport>) {
        let wake: Bool = dirty.withLock { d in
            d.transports.append(contentsOf: transports)
            if d.scheduled { return false }
            d.scheduled = true
            return true
        }
        if wake {
            eventLoop.execute { self.writeDirty() }
        }
    }

    private func writeDirty() {
        let transports: [WebSocketTransport] = dirty.withLock { d in
            d.scheduled = false
            let all = d.transports
            d.transports.removeAll(keepingCapacity: true)
            return all
        }
        for transport in transports { transport.writeQueued() }
    }
}

/// Runs Swift tasks on a NIO event loop, so a socket's event handlers run on the thread that
/// reads and writes its connection (no hop to the global pool and back).
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

/// One ``EventLoopContext`` per event loop of a group.
final class EventLoopContexts: Sendable {
    private let contexts: Mutex<[ObjectIdentifier: EventLoopContext]>

    init() { contexts = Mutex([:]) }

    func context(for eventLoop: any EventLoop) -> EventLoopContext {
        let key = ObjectIdentifier(eventLoop as AnyObject)
        return contexts.withLock { all in
            if let existing = all[key] { return existing }
            let created = EventLoopContext(eventLoop: eventLoop)
            all[key] = created
            return created
        }
    }
}

/// WebSocket writes to schedule, grouped by event loop when scheduled (a broadcast touches
/// each loop once).
struct WriteBatch {
    private var transports: [WebSocketTransport] = []

    mutating func add(_ transport: WebSocketTransport) {
        transports.append(transport)
    }

    func schedule() {
        guard let first = transports.first else { return }
        if transports.count == 1 { return first.loop.scheduleWrite(first) }
        // few loops (one per core): one pass per distinct loop
        var scheduled: [ObjectIdentifier] = []
        for transport in transports {
            let loop = transport.loop
            guard !scheduled.contains(ObjectIdentifier(loop)) else { continue }
            scheduled.append(ObjectIdentifier(loop))
            loop.scheduleWrites(transports.lazy.filter { $0.loop === loop })
        }
    }
}
