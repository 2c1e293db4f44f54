import Foundation

/// Where the database lives, parsed from `DATABASE_URL` (or the SQLite default in DATA_DIR).
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    public struct PostgresLocation: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        public var requireTLS: Bool

        public init(host: String, port: Int, username: String, password: String?, database: String, requireTLS: Bool) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.requireTLS = requireTLS
        }
    }

    /// A description safe to log: never includes the password.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let pg): "postgres://\(pg.username)@\(pg.host):\(pg.port)/\(pg.database)"
        }
    }

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `sqlite:///abs/path`, `sqlite://relative/path`, `sqlite:path`, `postgres://` or `postgresql://` URLs.
    public static func parse(_ string: String) throws(ParseError) -> DatabaseLocation {
        let trimmed = string.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("sqlite:") {
            var path = String(trimmed.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw ParseError(description: "sqlite URL has no path") }
            return .sqlite(path: path)
        }
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased() else {
            throw ParseError(description: "not a URL")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw ParseError(description: "unsupported scheme '\(scheme)' (use postgres:// or sqlite://)")
        }
        guard let host = components.host, !host.isEmpty else { throw ParseError(description: "postgres URL has no host") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw ParseError(description: "postgres URL has no database name") }
        let sslmode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value
        return .postgres(
            PostgresLocation(
                host: host,
                port: components.port ?? 5432,
                username: components.user.flatMap { $0.removingPercentEncoding } ?? "postgres",
                password: components.password.flatMap { $0.removingPercentEncoding },
                database: database,
                requireTLS: sslmode == "require" || sslmode == "verify-full"
            )
        )
    }
}
