import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import Synchronization

/// Sends mail through Resend's HTTP API, or anything that speaks it
/// (`POST {baseURL}/emails`).
///
/// Every call has a deadline, reads at most
/// ``ResendConfiguration/maxResponseBytes`` of the response and checks the
/// status. Failures are thrown as ``MailError`` with a disposition:
/// - 2xx with `{"id": ...}`: sent;
/// - 429, 5xx, 409 `concurrent_idempotent_requests`, network, TLS and timeout
///   failures, an oversized or malformed response: retry (honouring
///   Retry-After); the idempotency key makes a retry safe even when the first
///   attempt did reach the provider;
/// - any other 4xx: permanent, with the provider's error name and message.
///
/// It owns its `HTTPClient` (created by ``init(configuration:logger:)``) or
/// borrows one (``init(configuration:httpClient:logger:)``). Run it as a
/// `Service` so an owned client is shut down on graceful shutdown, or call
/// ``shutdown()`` yourself.
public final class ResendMailSender: MailSender, Service {
    private let configuration: ResendConfiguration
    private let emailsURL: String
    private let client: HTTPClient
    private let ownsClient: Bool
    /// Applied per request when the client is borrowed and an extra CA is set.
    private let requestTLSConfiguration: TLSConfiguration?
    private let logger: Logger
    private let isShutDown = Mutex(false)

