import Accounts
import Chat
import Configuration
import Foundation
import Logging

/// Everything the server reads from its environment, read once and validated.
///
/// Layering (first wins): command line (`--port 9000`) > environment (`PORT=9000`) >
/// `.env` in the working directory > defaults. ``load(from:)`` reports every bad or
/// missing key in one ``ConfigurationError``.
public struct AppConfiguration: Sendable {
    public enum Environment: String, Sendable { case development, production }

    public var host: String
    public var port: Int
    public var dataDirectory: String
    public var database: DatabaseLocation
    public var publicURL: String
    /// `JWT_SECRET` (at least 32 bytes; required in production). nil: the secret generated once
    /// and kept in DATA_DIR (development); ``resolvedJWTSecret()`` gives the one to sign with.
    public var jwtSecret: String?
    /// Previous secrets still accepted for verification during rotation.
    public var jwtPreviousSecrets: [String]
    public var logLevel: Logger.Level
    public var environment: Environment
    public var frontendDirectory: String
    public var migrationsDirectory: String
    public var accessTokenTTL: Duration
    public var allowedOrigins: [String]
    public var resendAPIKey: String?
    public var resendBaseURL: String
    public var resendCAFile: String?
    public var mailFrom: String
    public var requireVerifiedEmail: Bool
    /// Registrations allowed per client IP per hour (a burst of this many, then refilling).
    public var registrationsPerIPPerHour: Int = 20
    /// scrypt cost; OWASP's setting unless tests lower it.
    public var passwordHashing: ScryptParameters = .owasp
    /// Threads hashing passwords at once, and callers allowed to wait for one; past that
    /// the hasher sheds load (503 `server_busy`). Not configuration keys: tests lower them.
    public var passwordHashThreads: Int = 2
    public var passwordHashMaxQueued: Int = 256
    /// The time source of tokens, sessions, chat and the realtime gateway. Not a
    /// configuration key: tests inject a clock they move by hand.
    public var clock: AccountsClock = .system
    /// How long a user's last socket may be gone before `presence` says offline (a page
    /// reload should not flash "offline"; PROTOCOL.md documents 5 s). Not a configuration
    /// key: tests shorten it.
    public var presenceGracePeriod: Duration = .seconds(5)
    /// `RECOVERY_WINDOW` (seconds, 0-3600, default 120, as Node's `maxDisconnectionDuration`):
    /// how long a dropped Socket.IO session can be recovered with every event it missed, and how
    /// long the event log keeps events (at least a minute: docs/ARCHITECTURE.md, Durable events).
    /// 0 turns connection state recovery off (no `pid`, no offset argument on events), as Node's
    /// server without `connectionStateRecovery`: for clients whose event handlers have a fixed arity.
    public var recoveryWindow: Duration = .seconds(120)
    /// `MESSAGE_EDIT_WINDOW` (seconds, 0-31536000, default 900: `MessageRules.defaultEditWindow`
    /// says why): how long after sending its author may edit a message; 0 turns editing off.
    public var messageEditWindow: Duration = MessageRules.defaultEditWindow
    /// `CLUSTER`: `auto` (default) runs as one node of several when DATABASE_URL is PostgreSQL
    /// (docs/DEPLOYMENT.md); `off` keeps broadcasts, presence and revocation on this process.
    public var cluster: ClusterMode = .auto
    /// `CLUSTER_NODE_TIMEOUT` (seconds, 1-300, default 15): a node silent for this long is
    /// declared dead by the others, which clean up after it (its users' presence).
    public var clusterNodeTimeout: Duration = .seconds(15)
    /// `GUEST_SESSION_LIFETIME`, `GUESTS_PER_IP_PER_HOUR` (``GuestConfiguration``).
    public var guests = GuestConfiguration()
    /// TLS, metrics, trusted proxies, shutdown drain (`Ops/OpsConfiguration.swift`).
    public var ops = OpsConfiguration()
    /// `OAUTH_PROVIDERS` and each one's `OAUTH_<NAME>_*` keys: the sign-in providers, in the
    /// order the login screen shows them (``OAuthConfiguration``); none by default.
    public var oauthProviders: [OAuthProvider] = []

    public var openAPIPath: String { (ProjectPaths.root as NSString).appendingPathComponent("docs/openapi.yaml") }

    public var isProduction: Bool { environment == .production }

    /// The secret access tokens are signed with: ``jwtSecret``, or else the one generated once in
    /// ``dataDirectory`` (`jwt-secret`, mode 0600), created on first use. Throws when that file
    /// can be neither read nor created.
    public func resolvedJWTSecret() throws -> String {
        if let jwtSecret { return jwtSecret }
        return try SecretFile.loadOrCreate(in: dataDirectory)
    }

