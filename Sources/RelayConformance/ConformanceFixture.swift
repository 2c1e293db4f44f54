import Hummingbird
import Logging
import Relay

/// Wires the protocol-suite behaviours (and the `--bench` / `--interop` extras) onto a router.
struct ConformanceFixture {
    let logger: Logger
    let bench: Bool
    let interop: Bool
    /// Connection state recovery on `/socket.io`, with the in-memory store (`--recovery`).
    var recovery = false

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

    func addRoutes<Context: RequestContext>(to router: Router<Context>) -> (EngineServer, Relay) {
        let engine = EngineServer(configuration: Self.configuration(path: "/engine.io"), logger: logger) { _ in EchoDelegate() }
        engine.addRoutes(to: router)

        var configuration = Self.configuration(path: "/socket.io")
        if interop || bench {
            // real clients answer pings on their own schedule; keep the suites' timings out of their way
            configuration.pingInterval = .seconds(25)
            configuration.pingTimeout = .seconds(20)
            configuration.connectTimeout = .seconds(45)
        }
        if recovery { configuration.connectionStateRecovery = .inMemory() }
        let relay = Relay(configuration: configuration, logger: logger)
        relay.addRoutes(to: router)
        if bench {
            addBench(relay.namespace("/"))
        } else {
            addSuite(relay.namespace("/"), echo: true)
            addSuite(relay.namespace("/custom"), echo: false)
        }
        if interop { addInterop(relay) }
        return (engine, relay)
    }

    /// `/socket.io/`: emit `auth` with the CONNECT payload; on "/", `message` → `message-back`
    /// and `message-with-ack` acked with its arguments.
    private func addSuite(_ namespace: Namespace, echo: Bool) {
        namespace.onConnection { socket in
            socket.emit("auth", socket.handshake.auth ?? .object([:]))
            guard echo else { return }
            socket.on("message") { args, _ in
                socket.emit("message-back", arguments: args)
            }
            socket.on("message-with-ack") { args, ack in
                await ack?(args)
            }
        }
    }

    /// The benchmark contract: `join` (room) → joins, acks true; `msg` ({room, …}) → broadcast
    /// unchanged to the room, sender included.
    private func addBench(_ namespace: Namespace) {
        namespace.onConnection { socket in
            socket.on("join") { args, ack in
                if let room = args.first?.stringValue { await socket.join(room) }
                await ack?([true])
            }
            socket.on("msg") { args, _ in
                guard let payload = args.first, let room = payload["room"]?.stringValue else { return }
                await namespace.to(room).emit("msg", payload)
            }
        }
    }

    /// Extras for the python-socketio interop tests.
    private func addInterop(_ relay: Relay) {
        let main = relay.namespace("/")
        main.onConnection { socket in
            socket.emit("auth", socket.handshake.auth ?? .object([:]))
            socket.on("message") { args, _ in socket.emit("message-back", arguments: args) }
            socket.on("message-with-ack") { args, ack in await ack?(args) }
            installInteropEvents(socket, namespace: main)
        }
        let secure = relay.namespace("/secure")
        secure.use { handshake in
            guard handshake.auth?["token"]?.stringValue == "letmein" else {
                throw ConnectError(message: "invalid_token", data: ["code": "invalid_token"])
            }
            return "user-1"
        }
        secure.onConnection { socket in
            socket.emit("welcome", .string(socket.data(as: String.self) ?? "?"))
            installInteropEvents(socket, namespace: secure)
        }
        relay.dynamicNamespaces(matching: { name, _ in name.hasPrefix("/dyn-") }) { namespace in
            namespace.onConnection { socket in
                socket.emit("dynamic", .string(namespace.name))
            }
        }
    }

    private func installInteropEvents(_ socket: Socket, namespace: Namespace) {
        socket.on("join") { args, ack in
            if let room = args.first?.stringValue { await socket.join(room) }
            await ack?([true])
        }
        // ["room", "event", data…]: broadcast to the room, sender excluded
        socket.on("to-room") { args, ack in
            guard args.count >= 2, let room = args[0].stringValue, let event = args[1].stringValue else { return }
            await socket.to(room).emit(event, arguments: Array(args.dropFirst(2)))
            await ack?([true])
        }
        // asks the client to ack, then reports the client's answer in `server-ack-result`
        socket.on("request-server-ack") { args, _ in
            do {
                let reply = try await socket.emitWithAck("server-ack", arguments: args, timeout: .seconds(5))
                socket.emit("server-ack-result", arguments: reply)
            } catch {
                socket.emit("server-ack-result", .string("error: \(error)"))
            }
        }
        socket.on("disconnect-me") { _, _ in
            socket.disconnect()
        }
        socket.on("rooms") { _, ack in
            await ack?([.array(socket.rooms.sorted().map { .string($0) })])
        }
        // ["room", "event", data…]: broadcast to the room, sender included (logged with --recovery)
        socket.on("to-room-all") { args, ack in
            guard args.count >= 2, let room = args[0].stringValue, let event = args[1].stringValue else { return }
            await namespace.to(room).emit(event, arguments: Array(args.dropFirst(2)))
            await ack?([true])
        }
        // acks whether this socket was recovered (connection state recovery)
        socket.on("recovered") { _, ack in
            await ack?([.bool(socket.recovered)])
        }
    }
}

/// `/engine.io/`: echo every message back.
struct EchoDelegate: EngineConnectionDelegate {
    func engineConnection(_ connection: EngineConnection, didReceive data: EngineData) {
        connection.send(data)
    }

    func engineConnection(_ connection: EngineConnection, didCloseWith reason: EngineCloseReason) {}
}
