import Hummingbird
import HummingbirdWebSocket
import Logging
import Relay

/// Wires the protocol-suite behaviours onto a router.
struct ConformanceFixture {
    let logger: Logger
    let bench: Bool
    let interop: Bool

    static func configuration(path: String) -> RelayConfiguration {
        RelayConfiguration(
            path: path,
            pingInterval: .milliseconds(300),
            pingTimeout: .milliseconds(200),
            maxPayload: 1_000_000,
            connectTimeout: .milliseconds(1000),
            cors: CORSOptions(allowOrigin: .all)
        )
    }

    func addRoutes<Context: WebSocketRequestContext>(to router: Router<Context>) {
        let engine = EngineServer(configuration: Self.configuration(path: "/engine.io"), logger: logger) { _ in EchoDelegate() }
        engine.addRoutes(to: router)
    }
}

/// `/engine.io/`: echo every message back.
struct EchoDelegate: EngineConnectionDelegate {
    func engineConnection(_ connection: EngineConnection, didReceive data: EngineData) async {
        connection.send(data)
    }

    func engineConnection(_ connection: EngineConnection, didCloseWith reason: EngineCloseReason) {}
}
