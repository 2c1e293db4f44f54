import ArgumentParser
import Hummingbird
import Logging
import Relay

/// The server the official Engine.IO v4 / Socket.IO v5 protocol test suites expect
/// (and, with `--bench`, the benchmark contract; with `--interop`, extra namespaces for interop tests;
/// with `--recovery`, connection state recovery with the in-memory store).
@main
struct RelayConformance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "relay-conformance")

    @Option(name: .long, help: "Port to listen on (0 = any free port).")
    var port: Int = 3000

    @Option(name: .long, help: "Host to bind.")
    var host: String = "127.0.0.1"

    @Flag(name: .long, help: "Serve the benchmark contract on the default namespace.")
    var bench = false

    @Flag(name: .long, help: "Add the namespaces and events used by the interop tests.")
    var interop = false

    @Flag(name: .long, help: "Turn on connection state recovery (in-memory store, 120 s window) on /socket.io.")
    var recovery = false

    @Option(name: .long, help: "Log level.")
    var logLevel: String = "warning"

    func run() async throws {
        var configuredLogger = Logger(label: "relay-conformance")
        configuredLogger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
        let logger = configuredLogger
        let router = Router(context: BasicRequestContext.self)
        let fixture = ConformanceFixture(logger: logger, bench: bench, interop: interop, recovery: recovery)
        let (engine, relay) = fixture.addRoutes(to: router)
        let app = Application(
            router: router,
            server: .http1(engines: [engine, relay.engine]),
            configuration: .init(address: .hostname(host, port: port)),
            services: [relay],
            onServerRunning: { channel in
                logger.notice("listening", metadata: ["port": "\(channel.localAddress?.port ?? 0)"])
            },
            logger: logger
        )
        try await app.runService()
    }
}
