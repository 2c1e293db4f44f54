import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A local HTTPS server that speaks enough of Resend's API for the tests: it
/// records every request and answers from a per-test script.
final class FakeResendServer: Sendable {
    struct RecordedRequest: Sendable {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var body: [UInt8]

        var bodyJSON: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(self.body))) as? [String: Any]
        }
    }

    struct ScriptedResponse: Sendable {
        var status: HTTPResponseStatus
        var headers: [(String, String)]
        var body: [UInt8]
        /// Wait this long before the response head.
        var delay: TimeAmount
        /// Wait this long between the head and the body.
        var bodyDelay: TimeAmount

        init(
            status: HTTPResponseStatus = .ok,
            headers: [(String, String)] = [],
            body: String,
            delay: TimeAmount = .zero,
            bodyDelay: TimeAmount = .zero
        ) {
            self.init(status: status, headers: headers, bytes: Array(body.utf8), delay: delay, bodyDelay: bodyDelay)
        }

        init(
            status: HTTPResponseStatus = .ok,
            headers: [(String, String)] = [],
            bytes: [UInt8],
            delay: TimeAmount = .zero,
            bodyDelay: TimeAmount = .zero
        ) {
            self.status = status
            self.headers = headers
            self.body = bytes
            self.delay = delay
            self.bodyDelay = bodyDelay
        }

        static func accepted(id: String) -> ScriptedResponse {
            ScriptedResponse(headers: [("Content-Type", "application/json")], body: #"{"id":"\#(id)"}"#)
        }

        static func error(_ status: HTTPResponseStatus, name: String, message: String, headers: [(String, String)] = [])
            -> ScriptedResponse
        {
            ScriptedResponse(
                status: status,
                headers: [("Content-Type", "application/json")] + headers,
                body: #"{"statusCode":\#(status.code),"name":"\#(name)","message":"\#(message)"}"#
            )
        }
    }

    private struct State {
        var script: [ScriptedResponse] = []
        var requests: [RecordedRequest] = []
        var served = 0
    }

    private let state = Mutex(State())
    private let channel: Mutex<(any Channel)?> = Mutex(nil)

    /// `https://127.0.0.1:<port>`.
    let baseURL: String

    private init(baseURL: String) {
        self.baseURL = baseURL
    }

    /// Starts a server on a free port of 127.0.0.1.
    static func start(certificates: TestCertificates) async throws -> FakeResendServer {
        let certificate = try NIOSSLCertificate.fromPEMFile(certificates.serverCertificatePath)
        let key = try NIOSSLPrivateKey(file: certificates.serverKeyPath, format: .pem)
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificate.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        let sslContext = try NIOSSLContext(configuration: tls)

        let box = Mutex<FakeResendServer?>(nil)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = box.withLock({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(server: server))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        let server = FakeResendServer(baseURL: "https://127.0.0.1:\(port)")
        box.withLock { $0 = server }
        server.channel.withLock { $0 = channel }
        return server
    }

    /// Runs `body` with a started server and closes it afterwards.
    static func with<T>(_ body: (FakeResendServer) async throws -> T) async throws -> T {
        let server = try await Self.start(certificates: try TestCertificates.shared())
        do {
            let result = try await body(server)
            try await server.close()
            return result
        } catch {
            try? await server.close()
            throw error
        }
    }

    func close() async throws {
        let channel = self.channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try await channel?.close()
    }

    /// Queues responses, served in order; once they run out every request gets
    /// a 200 with a fresh id.
    func enqueue(_ responses: ScriptedResponse...) {
        self.state.withLock { $0.script.append(contentsOf: responses) }
    }

    var requests: [RecordedRequest] {
        self.state.withLock { $0.requests }
    }

    fileprivate func respond(to request: RecordedRequest) -> ScriptedResponse {
        self.state.withLock { state in
            state.requests.append(request)
            state.served += 1
            if state.script.isEmpty {
                return .accepted(id: "fake-\(state.served)")
            }
            return state.script.removeFirst()
        }
    }
}

/// Collects one request, asks the server for the scripted response and writes it.
private final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: FakeResendServer
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(server: FakeResendServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body = []
        case .body(var buffer):
            self.body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            let request = FakeResendServer.RecordedRequest(
                method: head.method,
                uri: head.uri,
                headers: head.headers,
                body: self.body
            )
            let response = self.server.respond(to: request)
            self.write(response, version: head.version, context: context)
        }
    }

    private func write(_ response: FakeResendServer.ScriptedResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        let loop = context.eventLoop.assumeIsolated()
        loop.scheduleTask(in: response.delay) {
            guard context.channel.isActive else { return }
            var headers = HTTPHeaders(response.headers)
            headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.count)")
            context.writeAndFlush(
                self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))),
                promise: nil
            )
            loop.scheduleTask(in: response.bodyDelay) {
                guard context.channel.isActive else { return }
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
