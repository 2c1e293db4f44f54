import Foundation

/// One measured window of traffic.
struct Measurement {
    var seconds: Double
    var totals: WorkerSnapshot
    var server: (seconds: Double, percent: Double)?
    var generator: (seconds: Double, percent: Double)

    var deliveriesPerSecond: Double { Double(totals.deliveries) / seconds }
    var sentPerSecond: Double { Double(totals.sent) / seconds }

    var serverMicrosPerDelivery: Double? {
        guard let server, totals.deliveries > 0 else { return nil }
        return server.seconds * 1e6 / Double(totals.deliveries)
    }

    func describe(latency: Histogram? = nil, label: String = "delivery latency") -> String {
        let h = latency ?? totals.latency
        var lines = [
            String(format: "sent %.0f msg/s, delivered %.0f/s over %.1f s", sentPerSecond, deliveriesPerSecond, seconds),
            "\(label): p50 \(h.percentile(50).ms) ms, p90 \(h.percentile(90).ms) ms, p99 \(h.percentile(99).ms) ms, "
                + "p99.9 \(h.percentile(99.9).ms) ms, max \(h.max.ms) ms (\(h.count) samples)",
        ]
        if let server {
            lines.append(String(format: "server CPU %.1f %% of a core (%.2f s)", server.percent, server.seconds)
                + (serverMicrosPerDelivery.map { String(format: ", %.2f µs per delivery", $0) } ?? ""))
        }
        lines.append(String(format: "generator CPU %.1f %% of a core; max send lag %@ ms", generator.percent, totals.maxSendLagMicros.ms))
        return lines.joined(separator: "\n")
    }
}

extension Harness {
    /// Opens the clients and waits until every one is connected (and has joined its room, for `.rooms`).
    func connectAll(_ specs: [ClientSpec], options: CommonOptions, join: Bool) async throws -> WorkerSnapshot {
        let start = ContinuousClock.now
        try await open(specs, rate: options.connectRate, maxInFlight: options.maxInFlight)
        let snapshot = try await wait(timeout: .seconds(300)) { s in
            s.connected + s.failed >= specs.count && (!join || s.joined >= s.connected)
        }
        let elapsed = ContinuousClock.now - start
        print("connected \(snapshot.connected)/\(specs.count) (failed \(snapshot.failed)\(join ? ", joined \(snapshot.joined)" : "")) in \(elapsed)")
        if !snapshot.errors.isEmpty { print("errors: \(snapshot.errors)") }
        return snapshot
    }

    /// Lets traffic run `warmup` seconds, then measures `duration` seconds.
    func measure(_ window: WindowOptions, serverPid: Int32?) async throws -> Measurement {
        try await Task.sleep(for: .seconds(window.warmup))
        let serverCPU = serverPid.flatMap { CPUWindow(pid: $0) }
        let ownCPU = CPUWindow(pid: ProcessStats.ownPid)!
        let began = ContinuousClock.now
        try await each { $0.setMeasuring(true) }
        try await Task.sleep(for: .seconds(window.duration))
        try await each { $0.setMeasuring(false) }
        let elapsed = ContinuousClock.now - began
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Measurement(seconds: seconds, totals: try await snapshot(), server: serverCPU?.finish(), generator: ownCPU.finish())
    }
}
