import ArgumentParser
import Foundation

/// A Socket.IO (Engine.IO v4 / Socket.IO v5 over WebSocket) load generator.
@main
struct RelayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-bench",
        abstract: "Socket.IO load generator: idle connections, one-room fan-out, two-person rooms, durable chat sends.",
        subcommands: [ConnectCommand.self, FanoutCommand.self, PairsCommand.self, ChatCommand.self]
    )
}

/// `connect`: N idle connections at a target rate; connections/s and the server's RSS per connection.
struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect", abstract: "Open N idle connections; report connections/s and server RSS per connection.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Connections to open.")
    var clients: Int = 10_000

    @Option(help: "Seconds to wait after the last connection before reading RSS.")
    var settle: Double = 3

    @Flag(help: "Engine.IO only: do not send the Socket.IO CONNECT (isolates the transport's memory).")
    var engineOnly = false

    func run() async throws {
        let harness = common.harness(.idle)
        if engineOnly { try await harness.each { $0.engineOnly = true } }
        let ownCPU = CPUWindow(pid: ProcessStats.ownPid)!
        let rssBefore = common.serverPid.flatMap { ProcessStats.rssKiB(pid: $0) }
        let serverCPU = common.serverPid.flatMap { CPUWindow(pid: $0) }
        let specs = (0..<clients).map { ClientSpec(index: $0, room: "", auth: nil) }
        let totals = try await harness.connectAll(specs, options: common, join: false)
        let cpu = serverCPU?.finish()
        let generatorCPU = ownCPU.finish()
        let seconds = Double(totals.lastConnectedAt - totals.firstStartedAt) / 1e9
        print(String(format: "connect: %d connections in %.2f s = %.0f connections/s (target %.0f/s)",
                     totals.connected, seconds, Double(totals.connected) / seconds, common.connectRate))
        let c = totals.connectLatency
        print("handshake (TCP + upgrade + EIO open + SIO CONNECT): p50 \(c.percentile(50).ms) ms, p99 \(c.percentile(99).ms) ms, max \(c.max.ms) ms")
        if let cpu { print(String(format: "server CPU while connecting: %.2f s, %.1f µs per connection", cpu.seconds, cpu.seconds * 1e6 / Double(max(1, totals.connected)))) }
        print(String(format: "generator CPU while connecting: %.2f s", generatorCPU.seconds))
        try await Task.sleep(for: .seconds(settle))
        if let pid = common.serverPid, let before = rssBefore, let after = ProcessStats.rssKiB(pid: pid) {
            let per = Double(after - before) / Double(max(1, totals.connected))
            print(String(format: "server RSS: %d KiB before, %d KiB after %d idle connections: %.2f KiB (%.2f kB) per connection",
                         before, after, totals.connected, per, per * 1.024))
        }
        try await harness.shutdown()
    }
}

/// `fanout`: all clients in one room; `rate` msg/s in total, spread over the senders; each is
/// delivered to every client (sender included).
struct FanoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fanout", abstract: "One room of N clients; broadcast at a total message rate.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var window: WindowOptions

    @Option(help: "Clients in the room.")
    var clients: Int = 1000

    @Option(help: "Messages per second in total (each delivered to every client).")
    var rate: Double = 50

    @Option(help: "Room name.")
    var room = "bench"

    func run() async throws {
        let harness = common.harness(.rooms)
        let specs = (0..<clients).map { ClientSpec(index: $0, room: room, auth: nil) }
        let connected = try await harness.connectAll(specs, options: common, join: true)
        try await harness.startSending(rate: rate)
        let m = try await harness.measure(window, serverPid: common.serverPid)
        try await harness.each { $0.stopSending() }
        print("fanout: \(connected.connected) clients in one room, \(rate) msg/s → expected \(Int(rate * Double(connected.connected))) deliveries/s")
        print(m.describe())
        try await harness.shutdown()
    }
}