    /// Defaults suitable for a test: a fresh data dir, SQLite, a random port.
    public static func forTesting(dataDirectory: String, database: DatabaseLocation? = nil) -> AppConfiguration {
        AppConfiguration(
            host: "127.0.0.1", port: 0, dataDirectory: dataDirectory,
            database: database ?? .sqlite(path: (dataDirectory as NSString).appendingPathComponent("switchboard.sqlite")),
            publicURL: "http://localhost:8080", jwtSecret: "test-secret-" + UUID().uuidString, jwtPreviousSecrets: [],
            logLevel: .warning, environment: .development,
            frontendDirectory: ProjectPaths.frontend, migrationsDirectory: ProjectPaths.migrations,
            accessTokenTTL: .seconds(900), allowedOrigins: [],
            resendAPIKey: nil, resendBaseURL: "https://api.resend.com", resendCAFile: nil,
            mailFrom: "Switchboard <no-reply@localhost>", requireVerifiedEmail: true, passwordHashing: .testing
        )
    }
}

/// Every problem found in the configuration, reported together.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var problems: [(key: String, message: String)]
    public var description: String {
        "invalid configuration:\n" + problems.map { "  \($0.key): \($0.message)" }.joined(separator: "\n")
    }
}

extension AppConfiguration {
    /// Builds the provider stack and loads the configuration.
    public static func load(arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> AppConfiguration {
        let reader = ConfigReader(providers: [
            CommandLineArgumentsProvider(arguments: ["switchboard"] + arguments),
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(["JWT_SECRET", "RESEND_API_KEY", "DATABASE_URL", "JWT_PREVIOUS_SECRETS", "METRICS_TOKEN"])),
            try await EnvironmentVariablesProvider(environmentFilePath: ".env", allowMissing: true, secretsSpecifier: .specific(["JWT_SECRET", "RESEND_API_KEY", "DATABASE_URL", "JWT_PREVIOUS_SECRETS", "METRICS_TOKEN"])),
        ])
        return try load(from: reader)
    }

