import Accounts
import Chat
import Foundation
import Hummingbird
import Logging
import Relay
import ServiceLifecycle

/// The composition root, used by `main` and by every test.
/// `readiness` is what `/ready` reports besides the database (`serve` marks it draining on SIGTERM).
public func buildApplication(_ configuration: AppConfiguration, logger baseLogger: Logger? = nil, readiness: Readiness = Readiness()) async throws -> some ApplicationProtocol {
    try await buildApplicationAndRoutes(configuration, logger: baseLogger, readiness: readiness).app
}

/// The same composition, also returning the registered routes (the OpenAPI test checks each is documented).
func buildApplicationAndRoutes(
    _ configuration: AppConfiguration, logger baseLogger: Logger? = nil, readiness: Readiness = Readiness()
) async throws -> (app: Application<RouterResponder<AppRequestContext>>, routes: [Router<AppRequestContext>.RouteDescription]) {
    var mutableLogger = baseLogger ?? Logger(label: "switchboard")
    mutableLogger.logLevel = configuration.logLevel
    let logger = mutableLogger

    try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
    let jwtSecret = try configuration.resolvedJWTSecret()
    let config = configuration

    // TLS (read before anything opens, so a bad certificate stops start-up), metrics (Sources/Server/Ops).
    let tls = try config.ops.tls.map { try TLSCertificates(files: $0) }
    let metrics = ServerMetrics()
    let database = try await DatabaseFactory.open(configuration.database, logger: logger)
    let migrations = try MigrationLoader.load(directory: configuration.migrationsDirectory, kind: database.kind)

    let hasher = PasswordHasher(
        parameters: configuration.passwordHashing, threads: configuration.passwordHashThreads, maxQueued: configuration.passwordHashMaxQueued
    )
    var authSettings = AuthSettings()
    // Revoked sessions fail on every REST request at once (per node; other nodes within recheckAfter).
    let sessionLiveness = SessionLiveness(
        database: database,
        settings: .init(accessTokenTTL: configuration.accessTokenTTL, idleTimeout: authSettings.sessionIdleTimeout), clock: config.clock
    )
    let tokens = await AccessTokenService(
        secret: jwtSecret, previousSecrets: configuration.jwtPreviousSecrets, ttl: configuration.accessTokenTTL,
        clock: config.clock, sessionLiveness: sessionLiveness
    )
    let mail = try MailWiring(configuration: configuration, database: database, logger: logger)
    // Several nodes on one PostgreSQL (Sources/Server/Cluster); nil on SQLite or with CLUSTER=off.
    let cluster = Cluster.make(database: database, mode: config.cluster, nodeTimeout: config.clusterNodeTimeout, logger: logger)
    // The durable event log and connection state recovery over it (Sources/Server/Durable).
    let eventLog = EventLogStore(clock: config.clock)
    let recoveryStore = DatabaseSessionRecoveryStore(database: database, log: eventLog, window: config.recoveryWindow, nodeID: cluster?.registry.nodeID)
    let relay = Relay(configuration: relayConfiguration(config, recovery: recoveryStore, metrics: metrics), logger: logger, adapter: cluster?.adapter ?? InMemoryAdapter())
    cluster?.adapter.attach(relay)
    let logTail = LogTail(database: database, log: eventLog, relay: relay, recoveryStore: recoveryStore, retention: max(config.recoveryWindow, LogTail.minimumRetention), logger: logger)
    cluster?.setLogWake { logTail.wake() }
    let realtime = RelayChatEvents(namespace: relay.namespace("/"), logger: logger)
    authSettings.registerRule = ThrottleRule(limit: Double(config.registrationsPerIPPerHour), ratePerSecond: Double(config.registrationsPerIPPerHour) / 3600)
    authSettings.guestSessionLifetime = config.guests.sessionLifetime
    authSettings.guestRule = ThrottleRule(limit: Double(config.guests.perIPPerHour), ratePerSecond: Double(config.guests.perIPPerHour) / 3600)
    let auth = AuthService(
        database: database, hasher: hasher, tokens: tokens, clock: config.clock, settings: authSettings, mailHooks: mail.registrationHooks,
        revocations: realtime, logger: logger
    )
    let chat = ChatServices(
        database: database, hasher: hasher, clock: config.clock,
        verification: EmailVerificationGate(database: database, isRequired: config.requireVerifiedEmail), events: realtime,
        log: ChatLogWriter(log: eventLog, tail: logTail), editWindow: config.messageEditWindow, logger: logger
    )
    let presence = PresenceTracker(gracePeriod: config.presenceGracePeriod, cluster: cluster?.presence)
    // Expired guests leave their rooms and lose their sessions (Admin/GuestSweeper.swift).
    let guestSweeper = GuestSweeper(auth: auth, rooms: chat.rooms, interval: config.guests.sweepInterval, logger: logger)
    let gateway = ChatGateway(
        namespace: relay.namespace("/"), auth: auth, rooms: chat.rooms, messages: chat.messages, readCursors: chat.readCursors, edits: chat.edits,
        reactions: chat.reactions, presence: presence,
        refreshWindow: max(config.accessTokenTTL / 3, .seconds(30)), clock: config.clock, logger: logger,
        verifiedTokens: realtime.verifiedTokens
    )
    gateway.install()
    cluster?.install(namespace: relay.namespace("/"), gateway: gateway, tracker: presence, sessionLiveness: sessionLiveness)

    let router = Router(context: AppRequestContext.self)
    // The client address every later part sees (TRUSTED_PROXIES), then HSTS and API counts.
    router.add(middleware: ClientAddressMiddleware(proxies: config.ops.trustedProxies))
    if tls != nil { router.add(middleware: StrictTransportSecurityMiddleware()) }
    if config.ops.metricsEnabled { router.add(middleware: MetricsMiddleware(metrics: metrics)) }
    // A known path with another method: 405 with Allow (filled from the routes at the end).
    let routeMethods = RouteMethods()
    router.add(middleware: MethodNotAllowedMiddleware(methods: routeMethods))
    HealthController(database: database, readiness: readiness).addRoutes(to: router)
    var nodesAlive: (@Sendable () -> Int)?
    if let registry = cluster?.registry { nodesAlive = { registry.peers.count + 1 } }
    let metricsSources = ServerMetrics.Sources(relay: relay, database: database, nodesAlive: nodesAlive, tls: tls)
    let metricsRoutes = MetricsController<AppRequestContext>(metrics: metrics, sources: metricsSources, token: config.ops.metricsToken)
    if config.ops.metricsEnabled && config.ops.metricsPort == nil { metricsRoutes.addRoutes(to: router) }
    let api = router.group("api").add(middleware: APIErrorMiddleware())
    AuthController(auth: auth, secureCookies: configuration.publicURL.hasPrefix("https://")).addRoutes(to: api)
    // Sign-in with GitHub / OpenID Connect providers (Accounts/OAuth), onto the same sessions.
    let oauth = OAuthService(
        settings: OAuthSettings(providers: config.oauthProviders, publicURL: config.publicURL), database: database, auth: auth,
        clock: config.clock, mailHooks: mail.registrationHooks, logger: logger
    )
    OAuthController(service: oauth, auth: auth, secureCookies: configuration.publicURL.hasPrefix("https://"), logger: logger).addRoutes(to: api)
    mail.addRoutes(api: api, router: router, auth: auth)
    RoomsController(chat: chat, tokens: tokens, presence: presence).addRoutes(to: api)
    AdminController<AppRequestContext>(
        database: database, auth: auth, rooms: chat.rooms, presence: presence, namespace: relay.namespace("/"), clock: config.clock, logger: logger
    ).addRoutes(to: api)
    MessageChangesController(edits: chat.edits, reactions: chat.reactions, tokens: tokens).addRoutes(to: api)
    ModerationController(moderation: chat.moderation, tokens: tokens).addRoutes(to: api)
    SearchController(search: MessageSearch(database: database), tokens: tokens).addRoutes(to: api)
    UsersController(directory: UserDirectory(database: database), tokens: tokens).addRoutes(to: api)
    AccountDeletionController(deletion: AccountDeletion(auth: auth, email: (mail.settings, mail.outbox)), rooms: chat.rooms, tokens: tokens)
        .addRoutes(to: api)
    OpenAPIController(specPath: configuration.openAPIPath).addRoutes(to: api)
    api.addUnknownRouteHandler(methods: routeMethods)
    relay.addRoutes(to: router)
    // The web app: security headers wrap only what is mounted from here on.
    router.add(middleware: SecurityHeadersMiddleware())
    FrontendRoutes(
        directory: config.frontendDirectory, devMailbox: mail.mailbox != nil && !config.isProduction,
        requireVerifiedEmail: config.requireVerifiedEmail
    ).addRoutes(to: router)
    router.addMiddleware {
        FileMiddleware(config.frontendDirectory, searchForIndexHtml: true, logger: logger)
    }

    var app = Application(
        router: router,
        // HTTP/1.1; WebSocket upgrades at /socket.io go straight to the relay's transport.
        server: tls.map { .https1(relay: relay, certificates: $0) } ?? .http1(relay: relay),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "switchboard"),
        // The cluster's heartbeat and LISTEN connection stop before the database closes.
        // The log tail stops before the database closes too.
        services: ([DatabaseService(database: database)] as [any Service]) + (cluster.map { [$0.service] } ?? []) + [logTail, guestSweeper, relay],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.port
            logger.info("switchboard listening", metadata: ["url": "\(tls == nil ? "http" : "https")://\(config.host):\(port)"])
        },
        logger: logger
    )
    app.beforeServerStarts {
        try await applyMigrations(migrations, on: database, logger: logger)
        readiness.migrationsApplied()
        cluster?.ready.open()
        logTail.start()
        guestSweeper.ready.open()
    }
    mail.install(on: &app)
    if let tls { app.addServices(TLSReloadService(certificates: tls, logger: logger)) }
    if config.ops.metricsEnabled, let port = config.ops.metricsPort {
        let routes = MetricsController<BasicRequestContext>(metrics: metrics, sources: metricsSources, token: config.ops.metricsToken)
        app.addServices(metricsApplication(routes, host: config.host, port: port, logger: logger))
    }
    routeMethods.fill(from: router.routes)
    return (app, router.routes)
}

