import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A throwaway CA and a certificate for 127.0.0.1 signed by it, made once per test
/// process with the openssl command-line tool.
enum OutboxTestTLS {
    struct Files: Sendable {
        let caFile: String
        let certificateFile: String
        let keyFile: String
    }

    private static let files = Mutex<Files?>(nil)

    static func shared() throws -> Files {
        try files.withLock { cached in
            if let cached { return cached }
            let made = try make()
            cached = made
            return made
        }
    }

    private static func make() throws -> Files {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-outbox-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n"
            .write(to: dir.appendingPathComponent("leaf.ext"), atomically: true, encoding: .utf8)
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try openssl(["req", "-x509"] + key + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=Outbox Test CA",
                                              "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"], in: dir)
        try openssl(["req"] + key + ["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"], in: dir)
        try openssl(["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", "leaf.pem", "-days", "1", "-extfile", "leaf.ext"], in: dir)
        return Files(
            caFile: dir.appendingPathComponent("ca.pem").path,
            certificateFile: dir.appendingPathComponent("leaf.pem").path,
            keyFile: dir.appendingPathComponent("leaf.key").path
        )
    }

    private static func openssl(_ arguments: [String], in dir: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = dir
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestSetupError("openssl \(arguments[0]) failed") }
    }
}

/// A local HTTPS stand-in for Resend's `POST /emails`. It records every request, keeps
/// Resend's idempotency (a key it accepted before returns the same id and delivers
/// nothing new), and can be told to fail: scripted replies first, then an outage flag,
/// then 200.
final class FakeResend: Sendable {
    struct Reply: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: String

        static func error(_ status: Int, name: String, message: String = "refused", headers: [(String, String)] = []) -> Reply {
            Reply(status: status, headers: headers, body: #"{"statusCode":\#(status),"name":"\#(name)","message":"\#(message)"}"#)
        }
    }

    struct Request: Sendable {
        var idempotencyKey: String?
        var authorization: String?
        var to: [String]
        var subject: String?
        var status: Int
        /// True when this request delivered a mail (a first accepted key).
        var delivered: Bool
    }

    private struct State {
        var script: [Reply] = []
        var outage = false
        var requests: [Request] = []
        var accepted: [String: String] = [:]
        var served = 0
    }

    private let state = Mutex(State())
    private let channel = Mutex<(any Channel)?>(nil)
    let baseURL: String
    let caFile: String

    private init(baseURL: String, caFile: String) {
        self.baseURL = baseURL
        self.caFile = caFile
    }

    static func start() async throws -> FakeResend {
        let tls = try OutboxTestTLS.shared()
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.keyFile, format: .pem))
        )
        let context = try NIOSSLContext(configuration: configuration)
        let holder = Mutex<FakeResend?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = holder.withLock({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FakeResendHandler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = FakeResend(baseURL: "https://127.0.0.1:\(channel.localAddress?.port ?? 0)", caFile: tls.caFile)
        holder.withLock { $0 = server }
        server.channel.withLock { $0 = channel }
        return server
    }

    func stop() async {
        let channel = self.channel.withLock { channel in defer { channel = nil }; return channel }
        try? await channel?.close()
    }

    func enqueue(_ replies: Reply...) { state.withLock { $0.script += replies } }
    func setOutage(_ on: Bool) { state.withLock { $0.outage = on } }
    var requests: [Request] { state.withLock { $0.requests } }
    /// Mails delivered per idempotency key.
    var deliveries: [String: Int] {
        state.withLock { state in
            state.requests.filter(\.delivered).reduce(into: [:]) { $0[$1.idempotencyKey ?? "", default: 0] += 1 }
        }
    }

    fileprivate func handle(headers: HTTPHeaders, body: [UInt8]) -> Reply {
        let json = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        let key = headers.first(name: "Idempotency-Key")
        return state.withLock { state in
            var reply: Reply
            if !state.script.isEmpty {
                reply = state.script.removeFirst()
            } else if state.outage {
                reply = .error(503, name: "internal_server_error", message: "outage")
            } else {
                reply = Reply(status: 200, body: "")
            }
            var delivered = false
            if reply.status == 200 {
                let id: String
                if let key, let existing = state.accepted[key] {
                    id = existing
                } else {
                    state.served += 1
                    id = "fake-\(state.served)"
                    if let key { state.accepted[key] = id }
                    delivered = true
                }
                reply = Reply(status: 200, headers: [("Content-Type", "application/json")], body: #"{"id":"\#(id)"}"#)
            }
            state.requests.append(Request(
                idempotencyKey: key, authorization: headers.first(name: "Authorization"), to: json?["to"] as? [String] ?? [],
                subject: json?["subject"] as? String, status: reply.status, delivered: delivered
            ))
            return reply
        }
    }
}

private final class FakeResendHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: FakeResend
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(server: FakeResend) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            self.head = nil
            let reply = server.handle(headers: head.headers, body: body)
            var headers = HTTPHeaders(reply.headers)
            headers.replaceOrAdd(name: "Content-Length", value: "\(reply.body.utf8.count)")
            let status = HTTPResponseStatus(statusCode: reply.status)
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
