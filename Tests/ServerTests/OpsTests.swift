import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server
import Accounts

@Suite("Ops: trusted proxies")
struct TrustedProxiesTests {
    @Test("CIDR blocks parse and match IPv4, IPv6 and IPv4-mapped addresses")
    func cidrMatching() throws {
        let v4 = try #require(CIDRBlock("10.0.0.0/8"))
        #expect(v4.contains(try #require(IPAddress("10.255.1.2"))))
        #expect(!v4.contains(try #require(IPAddress("11.0.0.1"))))
        #expect(v4.contains(try #require(IPAddress("::ffff:10.1.2.3"))))  // a dual-stack socket's spelling
        let odd = try #require(CIDRBlock("192.168.1.128/25"))
        #expect(odd.contains(try #require(IPAddress("192.168.1.200"))))
        #expect(!odd.contains(try #require(IPAddress("192.168.1.127"))))
        let v6 = try #require(CIDRBlock("2001:db8::/32"))
        #expect(v6.contains(try #require(IPAddress("2001:db8:ffff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db9::1"))))
        #expect(!v6.contains(try #require(IPAddress("10.0.0.1"))))
        let host = try #require(CIDRBlock("::1"))
        #expect(host.prefixLength == 128)
        #expect(host.contains(try #require(IPAddress("[::1]"))))
        #expect(try #require(CIDRBlock("0.0.0.0/0")).contains(try #require(IPAddress("8.8.8.8"))))
        let mapped = try #require(CIDRBlock("::ffff:10.0.0.0/104"))
        #expect(mapped.contains(try #require(IPAddress("10.9.9.9"))))
        for bad in ["10.0.0.0/33", "2001:db8::/129", "10.0.0", "example.com", "10.0.0.0/-1", "10.0.0.0/x", ""] {
            #expect(CIDRBlock(bad) == nil, "\(bad)")
        }
    }

    @Test("TRUSTED_PROXIES names every bad entry")
    func listParsing() async throws {
        let proxies = try TrustedProxies(parsing: " 10.0.0.0/8 , ::1,127.0.0.1/32,")
        #expect(proxies.blocks.count == 3)
        #expect(throws: TrustedProxies.InvalidEntries.self) { try TrustedProxies(parsing: "10.0.0.0/8, nonsense, 1.2.3.4/40") }
        do {
            _ = try TrustedProxies(parsing: "10.0.0.0/8, nonsense, 1.2.3.4/40")
        } catch let error as TrustedProxies.InvalidEntries {
            #expect(error.entries == ["nonsense", "1.2.3.4/40"])
        }
        do {
            _ = try await AppConfiguration.load(arguments: [], environment: ["TRUSTED_PROXIES": "10.0.0.0/8,bad", "METRICS_PORT": "x"])
            Issue.record("expected a configuration error")
        } catch let error as ConfigurationError {
            #expect(Set(error.problems.map(\.key)).isSuperset(of: ["TRUSTED_PROXIES", "METRICS_PORT"]))
        }
    }

