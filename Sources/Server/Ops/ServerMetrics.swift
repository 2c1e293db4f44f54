import Accounts
import CoreMetrics
import Foundation
import Prometheus
import Relay
import SQLKit
import Synchronization

/// The server's Prometheus metrics (swift-metrics API over swift-prometheus, on a registry of
/// this application's own, so two applications in one process, e.g. tests, never share counts).
///
/// Hot-path cost: counters are atomics created once (labels come from a bounded set), a
/// broadcast adds its recipient count once, and gauges that describe state (connections,
/// sockets, outbox rows, nodes alive, certificate expiry) are read when scraped, not tracked.
/// Names follow Prometheus' conventions (`_total` counters, `_seconds` durations).
final class ServerMetrics: RelayObserver, Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private let eventsReceived: NamedCounters
    private let ackLatency: NamedTimers
    private let deliveries: CoreMetrics.Counter
    private let broadcasts: CoreMetrics.Counter
    private let loginFailures: CoreMetrics.Counter
    private let rateLimited: NamedCounters
    private let httpResponses: NamedCounters

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        ]
        self.factory = factory
        eventsReceived = NamedCounters(label: "switchboard_socket_events_received_total", dimension: "event", factory: factory)
        ackLatency = NamedTimers(label: "switchboard_socket_ack_duration_seconds", dimension: "event", factory: factory)
        deliveries = CoreMetrics.Counter(label: "switchboard_socket_deliveries_total", factory: factory)
        broadcasts = CoreMetrics.Counter(label: "switchboard_socket_broadcasts_total", factory: factory)
        loginFailures = CoreMetrics.Counter(label: "switchboard_login_failures_total", factory: factory)
        rateLimited = NamedCounters(label: "switchboard_rate_limited_total", dimension: "route", factory: factory)
        httpResponses = NamedCounters(label: "switchboard_http_responses_total", dimension: "class", factory: factory)
    }

    // MARK: RelayObserver

    func eventReceived(_ event: String, namespace: String) { eventsReceived.increment(event) }
    func ackSent(_ event: String, elapsed: Duration) { ackLatency.record(event, elapsed) }
    func delivered(recipients: Int) {
        broadcasts.increment()
        if recipients > 0 { deliveries.increment(by: recipients) }
    }

    // MARK: HTTP

    /// A response to an API request: login failures (401 from `POST /api/auth/login`) and rate-limit
    /// refusals (429, by route path) are counted; every response by status class.
    func httpResponse(path: String, method: String, status: Int) {
        httpResponses.increment("\(status / 100)xx")
        if status == 429 { rateLimited.increment(path) }
        if status == 401 && method == "POST" && path == "/api/auth/login" { loginFailures.increment() }
    }

    // MARK: Scrape

    /// State read at scrape time.
    struct Sources: Sendable {
        let relay: Relay
        let database: any Database
        let nodesAlive: (@Sendable () -> Int)?
        let tls: TLSCertificates?
    }

    /// The Prometheus text exposition (version 0.0.4) of every metric, with the gauges read now.
    func scrape(_ sources: Sources) async -> [UInt8] {
        for (transport, count) in sources.relay.engine.connectionCountsByTransport {
            gauge("switchboard_connections", [("transport", transport)]).record(count)
        }
        gauge("switchboard_sockets", [("namespace", "/")]).record(sources.relay.namespace("/").sockets.count)
        if let rows = try? await outboxRows(sources.database) {
            for status in ["pending", "sending", "sent", "dead"] {
                gauge("switchboard_mail_outbox_rows", [("status", status)]).record(rows[status] ?? 0)
            }
        }
        if let nodesAlive = sources.nodesAlive { gauge("switchboard_cluster_nodes_alive", []).record(nodesAlive()) }
        if let tls = sources.tls { gauge("switchboard_tls_certificate_expiry_seconds", []).record(tls.expiry.timeIntervalSince1970) }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8192)
        registry.emit(into: &buffer)
        return buffer
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: label, dimensions: dimensions, factory: factory)
    }

    /// Outbox rows by status: pending + sending is the queue's depth, sent and dead its outcomes
    /// (sent rows are kept, bodies blanked, so the counts are totals since the last cleanup).
    private func outboxRows(_ database: any Database) async throws -> [String: Int] {
        try await database.read { db in
            let rows = try await db.raw("SELECT status, COUNT(*) AS n FROM mail_outbox GROUP BY status").all()
            var counts: [String: Int] = [:]
            for row in rows {
                counts[try row.decode(column: "status", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return counts
        }
    }
}

/// Counters under one dimension whose values come from clients (event names, paths): the first
/// 32 well-formed values get their own series, anything else counts as `other`, so a client
/// cannot grow the label set. Lookups after the first are a read under a mutex.
final class NamedCounters: Sendable {
    private let label: String
    private let dimension: String
    private let factory: PrometheusMetricsFactory
    private let counters = Mutex<[String: CoreMetrics.Counter]>([:])
    static let limit = 32

    init(label: String, dimension: String, factory: PrometheusMetricsFactory) {
        self.label = label
        self.dimension = dimension
        self.factory = factory
    }

    func increment(_ name: String, by amount: Int = 1) {
        counter(name).increment(by: amount)
    }

    private func counter(_ name: String) -> CoreMetrics.Counter {
        counters.withLock { all in
            if let existing = all[name] { return existing }
            let key = all.count < Self.limit && LabelValue.isWellFormed(name) ? name : "other"
            if let other = all[key] { return other }
            let created = CoreMetrics.Counter(label: label, dimensions: [(dimension, key)], factory: factory)
            all[key] = created
            return created
        }
    }
}

/// Duration histograms under one bounded dimension, as ``NamedCounters``.
final class NamedTimers: Sendable {
    private let label: String
    private let dimension: String
    private let factory: PrometheusMetricsFactory
    private let timers = Mutex<[String: CoreMetrics.Timer]>([:])

    init(label: String, dimension: String, factory: PrometheusMetricsFactory) {
        self.label = label
        self.dimension = dimension
        self.factory = factory
    }

    func record(_ name: String, _ duration: Duration) {
        let timer = timers.withLock { all in
            if let existing = all[name] { return existing }
            let key = all.count < NamedCounters.limit && LabelValue.isWellFormed(name) ? name : "other"
            if let other = all[key] { return other }
            let created = CoreMetrics.Timer(label: label, dimensions: [(dimension, key)], preferredDisplayUnit: .seconds, factory: factory)
            all[key] = created
            return created
        }
        timer.recordNanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}

enum LabelValue {
    /// Event names and paths as the app uses them: 1-48 ASCII letters, digits and `:/_-.`.
    static func isWellFormed(_ value: String) -> Bool {
        let utf8 = value.utf8
        guard (1...48).contains(utf8.count) else { return false }
        return utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b == 0x3a || b == 0x2f || b == 0x5f || b == 0x2d || b == 0x2e
        }
    }
}
