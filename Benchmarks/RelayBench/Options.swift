import ArgumentParser

/// Options every scenario takes.
struct CommonOptions: ParsableArguments {
    @Option(help: "Server host.")
    var host = "127.0.0.1"

    @Option(help: "Server port.")
    var port: Int = 3000

    @Option(help: "Generator event-loop threads.")
    var threads: Int = 1

    @Option(help: "Server process id (for RSS and CPU readings from /proc).")
    var serverPid: Int32?

    @Option(help: "New connections per second while connecting (0 = as fast as possible).")
    var connectRate: Double = 2000

    @Option(help: "Handshakes in flight at most.")
    var maxInFlight: Int = 256

    func harness(_ workload: Workload) -> Harness {
        Harness(threads: threads, host: host, port: port, workload: workload)
    }
}

/// Measurement window options.
struct WindowOptions: ParsableArguments {
    @Option(help: "Seconds of traffic before measuring.")
    var warmup: Double = 3

    @Option(help: "Seconds measured.")
    var duration: Double = 10
}
