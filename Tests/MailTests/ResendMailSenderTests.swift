import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing
import TestSupport

@testable import Mail

/// The Resend client against a local HTTPS fake of the API.
@Suite("ResendMailSender")
struct ResendMailSenderTests {
    static let apiKey = "re_test_SECRET_4b1d0c0ffee"

    static let mail = OutgoingMail(
        from: "Switchboard <no-reply@example.test>",
        to: ["ada@example.test"],
        subject: "Confirm your email address",
        html: "<p>Hello</p>",
        text: "Hello",
        replyTo: "support@example.test",
        tags: ["kind": "verification", "app": "switchboard"]
    )

    /// Runs `body` with a sender pointed at `server`, trusting the test CA
    /// unless told otherwise, and shuts the sender down.
    func withSender<T>(
        _ server: FakeResendServer,
        timeout: Duration = .seconds(10),
        maxResponseBytes: Int = 64 * 1024,
        trustTestCA: Bool = true,
        logger: Logger = Logger(label: "mail-tests", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: (ResendMailSender) async throws -> T
    ) async throws -> T {
        let configuration = ResendConfiguration(
            apiKey: Self.apiKey,
            baseURL: server.baseURL,
            timeout: timeout,
            maxResponseBytes: maxResponseBytes,
            additionalTrustedCAFile: trustTestCA ? try TestCertificates.shared().caCertificatePath : nil
        )
        let sender = try ResendMailSender(configuration: configuration, logger: logger)
        do {
            let result = try await body(sender)
            try await sender.shutdown()
            return result
        } catch {
            try? await sender.shutdown()
            throw error
        }
    }

    /// Sends and returns the thrown ``MailError``, failing the test if it succeeds.
    func sendExpectingError(_ sender: ResendMailSender, key: String = "row-1") async throws -> MailError {
        do {
            let sent = try await sender.send(Self.mail, idempotencyKey: key)
            Issue.record("expected an error, got \(sent)")
            throw CancellationError()
        } catch let error as MailError {
            return error
        }
    }

    @Test func successReturnsProviderIdAndSendsHeadersAndBody() async throws {
        let recorder = LogRecorder()
        try await FakeResendServer.with { server in
            server.enqueue(.accepted(id: "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"))
            let sent = try await withSender(server, logger: recorder.logger()) { sender in
                try await sender.send(Self.mail, idempotencyKey: "outbox-42")
            }
            #expect(sent.providerId == "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794")

            let requests = server.requests
            try #require(requests.count == 1)
            let request = requests[0]
            #expect(request.method == .POST)
            #expect(request.uri == "/emails")
            #expect(request.headers["Authorization"] == ["Bearer \(Self.apiKey)"])
            #expect(request.headers["Idempotency-Key"] == ["outbox-42"])
            #expect(request.headers["User-Agent"] == ["switchboard"])
            #expect(request.headers["Content-Type"] == ["application/json"])

            let json = try #require(request.bodyJSON)
            #expect(json["from"] as? String == "Switchboard <no-reply@example.test>")
            #expect(json["to"] as? [String] == ["ada@example.test"])
            #expect(json["subject"] as? String == "Confirm your email address")
            #expect(json["html"] as? String == "<p>Hello</p>")
            #expect(json["text"] as? String == "Hello")
            #expect(json["reply_to"] as? String == "support@example.test")
            let tags = try #require(json["tags"] as? [[String: String]])
            #expect(tags == [["name": "app", "value": "switchboard"], ["name": "kind", "value": "verification"]])
        }
        // Logged at debug with the idempotency key; never the key or the body.
        #expect(recorder.entries.contains { $0.metadata["mail.idempotency_key"] == "outbox-42" })
        for entry in recorder.entries {
            #expect(!entry.rendered.contains(Self.apiKey))
            #expect(!entry.rendered.contains("<p>Hello</p>"))
        }
    }

    @Test func omitsOptionalFieldsWhenAbsent() async throws {
        try await FakeResendServer.with { server in
            let plain = OutgoingMail(from: "a@example.test", to: ["b@example.test"], subject: "s", html: "h", text: "t")
            _ = try await withSender(server) { try await $0.send(plain, idempotencyKey: "k") }
            let json = try #require(server.requests.first?.bodyJSON)
            #expect(json["reply_to"] == nil)
            #expect(json["tags"] == nil)
        }
    }

    @Test func serviceUnavailableIsRetryable() async throws {
        try await FakeResendServer.with { server in
            server.enqueue(.error(.serviceUnavailable, name: "internal_server_error", message: "try later"))
            let error = try await withSender(server) { try await sendExpectingError($0) }
            #expect(error.code == .providerUnavailable)
            #expect(error.disposition == .retry(after: nil))
            #expect(error.httpStatus == 503)
        }
    }

    @Test func rateLimitHonoursRetryAfterSeconds() async throws {
        try await FakeResendServer.with { server in
            server.enqueue(
                .error(
                    .tooManyRequests,
                    name: "rate_limit_exceeded",
                    message: "Too many requests.",
                    headers: [("Retry-After", "7")]
                )
            )
            let error = try await withSender(server) { try await sendExpectingError($0) }
            #expect(error.code == .rateLimited)
            #expect(error.disposition == .retry(after: .seconds(7)))
            #expect(error.httpStatus == 429)
            #expect(error.providerErrorName == "rate_limit_exceeded")
        }
    }

    @Test func validationErrorIsPermanentWithProviderNameAndMessage() async throws {
        try await FakeResendServer.with { server in
            server.enqueue(
                .error(
                    .unprocessableEntity,
                    name: "validation_error",
                    message: "Invalid `to` field. The email address needs to follow the `email@example.com` format."
                )
            )
            let error = try await withSender(server) { try await sendExpectingError($0) }
            #expect(error.code == .rejected)
            #expect(error.disposition == .permanent)
            #expect(error.httpStatus == 422)
            #expect(error.providerErrorName == "validation_error")
            #expect(error.providerMessage?.hasPrefix("Invalid `to` field.") == true)
            #expect(String(describing: error).contains("validation_error"))
            #expect(!String(describing: error).contains(Self.apiKey))
        }
    }

    @Test func concurrentIdempotentRequestIsRetryable() async throws {
        try await FakeResendServer.with { server in
            server.enqueue(
                .error(.conflict, name: "concurrent_idempotent_requests", message: "Same key in flight."),
                .error(.conflict, name: "invalid_idempotent_request", message: "Different payload, same key.")
            )
            try await withSender(server) { sender in
                let concurrent = try await sendExpectingError(sender)
                #expect(concurrent.code == .idempotencyConflict)
                #expect(concurrent.disposition.isRetryable)

                let invalid = try await sendExpectingError(sender)
                #expect(invalid.code == .rejected)
                #expect(invalid.disposition == .permanent)
                #expect(invalid.providerErrorName == "invalid_idempotent_request")
            }
        }
    }

    @Test func authenticationErrorIsPermanent() async throws {
        try await FakeResendServer.with { server in
            server.enqueue(.error(.unauthorized, name: "missing_api_key", message: "Missing API key."))
            let error = try await withSender(server) { try await sendExpectingError($0) }
            #expect(error.disposition == .permanent)
            #expect(error.httpStatus == 401)
        }
    }

    @Test func slowServerHitsTheDeadline() async throws {
        try await FakeResendServer.with { server in
            server.enqueue(.init(body: #"{"id":"late"}"#, delay: .seconds(10)))
            let clock = ContinuousClock()
            // Deadlines in these tests leave room for a loaded CI machine (TLS handshakes in a
            // debug build under parallel tests can take hundreds of milliseconds).
            let (error, elapsed) = try await withSender(server, timeout: .seconds(3)) { sender in
                let start = clock.now
                let error = try await sendExpectingError(sender)
                return (error, clock.now - start)
            }
            #expect(error.code == .deadlineExceeded)
            #expect(error.disposition.isRetryable)
            #expect(elapsed < .seconds(6))
        }
    }

    @Test func slowBodyHitsTheDeadline() async throws {
        try await FakeResendServer.with { server in
            server.enqueue(.init(body: #"{"id":"late"}"#, bodyDelay: .seconds(10)))
            let clock = ContinuousClock()
            let (error, elapsed) = try await withSender(server, timeout: .seconds(3)) { sender in
                let start = clock.now
                let error = try await sendExpectingError(sender)
                return (error, clock.now - start)
            }
            #expect(elapsed < .seconds(6))
            #expect(error.code == .deadlineExceeded)
            #expect(error.disposition.isRetryable)
        }
    }

    @Test func oversizedResponseIsCapped() async throws {
        try await FakeResendServer.with { server in
            let huge = #"{"id":"x","padding":""# + String(repeating: "a", count: 16_000) + #""}"#
            server.enqueue(.init(body: huge))
            let clock = ContinuousClock()
            let (error, elapsed) = try await withSender(server, maxResponseBytes: 1024) { sender in
                let start = clock.now
                let error = try await sendExpectingError(sender)
                return (error, clock.now - start)
            }
            #expect(elapsed < .seconds(3))
            #expect(error.code == .responseTooLarge)
            #expect(error.disposition.isRetryable)
        }
    }

    @Test func successWithoutIdIsNotTreatedAsSent() async throws {
        try await FakeResendServer.with { server in
            server.enqueue(.init(headers: [("Content-Type", "text/html")], body: "<html>captive portal</html>"))
            let error = try await withSender(server) { try await sendExpectingError($0) }
            #expect(error.code == .invalidResponse)
            #expect(error.disposition.isRetryable)
        }
    }

    @Test func untrustedCertificateFails() async throws {
        try await FakeResendServer.with { server in
            let error = try await withSender(server, timeout: .seconds(4), trustTestCA: false) {
                try await sendExpectingError($0)
            }
            #expect(error.code == .tlsFailure)
            #expect(error.disposition.isRetryable)
            #expect(server.requests.isEmpty)
        }
    }

    @Test func connectionRefusedIsRetryable() async throws {
        // Start a server to learn a free port, then close it.
        let server = try await FakeResendServer.start(certificates: try TestCertificates.shared())
        try await server.close()
        let error = try await withSender(server, timeout: .seconds(4)) { try await sendExpectingError($0) }
        #expect(error.code == .connectionFailed)
        #expect(error.disposition.isRetryable)
    }

    @Test func borrowedClientGetsTheExtraCAPerRequest() async throws {
        try await FakeResendServer.with { server in
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            do {
                let sender = try ResendMailSender(
                    configuration: ResendConfiguration(
                        apiKey: Self.apiKey,
                        baseURL: server.baseURL + "/",
                        additionalTrustedCAFile: try TestCertificates.shared().caCertificatePath
                    ),
                    httpClient: client,
                    logger: Logger(label: "mail-tests", factory: { _ in SwiftLogNoOpLogHandler() })
                )
                let sent = try await sender.send(Self.mail, idempotencyKey: "borrowed")
                #expect(sent.providerId == "fake-1")
                #expect(server.requests.first?.uri == "/emails")
                try await sender.shutdown()  // leaves the borrowed client alone
                _ = try await sender.send(Self.mail, idempotencyKey: "still-usable")
            } catch {
                try? await client.shutdown()
                throw error
            }
            try await client.shutdown()
        }
    }

    @Test func invalidConfigurationIsReportedAtInit() throws {
        let logger = Logger(label: "mail-tests", factory: { _ in SwiftLogNoOpLogHandler() })
        #expect(throws: MailError.self) {
            _ = try ResendMailSender(configuration: ResendConfiguration(apiKey: "k", baseURL: "ftp://x"), logger: logger)
        }
        do {
            _ = try ResendMailSender(
                configuration: ResendConfiguration(apiKey: "k", additionalTrustedCAFile: "/nonexistent/ca.pem"),
                logger: logger
            )
            Issue.record("expected an error")
        } catch let error as MailError {
            #expect(error.code == .invalidConfiguration)
        }
    }

    @Test func configurationDescriptionHidesTheKey() {
        let configuration = ResendConfiguration(apiKey: Self.apiKey)
        #expect(!String(describing: configuration).contains(Self.apiKey))
        #expect(!String(reflecting: configuration).contains(Self.apiKey))
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains(Self.apiKey))
    }

    @Test func runShutsTheOwnedClientDownOnGracefulShutdown() async throws {
        let logger = Logger(label: "mail-tests", factory: { _ in SwiftLogNoOpLogHandler() })
        let sender = try ResendMailSender(configuration: ResendConfiguration(apiKey: "k"), logger: logger)
        let group = ServiceGroup(services: [sender], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await sender.shutdown()  // already done: nothing happens
        let error = try await sendExpectingError(sender)
        #expect(error.code == .cancelled)
        #expect(error.disposition.isRetryable)
    }

    @Test func shutdownIsIdempotent() async throws {
        let sender = try ResendMailSender(
            configuration: ResendConfiguration(apiKey: "k"),
            logger: Logger(label: "mail-tests", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        try await sender.shutdown()
        try await sender.shutdown()
    }
}