    public static func load(from reader: ConfigReader) throws -> AppConfiguration {
        var problems: [(String, String)] = []
        func string(_ key: String) -> String? {
            reader.string(forKey: ConfigKey(key.split(separator: ".").map(String.init)), isSecret: false).flatMap { $0.isEmpty ? nil : $0 }
        }
        func secret(_ key: String) -> String? {
            reader.string(forKey: ConfigKey(key.split(separator: ".").map(String.init)), isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        }
        func envName(_ key: String) -> String { key.replacingOccurrences(of: ".", with: "_").uppercased() }

        let environmentName = string("environment") ?? "development"
        let environment = Environment(rawValue: environmentName.lowercased())
        if environment == nil { problems.append(("ENVIRONMENT", "must be development or production, got '\(environmentName)'")) }

        let host = string("host") ?? "127.0.0.1"
        var port = 8080
        if let raw = string("port") {
            if let value = Int(raw), (0...65535).contains(value) { port = value } else {
                problems.append(("PORT", "must be an integer 0-65535, got '\(raw)'"))
            }
        }
        let dataDirectory = string("data.dir") ?? "./data"
        var database = DatabaseLocation.sqlite(path: (dataDirectory as NSString).appendingPathComponent("switchboard.sqlite"))
        if let raw = secret("database.url") {
            do { database = try DatabaseLocation.parse(raw) } catch {
                problems.append(("DATABASE_URL", error.description))
            }
        }
        let publicURL = (string("public.url") ?? "http://localhost:\(port)").trimmingSuffix("/")
        if let url = URL(string: publicURL), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil {} else {
            problems.append(("PUBLIC_URL", "must be an absolute http(s) URL, got '\(publicURL)'"))
        }
        let jwtSecret = secret("jwt.secret")
        if let jwtSecret, jwtSecret.utf8.count < 32 {
            problems.append(("JWT_SECRET", "must be at least 32 bytes"))
        }
        if environment == .production && jwtSecret == nil {
            problems.append(("JWT_SECRET", "is required in production"))
        }
        let previous = secret("jwt.previous.secrets")?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } ?? []

        var logLevel = Logger.Level.info
        if let raw = string("log.level") {
            if let level = Logger.Level(rawValue: raw.lowercased()) { logLevel = level } else {
                problems.append(("LOG_LEVEL", "must be one of trace, debug, info, notice, warning, error, critical"))
            }
        }
        var accessTTL = Duration.seconds(900)
        if let raw = string("access.token.ttl") {
            if let seconds = Int(raw), seconds >= 30, seconds <= 86_400 { accessTTL = .seconds(seconds) } else {
                problems.append(("ACCESS_TOKEN_TTL", "must be seconds between 30 and 86400, got '\(raw)'"))
            }
        }
        let origins = string("allowed.origins")?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces).trimmingSuffix("/") } ?? []
        let resendKey = secret("resend.api.key")
        if environment == .production && resendKey == nil {
            problems.append(("RESEND_API_KEY", "is required in production (mail would otherwise only be logged)"))
        }
        let resendBase = (string("resend.base.url") ?? "https://api.resend.com").trimmingSuffix("/")
        if URL(string: resendBase)?.scheme == nil { problems.append(("RESEND_BASE_URL", "must be a URL")) }
        var requireVerified = true
        if let raw = string("require.verified.email") {
            switch raw.lowercased() {
            case "true", "1", "yes": requireVerified = true
            case "false", "0", "no": requireVerified = false
            default: problems.append(("REQUIRE_VERIFIED_EMAIL", "must be true or false"))
            }
        }

        var registrationsPerHour = 20
        if let raw = string("registrations.per.ip.per.hour") {
            if let value = Int(raw), value >= 1, value <= 1_000_000 { registrationsPerHour = value } else {
                problems.append(("REGISTRATIONS_PER_IP_PER_HOUR", "must be an integer from 1 to 1000000"))
            }
        }

        var recoveryWindow = Duration.seconds(120)
        if let raw = string("recovery.window") {
            if let seconds = Int(raw), seconds >= 0, seconds <= 3600 { recoveryWindow = .seconds(seconds) } else {
                problems.append(("RECOVERY_WINDOW", "must be seconds from 0 (off) to 3600, got '\(raw)'"))
            }
        }

        var editWindow = MessageRules.defaultEditWindow
        if let raw = string("message.edit.window") {
            if let seconds = Int(raw), seconds >= 0, seconds <= 31_536_000 { editWindow = .seconds(seconds) } else {
                problems.append(("MESSAGE_EDIT_WINDOW", "must be seconds from 0 to 31536000, got '\(raw)'"))
            }
        }

        var clusterMode = ClusterMode.auto
        if let raw = string("cluster") {
            if let mode = ClusterMode(rawValue: raw.lowercased()) { clusterMode = mode } else {
                problems.append(("CLUSTER", "must be auto or off, got '\(raw)'"))
            }
        }
        var nodeTimeout = Duration.seconds(15)
        if let raw = string("cluster.node.timeout") {
            if let seconds = Double(raw), seconds >= 1, seconds <= 300 { nodeTimeout = .milliseconds(Int64(seconds * 1000)) } else {
                problems.append(("CLUSTER_NODE_TIMEOUT", "must be seconds from 1 to 300, got '\(raw)'"))
            }
        }

        let oauthProviders = OAuthConfiguration.load(from: reader, production: environment == .production, problems: &problems)

        let ops = OpsConfiguration.read(string: string, secret: secret, isProduction: environment == .production, problems: &problems)

        let guests = GuestConfiguration.read(string: string, problems: &problems)

        guard let environment, problems.isEmpty else { throw ConfigurationError(problems: problems) }
        var config = AppConfiguration(
            host: host, port: port, dataDirectory: dataDirectory, database: database, publicURL: publicURL,
            jwtSecret: jwtSecret, jwtPreviousSecrets: previous, logLevel: logLevel, environment: environment,
            frontendDirectory: string("frontend.dir") ?? ProjectPaths.frontend,
            migrationsDirectory: string("migrations.dir") ?? ProjectPaths.migrations,
            accessTokenTTL: accessTTL, allowedOrigins: origins,
            resendAPIKey: resendKey, resendBaseURL: resendBase, resendCAFile: string("resend.ca.file"),
            mailFrom: string("mail.from") ?? "Switchboard <no-reply@localhost>",
            requireVerifiedEmail: requireVerified
        )
        config.registrationsPerIPPerHour = registrationsPerHour
        config.recoveryWindow = recoveryWindow
        config.messageEditWindow = editWindow
        config.cluster = clusterMode
        config.clusterNodeTimeout = nodeTimeout
        config.guests = guests
        config.ops = ops
        config.oauthProviders = oauthProviders
        return config
    }
}

/// Where the project's runtime files are when no directory is configured: the
/// working directory when it has them (a checkout, or the container's /app),
/// otherwise the checkout this binary was built from.
enum ProjectPaths {
    static var frontend: String { locate("frontend") }
    static var migrations: String { locate("Migrations") }
    static var root: String { (locate("docs") as NSString).deletingLastPathComponent }

    private static func locate(_ name: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        let local = (cwd as NSString).appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: local) { return local }
        let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return sourceRoot.appendingPathComponent(name).path
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var value = self
        while value.hasSuffix(suffix) && !value.isEmpty { value.removeLast(suffix.count) }
        return value
    }
}