    /// Creates a sender with its own `HTTPClient` (on the shared event loop
    /// group), trusting the system's CAs plus
    /// ``ResendConfiguration/additionalTrustedCAFile``.
    ///
    /// - Throws: ``MailError`` with code ``MailError/Code/invalidConfiguration``
    ///   when the base URL is not http(s) or the CA file cannot be read.
    public init(configuration: ResendConfiguration, logger: Logger) throws {
        self.emailsURL = try Self.emailsURL(configuration.baseURL)
        let tls = try Self.tlsConfiguration(configuration)
        var clientConfiguration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: TimeAmount(min(configuration.timeout, .seconds(10)))),
            decompression: .disabled
        )
        clientConfiguration.httpVersion = .automatic
        self.client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: clientConfiguration,
            backgroundActivityLogger: logger
        )
        self.ownsClient = true
        self.requestTLSConfiguration = nil
        self.configuration = configuration
        self.logger = logger
    }

    /// Creates a sender on a client owned by someone else, who shuts it down.
    /// An ``ResendConfiguration/additionalTrustedCAFile`` is applied per request.
    public init(configuration: ResendConfiguration, httpClient: HTTPClient, logger: Logger) throws {
        self.emailsURL = try Self.emailsURL(configuration.baseURL)
        self.requestTLSConfiguration =
            configuration.additionalTrustedCAFile == nil ? nil : try Self.tlsConfiguration(configuration)
        self.client = httpClient
        self.ownsClient = false
        self.configuration = configuration
        self.logger = logger
    }

    public func send(_ mail: OutgoingMail, idempotencyKey: String) async throws -> SentMail {
        var request = HTTPClientRequest(url: self.emailsURL)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(self.configuration.apiKey)")
        request.headers.add(name: "Idempotency-Key", value: idempotencyKey)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: self.configuration.userAgent)
        if let tls = self.requestTLSConfiguration {
            request.tlsConfiguration = tls
        }
        let body: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]  // the same mail is the same request body on every retry
            body = try encoder.encode(ResendWire.EmailRequest(mail))
        } catch {
            throw MailError(code: .invalidConfiguration, disposition: .permanent, underlying: "\(error)")
        }
        request.body = .bytes(ByteBuffer(bytes: body))

        var logger = self.logger
        logger[metadataKey: "mail.idempotency_key"] = "\(idempotencyKey)"

        let result: Result<SentMail, MailError>
        do {
            let exchange = try await self.exchange(request, logger: logger)
            result = Self.classify(
                status: exchange.status,
                retryAfter: exchange.retryAfter,
                body: exchange.body,
                now: Date()
            )
        } catch {
            result = .failure(Self.mapTransportError(error))
        }

        switch result {
        case .success(let sent):
            logger.debug("mail accepted by provider", metadata: ["mail.provider_id": "\(sent.providerId)"])
            return sent
        case .failure(let error):
            logger.debug(
                "mail not accepted by provider",
                metadata: [
                    "mail.error.code": "\(error.code)",
                    "mail.error.status": "\(error.httpStatus.map(String.init) ?? "none")",
                    "mail.error.retryable": "\(error.disposition.isRetryable)",
                ]
            )
            throw error
        }
    }

    private static let bodyDeadlineGrace: Duration = .milliseconds(100)

    private struct Exchange: Sendable {
        var status: Int
        var retryAfter: String?
        var body: ByteBuffer
    }

    /// One request and its whole (capped) response, within the deadline.
    ///
    /// AsyncHTTPClient's own deadline stops at the response head, so the
    /// exchange also races a timer: when it fires first the request task is
    /// cancelled and the call fails with `deadlineExceeded`. The timer runs a
    /// little longer than the client's deadline so that, when the client's
    /// fires first (no response head yet), its more precise error (the last
    /// connection or TLS failure) is the one reported.
    private func exchange(_ request: HTTPClientRequest, logger: Logger) async throws -> Exchange {
        let timeout = self.configuration.timeout
        let maxBytes = self.configuration.maxResponseBytes
        let client = self.client
        return try await withThrowingTaskGroup(of: Exchange?.self) { group in
            group.addTask {
                let deadline = NIODeadline.now() + TimeAmount(timeout)
                let response = try await client.execute(request, deadline: deadline, logger: logger)
                let body = try await response.body.collect(upTo: maxBytes)
                return Exchange(
                    status: Int(response.status.code),
                    retryAfter: response.headers.first(name: "Retry-After"),
                    body: body
                )
            }
            group.addTask {
                try await Task.sleep(for: timeout + Self.bodyDeadlineGrace)
                return nil
            }
            defer { group.cancelAll() }
            guard let exchange = try await group.next() ?? nil else {
                throw HTTPClientError.deadlineExceeded
            }
            return exchange
        }
    }

    /// Waits for graceful shutdown, then shuts an owned client down.
    public func run() async throws {
        try? await gracefulShutdown()
        try await self.shutdown()
    }

    /// Shuts an owned client down (once; later calls do nothing). A borrowed
    /// client is left alone.
    public func shutdown() async throws {
        guard self.ownsClient else { return }
        let alreadyShutDown = self.isShutDown.withLock { isShutDown in
            defer { isShutDown = true }
            return isShutDown
        }
        guard !alreadyShutDown else { return }
        try await self.client.shutdown()
    }

    // MARK: - Classification

    /// The outcome of one response: a pure function of status, Retry-After and body.
    static func classify(status: Int, retryAfter: String?, body: ByteBuffer, now: Date) -> Result<SentMail, MailError> {
        let bytes = Data(body.readableBytesView)
        let delay = retryAfter.flatMap { RetryAfter.parse($0, now: now) }
        switch status {
        case 200..<300:
            guard let decoded = try? JSONDecoder().decode(ResendWire.EmailResponse.self, from: bytes),
                !decoded.id.isEmpty
            else {
                return .failure(
                    MailError(
                        code: .invalidResponse,
                        disposition: .retry(after: delay),
                        httpStatus: status,
                        underlying: "a 2xx response without an id"
                    )
                )
            }
            return .success(SentMail(providerId: decoded.id))
        case 400..<500:
            let providerError = try? JSONDecoder().decode(ResendWire.ErrorResponse.self, from: bytes)
            let name = providerError?.name
            let message = providerError?.message
            if status == 429 {
                return .failure(
                    MailError(
                        code: .rateLimited,
                        disposition: .retry(after: delay),
                        httpStatus: status,
                        providerErrorName: name,
                        providerMessage: message
                    )
                )
            }
            if status == 409 && name == ResendWire.concurrentIdempotentRequests {
                return .failure(
                    MailError(
                        code: .idempotencyConflict,
                        disposition: .retry(after: delay),
                        httpStatus: status,
                        providerErrorName: name,
                        providerMessage: message
                    )
                )
            }
            return .failure(
                MailError(
                    code: .rejected,
                    disposition: .permanent,
                    httpStatus: status,
                    providerErrorName: name,
                    providerMessage: message
                )
            )
        case 500..<600:
            let providerError = try? JSONDecoder().decode(ResendWire.ErrorResponse.self, from: bytes)
            return .failure(
                MailError(
                    code: .providerUnavailable,
                    disposition: .retry(after: delay),
                    httpStatus: status,
                    providerErrorName: providerError?.name,
                    providerMessage: providerError?.message
                )
            )
        default:
            return .failure(MailError(code: .unexpectedStatus, disposition: .retry(after: delay), httpStatus: status))
        }
    }

    /// Maps a failure of the HTTP exchange itself. All are transient.
    static func mapTransportError(_ error: any Error) -> MailError {
        let underlying = String(describing: error)
        switch error {
        case let error as MailError:
            return error
        case is CancellationError:
            return MailError(code: .cancelled, disposition: .retry(after: nil), underlying: underlying)
        case is NIOTooManyBytesError:
            return MailError(code: .responseTooLarge, disposition: .retry(after: nil), underlying: underlying)
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            return MailError(code: .tlsFailure, disposition: .retry(after: nil), underlying: underlying)
        case let error as HTTPClientError:
            let code: MailError.Code
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout, .tlsHandshakeTimeout:
                code = .deadlineExceeded
            case .cancelled, .alreadyShutdown:
                code = .cancelled
            case .invalidURL, .emptyHost, .emptyScheme:
                code = .invalidConfiguration
            default:
                code = .connectionFailed
            }
            return MailError(code: code, disposition: .retry(after: nil), underlying: underlying)
        default:
            return MailError(code: .connectionFailed, disposition: .retry(after: nil), underlying: underlying)
        }
    }

    // MARK: - Configuration

    private static func emailsURL(_ baseURL: String) throws -> String {
        let trimmed = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(),
            scheme == "https" || scheme == "http", url.host != nil
        else {
            throw MailError(
                code: .invalidConfiguration,
                disposition: .permanent,
                underlying: "the base URL must be an absolute http(s) URL"
            )
        }
        return trimmed + "/emails"
    }

    private static func tlsConfiguration(_ configuration: ResendConfiguration) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        // An abandoned exchange (deadline, oversized body) closes its
        // connection; do not wait long for the server's close_notify.
        tls.shutdownTimeout = .seconds(1)
        if let path = configuration.additionalTrustedCAFile {
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(path)
                guard !certificates.isEmpty else { throw NIOSSLError.failedToLoadCertificate }
                tls.additionalTrustRoots = [.certificates(certificates)]
            } catch {
                throw MailError(
                    code: .invalidConfiguration,
                    disposition: .permanent,
                    underlying: "cannot load the additional trusted CA file \(path): \(error)"
                )
            }
        }
        return tls
    }
}
