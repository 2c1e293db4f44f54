import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Relay
import Testing
@_exported import TestSupport

/// Builds a Hummingbird application around a Relay (the same way the app does) and runs a live test.
func withLiveRelay(
    _ configuration: RelayConfiguration = liveConfiguration(pingInterval: .seconds(5)),
    setUp: (Relay) -> Void,
    _ test: @escaping @Sendable (Relay, any TestClientProtocol) async throws -> Void
) async throws {
    let logger = Logger(label: "relay-tests")
    let router = Router(context: BasicRequestContext.self)
    let relay = Relay(configuration: configuration, logger: logger)
    relay.addRoutes(to: router)
    setUp(relay)
    let app = Application(
        router: router,
        server: .http1(relay: relay),
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        logger: logger
    )
    try await app.test(.live) { client in
        try await test(relay, client)
        relay.close()
    }
}

/// An Engine.IO-only echo endpoint at /engine.io.
func withLiveEngine(
    _ configuration: RelayConfiguration = liveConfiguration(path: "/engine.io"),
    _ test: @escaping @Sendable (EngineServer, any TestClientProtocol) async throws -> Void
) async throws {
    let logger = Logger(label: "relay-tests")
    let router = Router(context: BasicRequestContext.self)
    let engine = EngineServer(configuration: configuration, logger: logger) { _ in Echo() }
    engine.addRoutes(to: router)
    let app = Application(
        router: router,
        server: .http1(engines: [engine]),
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        logger: logger
    )
    try await app.test(.live) { client in
        try await test(engine, client)
        engine.closeAll()
    }
}

struct Echo: EngineConnectionDelegate {
    func engineConnection(_ connection: EngineConnection, didReceive data: EngineData) { connection.send(data) }
    func engineConnection(_ connection: EngineConnection, didCloseWith reason: EngineCloseReason) {}
}

func liveConfiguration(path: String = "/socket.io", pingInterval: Duration = .milliseconds(200)) -> RelayConfiguration {
    RelayConfiguration(path: path, pingInterval: pingInterval, pingTimeout: .milliseconds(200), maxPayload: 10_000, connectTimeout: .seconds(2))
}

struct HTTPResult: Sendable {
    var status: Int
    var body: String
    var headers: HTTPFields
}

extension TestClientProtocol {
    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> HTTPResult {
        try await execute(uri: uri, method: .get, headers: headers) { HTTPResult(status: $0.status.code, body: String(buffer: $0.body), headers: $0.headers) }
    }

    func post(_ uri: String, _ body: String) async throws -> HTTPResult {
        try await execute(uri: uri, method: .post, body: ByteBuffer(string: body)) {
            HTTPResult(status: $0.status.code, body: String(buffer: $0.body), headers: $0.headers)
        }
    }

    /// Opens a polling session, returns its sid.
    func pollingHandshake(_ path: String) async throws -> String {
        let result = try await get("\(path)/?EIO=4&transport=polling")
        #expect(result.status == 200)
        let open = try JSONValue(parsing: String(result.body.dropFirst()))
        return try #require(open["sid"]?.stringValue)
    }
}
