import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The generator's event loops and their workers, driven from the command's async code.
struct Harness {
    let group: MultiThreadedEventLoopGroup
    let workers: [Worker]

    init(threads: Int, host: String, port: Int, workload: Workload) {
        Self.raiseOpenFileLimit()
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var workers: [Worker] = []
        for loop in group.makeIterator() {
            workers.append(Worker(loop: loop, host: host, port: port, workload: workload))
        }
        self.workers = workers
    }

    /// Spreads `specs` over the workers (client i on worker i mod T) and starts opening them.
    func open(_ specs: [ClientSpec], rate: Double, maxInFlight: Int) async throws {
        let shares = workers.indices.map { w in specs.enumerated().filter { $0.offset % workers.count == w }.map(\.element) }
        let count = Double(workers.count)
        for (worker, share) in zip(workers, shares) {
            try await worker.loop.submit { worker.open(share, rate: rate / count, maxInFlight: max(1, maxInFlight / Int(count))) }.get()
        }
    }

    func snapshot() async throws -> WorkerSnapshot {
        var total = WorkerSnapshot()
        for worker in workers { total.add(try await worker.loop.submit { worker.snapshot() }.get()) }
        return total
    }

    /// The chat ack-latency histograms, merged.
    func ackLatency() async throws -> Histogram {
        var total = Histogram()
        for worker in workers { total.merge(try await worker.loop.submit { worker.chatSnapshot().1 }.get()) }
        return total
    }

    /// Polls until `done` holds or `timeout` passes; returns the last snapshot.
    func wait(timeout: Duration, until done: (WorkerSnapshot) -> Bool) async throws -> WorkerSnapshot {
        let deadline = ContinuousClock.now + timeout
        while true {
            let snapshot = try await snapshot()
            if done(snapshot) || ContinuousClock.now > deadline { return snapshot }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func each(_ body: @escaping @Sendable (Worker) -> Void) async throws {
        for worker in workers { try await worker.loop.submit { body(worker) }.get() }
    }

    func startSending(rate: Double, inFlight: Int = 0) async throws {
        let share = rate / Double(workers.count)
        try await each { $0.startSending(rate: share, inFlight: inFlight) }
    }

    func shutdown() async throws {
        try await each { $0.closeAll() }
        try await Task.sleep(for: .milliseconds(300))
        try await group.shutdownGracefully()
    }

    private static func raiseOpenFileLimit() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
