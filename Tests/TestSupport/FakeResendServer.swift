import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A local HTTPS stand-in for Resend's `POST /emails`, the one fake of every test target
/// (MailTests' client tests, AccountsTests' outbox worker). Its certificate is signed by
/// ``TestCertificates``' CA (``caFile``), which a client must be told to trust.
///
/// Every request is recorded. Each is answered, in this order, by: the next scripted
/// response (``enqueue(_:)``, served as given), a 503 while ``setOutage(_:)`` is on, or a 200
/// `{"id":"fake-N"}` that keeps Resend's idempotency: a `Idempotency-Key` it accepted
/// before gets the same id back and delivers nothing new (N counts deliveries from 1).
public final class FakeResendServer: Sendable {
    public struct RecordedRequest: Sendable {
        public var method: HTTPMethod
        public var uri: String
        public var headers: HTTPHeaders
        public var body: [UInt8]
        /// The status code it was answered with.
        public var status: Int
        /// True when this request delivered a mail: a default 200 for a key not seen
        /// before, or a scripted 2xx.
        public var delivered: Bool

        public var bodyJSON: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(self.body))) as? [String: Any]
        }
        public var idempotencyKey: String? { headers.first(name: "Idempotency-Key") }
        public var authorization: String? { headers.first(name: "Authorization") }
        /// The `to` addresses of the body.
        public var to: [String] { bodyJSON?["to"] as? [String] ?? [] }
        public var subject: String? { bodyJSON?["subject"] as? String }
    }

    public struct ScriptedResponse: Sendable {
        public var status: HTTPResponseStatus
        public var headers: [(String, String)]
        public var body: [UInt8]
        /// Wait this long before the response head.
        public var delay: TimeAmount
        /// Wait this long between the head and the body.
        public var bodyDelay: TimeAmount

        public init(
            status: HTTPResponseStatus = .ok,
            headers: [(String, String)] = [],
            body: String,
            delay: TimeAmount = .zero,
            bodyDelay: TimeAmount = .zero
        ) {
            self.init(status: status, headers: headers, bytes: Array(body.utf8), delay: delay, bodyDelay: bodyDelay)
        }

        public init(
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

        public static func accepted(id: String) -> ScriptedResponse {
            ScriptedResponse(headers: [("Content-Type", "application/json")], body: #"{"id":"\#(id)"}"#)
        }

        /// Resend's error body: `{"statusCode":…,"name":…,"message":…}`.
        public static func error(
            _ status: HTTPResponseStatus, name: String, message: String = "refused", headers: [(String, String)] = []
        ) -> ScriptedResponse {
            ScriptedResponse(
                status: status,
                headers: [("Content-Type", "application/json")] + headers,
                body: #"{"statusCode":\#(status.code),"name":"\#(name)","message":"\#(message)"}"#
            )
        }
    }

    private struct State {
        var script: [ScriptedResponse] = []
        var outage = false
        var requests: [RecordedRequest] = []
        /// Accepted idempotency keys and the id each got.
        var accepted: [String: String] = [:]
        var delivered = 0
    }

    private let state = Mutex(State())
    private let channel: Mutex<(any Channel)?> = Mutex(nil)

    /// `https://127.0.0.1:<port>`.
    public let baseURL: String
    /// PEM file of the CA that signed the server's certificate.
    public let caFile: String

    private init(baseURL: String, caFile: String) {
        self.baseURL = baseURL
        self.caFile = caFile
    }

    /// Starts a server on a free port of 127.0.0.1.
    public static func start(certificates: TestCertificates? = nil) async throws -> FakeResendServer {
        let certificates = try certificates ?? TestCertificates.shared()
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
        let server = FakeResendServer(baseURL: "https://127.0.0.1:\(port)", caFile: certificates.caCertificatePath)
        box.withLock { $0 = server }
        server.channel.withLock { $0 = channel }
        return server
    }

    /// Runs `body` with a started server and closes it afterwards.
    public static func with<T>(_ body: (FakeResendServer) async throws -> T) async throws -> T {
        let server = try await Self.start()
        do {
            let result = try await body(server)
            try await server.close()
            return result
        } catch {
            try? await server.close()
            throw error
        }
    }

    /// Stops listening; a second call does nothing.
    public func close() async throws {
        let channel = self.channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try await channel?.close()
    }

    /// Queues responses, served in order before any default answer.
    public func enqueue(_ responses: ScriptedResponse...) {
        self.state.withLock { $0.script.append(contentsOf: responses) }
    }

    /// While on, requests with no scripted response left get a 503 `internal_server_error`.
    public func setOutage(_ on: Bool) {
        self.state.withLock { $0.outage = on }
    }

    public var requests: [RecordedRequest] {
        self.state.withLock { $0.requests }
    }

    /// Mails delivered per idempotency key ("" for requests without one).
    public var deliveries: [String: Int] {
        self.state.withLock { state in
            state.requests.filter(\.delivered).reduce(into: [:]) { $0[$1.idempotencyKey ?? "", default: 0] += 1 }
        }
    }

    fileprivate func respond(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: [UInt8]) -> ScriptedResponse {
        let key = headers.first(name: "Idempotency-Key")
        return self.state.withLock { state in
            let response: ScriptedResponse
            var delivered = false
            if !state.script.isEmpty {
                response = state.script.removeFirst()
                delivered = (200..<300).contains(Int(response.status.code))
            } else if state.outage {
                response = .error(.serviceUnavailable, name: "internal_server_error", message: "outage")
            } else if let key, let id = state.accepted[key] {
                response = .accepted(id: id)
            } else {
                state.delivered += 1
                let id = "fake-\(state.delivered)"
                if let key { state.accepted[key] = id }
                response = .accepted(id: id)
                delivered = true
            }
            state.requests.append(RecordedRequest(
                method: method, uri: uri, headers: headers, body: body, status: Int(response.status.code), delivered: delivered
            ))
            return response
        }
    }
}

/// Collects one request, asks the server for the response and writes it.
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
            let response = self.server.respond(method: head.method, uri: head.uri, headers: head.headers, body: self.body)
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