    func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var f = HTTPFields()
        for (k, v) in pairs { f.append(HTTPField(name: HTTPField.Name(k)!, value: v)) }
        return f
    }

    @Test("X-Forwarded-For: only from a trusted peer, rightmost untrusted hop wins")
    func forwardedFor() throws {
        let proxies = try TrustedProxies(parsing: "10.0.0.0/8,127.0.0.1")
        let xff = { (value: String) in self.fields([("X-Forwarded-For", value)]) }
        // no proxies trusted: the header is ignored
        #expect(TrustedProxies.none.clientAddress(peer: "127.0.0.1", headers: xff("198.51.100.7")) == "127.0.0.1")
        // an untrusted peer's header is ignored
        #expect(proxies.clientAddress(peer: "203.0.113.5", headers: xff("198.51.100.7")) == "203.0.113.5")
        // a trusted peer: the rightmost hop that is not a proxy
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: xff("198.51.100.7")) == "198.51.100.7")
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: xff("203.0.113.99, 198.51.100.7, 10.1.2.3")) == "198.51.100.7")
        // several header lines are one list
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: fields([("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "198.51.100.7, 10.0.0.2")])) == "198.51.100.7")
        // every hop trusted: the leftmost
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: xff("10.0.0.9, 10.0.0.2")) == "10.0.0.9")
        // junk ends the walk at the hop right of it (never a key-less client)
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: xff("198.51.100.7, garbage, 10.0.0.2")) == "10.0.0.2")
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: xff("garbage")) == "127.0.0.1")
        // canonical text, ports and brackets dropped
        #expect(proxies.clientAddress(peer: "::ffff:127.0.0.1", headers: xff("2001:DB8:0:0::1")) == "2001:db8::1")
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: xff("198.51.100.7:5555")) == "198.51.100.7")
        // no header: the peer
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: [:]) == "127.0.0.1")
        #expect(proxies.clientAddress(peer: nil, headers: xff("198.51.100.7")) == nil)
    }

    @Test("Only TRUSTED_PROXY_HEADER is read: a client's own Forwarded is ignored by default (nginx appends only X-Forwarded-For)")
    func onlyTheConfiguredHeader() async throws {
        let proxies = try TrustedProxies(parsing: "10.0.0.0/8,127.0.0.1")
        #expect(proxies.header == .xForwardedFor)
        // what the shipped nginx forwards for a client that sent `Forwarded: for=1.2.3.4` itself
        let forged = fields([("Forwarded", "for=1.2.3.4"), ("X-Forwarded-For", "198.51.100.7")])
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: forged) == "198.51.100.7")
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: fields([("Forwarded", "for=1.2.3.4")])) == "127.0.0.1")
        // TRUSTED_PROXY_HEADER=forwarded: the other way round
        var viaForwarded = proxies
        viaForwarded.header = .forwarded
        #expect(viaForwarded.clientAddress(peer: "127.0.0.1", headers: forged) == "1.2.3.4")
        #expect(viaForwarded.clientAddress(peer: "127.0.0.1", headers: fields([("X-Forwarded-For", "198.51.100.7")])) == "127.0.0.1")
        // the key is read and checked
        let config = try await AppConfiguration.load(arguments: [], environment: ["TRUSTED_PROXIES": "::1", "TRUSTED_PROXY_HEADER": "Forwarded"])
        #expect(config.ops.trustedProxies.header == .forwarded)
        do {
            _ = try await AppConfiguration.load(arguments: [], environment: ["TRUSTED_PROXY_HEADER": "x-real-ip"])
            Issue.record("expected a configuration error")
        } catch let error as ConfigurationError {
            #expect(error.problems.map(\.key).contains("TRUSTED_PROXY_HEADER"))
        }
    }

    @Test("Forwarded (RFC 7239), when TRUSTED_PROXY_HEADER=forwarded: its for= values are walked the same way")
    func forwardedHeader() throws {
        var proxies = try TrustedProxies(parsing: "10.0.0.0/8,::1")
        proxies.header = .forwarded
        let value = #"for=203.0.113.99;proto=http, For="[2001:db8:cafe::17]:4711";by=10.0.0.1, for=10.0.0.3"#
        let headers = fields([("Forwarded", value), ("X-Forwarded-For", "198.51.100.1")])
        #expect(proxies.clientAddress(peer: "::1", headers: headers) == "2001:db8:cafe::17")
        #expect(proxies.clientAddress(peer: "::1", headers: fields([("Forwarded", "for=unknown, for=10.0.0.3")])) == "10.0.0.3")
        #expect(proxies.clientAddress(peer: "::1", headers: fields([("Forwarded", "for=_hidden")])) == "::1")
        #expect(proxies.clientAddress(peer: "::1", headers: fields([("Forwarded", "for=\"198.51.100.7:80\"")])) == "198.51.100.7")
    }
}

@Suite("Ops: health, readiness, metrics")
struct OpsEndpointTests {
    @Test("/ready: ready once migrated, 503 while draining; /health stays 200")
    func readyWhileDraining() async throws {
        let readiness = Readiness()
        let app = try await buildApplication(try TestApp.configuration(), logger: TestApp.logger, readiness: readiness)
        try await app.test(.live) { client in
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["status"] as? String == "ready")
                #expect(response.json["migrations"] as? String == "current")
            }
            readiness.beginDraining()
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.json["draining"] as? Bool == true)
                #expect(response.json["status"] as? String == "not_ready")
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("/metrics counts login failures and is Prometheus text; the token is enforced")
    func metricsText() async throws {
        var config = try TestApp.configuration()
        config.ops.metricsToken = "a-metrics-token-of-some-length"
        let app = try await buildApplication(config, logger: TestApp.logger)
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/api/auth/login", method: .post, body: .json(["login": "nobody-here", "password": "wrong password"])
            ) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer a-metrics-token-of-some-length"]) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains("switchboard_login_failures_total 1"))
                #expect(text.contains("# TYPE switchboard_login_failures_total counter"))
                #expect(text.contains(#"switchboard_sockets{namespace="/"} 0"#))
                #expect(text.contains(#"switchboard_connections{transport="websocket"} 0"#))
            }
        }
    }

    @Test("client-chosen label values are bounded: past 32 names everything is 'other'")
    func boundedLabels() {
        let metrics = ServerMetrics()
        for i in 0..<40 { metrics.eventReceived("event:\(i)", namespace: "/") }
        metrics.eventReceived("bad name with spaces", namespace: "/")
        var buffer: [UInt8] = []
        metrics.registry.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        #expect(text.contains(#"switchboard_socket_events_received_total{event="event:0"} 1"#))
        #expect(text.contains(#"switchboard_socket_events_received_total{event="other"} 9"#))
        #expect(!text.contains("event:39"))
    }
}