/// `pairs`: clients in two-person rooms, every client sending; the rate rises step by step until
/// p99 passes the limit (or deliveries fall behind).
struct PairsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pairs", abstract: "Two-person rooms; raise the message rate until p99 crosses the limit.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var window: WindowOptions

    @Option(help: "Clients (rooms = clients / 2).")
    var clients: Int = 5000

    @Option(help: "Total message rates to try, comma separated (each message is delivered twice: sender included).")
    var rates = "5000,10000,15000,20000,22500,25000,27500,30000"

    @Option(help: "p99 limit in milliseconds.")
    var p99Limit: Double = 50

    func run() async throws {
        let harness = common.harness(.rooms)
        let specs = (0..<clients).map { ClientSpec(index: $0, room: "p\($0 / 2)", auth: nil) }
        let connected = try await harness.connectAll(specs, options: common, join: true)
        var best: (rate: Double, measurement: Measurement)?
        for rate in rates.split(separator: ",").compactMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
            try await harness.startSending(rate: rate)
            let m = try await harness.measure(window, serverPid: common.serverPid)
            let expected = rate * 2 * Double(connected.connected) / Double(clients)
            let p99 = Double(m.totals.latency.percentile(99)) / 1000
            let keptUp = m.deliveriesPerSecond >= 0.97 * expected
            print("--- \(Int(rate)) msg/s (\(Int(rate / Double(clients) * 100) / 100) per client), expected \(Int(expected)) deliveries/s")
            print(m.describe())
            if p99 < p99Limit, keptUp { best = (rate, m) } else {
                print(keptUp ? "p99 over \(p99Limit) ms: stop" : "deliveries fell behind the send rate: stop")
                break
            }
        }
        try await harness.each { $0.stopSending() }
        if let best {
            print(String(format: "pairs: max sustained %.0f deliveries/s (%.0f msg/s) with p99 %@ ms < %.0f ms",
                         best.measurement.deliveriesPerSecond, best.rate, best.measurement.totals.latency.percentile(99).ms, p99Limit))
        } else {
            print("pairs: no rate met the limit")
        }
        try await harness.shutdown()
    }
}

/// `chat`: the real server. Users from a file (`roomId token` per line) connect with auth {token}
/// and send `message:send` with ack; acks/s and ack latency are what a durable send costs.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chat", abstract: "Durable message:send throughput and ack latency against switchboard.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var window: WindowOptions

    @Option(help: "File with one `roomId accessToken` per line.")
    var tokens: String

    @Option(help: "Messages per second in total (0 = closed loop: every client keeps --in-flight sends outstanding).")
    var rate: Double = 0

    @Option(help: "Outstanding sends per client in closed loop.")
    var inFlight: Int = 1

    func run() async throws {
        let lines = try String(contentsOfFile: tokens, encoding: .utf8).split(separator: "\n")
        let specs = lines.enumerated().compactMap { index, line -> ClientSpec? in
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { return nil }
            return ClientSpec(index: index, room: String(parts[0]), auth: "{\"token\":\"\(parts[1])\"}")
        }
        let harness = common.harness(.chat)
        let connected = try await harness.connectAll(specs, options: common, join: false)
        try await harness.startSending(rate: rate, inFlight: inFlight)
        let m = try await harness.measure(window, serverPid: common.serverPid)
        try await harness.each { $0.stopSending() }
        let acks = try await harness.ackLatency()
        print("chat: \(connected.connected) clients, " + (rate > 0 ? "open loop \(rate) msg/s" : "closed loop, \(inFlight) in flight per client"))
        print(String(format: "durable sends: %.0f acks/s (%d failed acks)", Double(m.totals.acks) / m.seconds, m.totals.ackFailures))
        print("ack latency: p50 \(acks.percentile(50).ms) ms, p90 \(acks.percentile(90).ms) ms, p99 \(acks.percentile(99).ms) ms, max \(acks.max.ms) ms (\(acks.count) acks)")
        print(m.describe(label: "message:new delivery latency"))
        if !m.totals.errors.isEmpty { print("errors: \(m.totals.errors)") }
        try await harness.shutdown()
    }
}
