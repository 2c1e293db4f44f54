import Accounts
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle

/// The composition root, used by `main` and by every test.
public func buildApplication(_ configuration: AppConfiguration, logger baseLogger: Logger? = nil) async throws -> some ApplicationProtocol {
    var configuration = configuration
    var mutableLogger = baseLogger ?? Logger(label: "switchboard")
    mutableLogger.logLevel = configuration.logLevel
    let logger = mutableLogger

    try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
    if configuration.jwtSecret == nil {
        configuration.jwtSecret = try SecretFile.loadOrCreate(in: configuration.dataDirectory)
    }
    let config = configuration

    let database = try await DatabaseFactory.open(configuration.database, logger: logger)
    let migrations = try MigrationLoader.load(directory: configuration.migrationsDirectory, kind: database.kind)

    let hasher = PasswordHasher(parameters: configuration.passwordHashing)
    let tokens = await AccessTokenService(
        secret: configuration.jwtSecret!, previousSecrets: configuration.jwtPreviousSecrets, ttl: configuration.accessTokenTTL
    )
    let auth = AuthService(database: database, hasher: hasher, tokens: tokens, logger: logger)

    let router = Router(context: AppRequestContext.self)
    HealthController(database: database).addRoutes(to: router)
    let api = router.group("api").add(middleware: APIErrorMiddleware())
    AuthController(auth: auth, secureCookies: configuration.publicURL.hasPrefix("https://")).addRoutes(to: api)
    OpenAPIController(specPath: configuration.openAPIPath).addRoutes(to: api)
    api.addUnknownRouteHandler()
    router.addMiddleware {
        FileMiddleware(config.frontendDirectory, searchForIndexHtml: true, logger: logger)
    }

    var app = Application(
        router: router,
        server: .http1WebSocketUpgrade(webSocketRouter: router),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "switchboard"),
        services: [DatabaseService(database: database)],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.port
            logger.info("switchboard listening", metadata: ["url": "http://\(config.host):\(port)"])
        },
        logger: logger
    )
    let runner = MigrationRunner(database: database, migrations: migrations, logger: logger)
    app.beforeServerStarts {
        try await runner.apply()
    }
    return app
}

extension RouterGroup {
    /// Any other path under the group answers 404 in the API's error shape.
    func addUnknownRouteHandler() {
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            on("**", method: method) { _, _ -> Response in throw APIError.notFound }
        }
    }
}