/// The Socket.IO endpoint's settings. Browsers may connect only from the app's own
/// origin (PUBLIC_URL; in development also the loopback spellings of this port) or
/// ALLOWED_ORIGINS. Clients that send no Origin (native apps, python-socketio) are not
/// browsers, which is what an Origin check protects, and pass.
/// Connection state recovery is on, over `recovery` (the database), for the window
/// RECOVERY_WINDOW; a session is owned by the access token's login session. RECOVERY_WINDOW=0
/// turns it off: no `pid`, and logged events go out without the offset argument (for clients
/// whose handlers cannot take it), as Node's server without `connectionStateRecovery`.
/// Handshakes see the client address by the same rule as REST (`TRUSTED_PROXIES`); the relay's
/// counts go to `metrics` when metrics are on.
func relayConfiguration(_ config: AppConfiguration, recovery: DatabaseSessionRecoveryStore, metrics: ServerMetrics? = nil) -> RelayConfiguration {
    var allowed = Set([origin(of: config.publicURL)].compactMap { $0 } + config.allowedOrigins)
    if !config.isProduction {
        let scheme = config.ops.tls == nil ? "http" : "https"
        allowed.formUnion(["\(scheme)://localhost:\(config.port)", "\(scheme)://127.0.0.1:\(config.port)"])
    }
    var relay = RelayConfiguration(
        path: "/socket.io",
        maxPayload: 100_000,
        cors: nil,
        allowedOrigins: allowed,
        connectionStateRecovery: config.recoveryWindow == .zero ? nil : ConnectionStateRecovery(
            window: config.recoveryWindow, store: recovery, owner: { ($0 as? SocketAuth)?.identity.sessionID }
        )
    )
    let proxies = config.ops.trustedProxies
    relay.clientAddress = { peer, headers in proxies.clientAddress(peer: peer, headers: headers) }
    if config.ops.metricsEnabled { relay.observer = metrics }
    return relay
}

func origin(of url: String) -> String? {
    guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else { return nil }
    return components.port.map { "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)"
}

