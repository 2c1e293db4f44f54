import Accounts
import Foundation
import Hummingbird
import Logging
import Mail
import ServiceLifecycle

/// The mail side of the application: picks the sender (Resend when RESEND_API_KEY is
/// set, otherwise the in-memory development mailbox), builds the outbox and the email
/// flows, mounts their routes and registers the outbox worker.
///
/// Used by `buildApplication` in three steps: `MailWiring(...)` before the
/// `AuthService` (whose registration runs ``registrationHooks``), ``addRoutes(api:router:auth:)``
/// with the other routes, and ``install(on:)`` once the application exists (after the
/// migrations were registered, so the worker starts on a current schema).
struct MailWiring {
    /// Where mail goes: one choice, made once from RESEND_API_KEY.
    enum Transport {
        case resend(ResendMailSender)
        /// No RESEND_API_KEY: mail is kept in memory and logged.
        case developmentMailbox(DevelopmentMailbox)

        var sender: any MailSender {
            switch self {
            case .resend(let resend): resend
            case .developmentMailbox(let mailbox): mailbox
            }
        }
    }

    let settings: EmailSettings
    let outbox: MailOutbox
    let transport: Transport
    let database: any Database
    let startGate = OutboxStartGate()
    let isProduction: Bool
    let logger: Logger

    init(configuration: AppConfiguration, database: any Database, logger: Logger) throws {
        self.settings = EmailSettings(publicURL: configuration.publicURL, mailFrom: configuration.mailFrom)
        self.outbox = MailOutbox()
        self.database = database
        self.isProduction = configuration.isProduction
        self.logger = logger
        if let apiKey = configuration.resendAPIKey {
            let resend = try ResendMailSender(
                configuration: ResendConfiguration(
                    apiKey: apiKey, baseURL: configuration.resendBaseURL, additionalTrustedCAFile: configuration.resendCAFile
                ),
                logger: logger
            )
            self.transport = .resend(resend)
        } else {
            self.transport = .developmentMailbox(DevelopmentMailbox(logger: logger))
            logger.notice("RESEND_API_KEY is not set: mail goes to the development mailbox (/dev/mailbox)")
        }
    }

    /// The development mailbox, when mail goes there.
    var mailbox: DevelopmentMailbox? {
        if case .developmentMailbox(let mailbox) = transport { return mailbox }
        return nil
    }

    /// Runs inside the registration transaction (verification mail, or a notice to the owner).
    var registrationHooks: EmailRegistrationHooks {
        EmailRegistrationHooks(settings: settings, outbox: outbox)
    }

    /// The API routes under `api`; `/dev/mailbox` and `/dev/mailbox.json` on `router`
    /// when the development mailbox is in use and ENVIRONMENT is not production.
    func addRoutes<Context: IdentityRequestContext>(api: RouterGroup<Context>, router: Router<Context>, auth: AuthService) {
        let flows = EmailFlows(database: database, auth: auth, settings: settings, outbox: outbox, logger: logger)
        EmailController(flows: flows).addRoutes(to: api)
        if let mailbox, !isProduction {
            DevelopmentMailboxController(mailbox: mailbox).addRoutes(to: router)
        }
    }

    /// Registers the worker (and the Resend client, which must outlive it: services
    /// stop in reverse order) and opens the worker's start gate after the migrations.
    func install<Responder>(on app: inout Application<Responder>) {
        let worker = OutboxWorker(database: database, sender: transport.sender, signal: outbox.signal, startGate: startGate, logger: logger)
        if case .resend(let resend) = transport { app.addServices(resend) }
        app.addServices(worker)
        let gate = startGate
        app.beforeServerStarts { gate.open() }
    }
}

/// `GET /dev/mailbox` (HTML, links clickable) and `GET /dev/mailbox.json`: the mail the
/// development mailbox received, newest first. Never mounted in production.
struct DevelopmentMailboxController<Context: RequestContext>: Sendable {
    let mailbox: DevelopmentMailbox

    struct MessageResponse: Encodable {
        let id: String
        let to: [String]
        let from: String
        let subject: String
        let text: String
        let html: String
        let receivedAt: String
        let links: [String]
    }

    struct MailboxResponse: ResponseEncodable {
        let messages: [MessageResponse]
    }

    func addRoutes(to router: Router<Context>) {
        router.get("dev/mailbox", use: page)
        router.get("dev/mailbox.json", use: json)
    }

    @Sendable func page(_ request: Request, context: Context) async throws -> Response {
        let html = MailboxPage.render(mailbox.messages())
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html))
        )
    }

    @Sendable func json(_ request: Request, context: Context) async throws -> Response {
        let messages = mailbox.messages().map { message in
            MessageResponse(
                id: message.id, to: message.mail.to, from: message.mail.from, subject: message.mail.subject,
                text: message.mail.text, html: message.mail.html, receivedAt: WireTime.string(message.receivedAt),
                links: HTML.links(in: message.mail.text).map { String(message.mail.text[$0]) }
            )
        }
        var response = try MailboxResponse(messages: messages).response(from: request, context: context)
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
