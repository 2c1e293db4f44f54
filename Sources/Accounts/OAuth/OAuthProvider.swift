import Foundation

/// One configured sign-in provider (`OAUTH_<NAME>_*`, docs/DEPLOYMENT.md).
///
/// `name` is the lowercase key of the configuration (`github`, `keycloak`), used in paths
/// (`/api/auth/oauth/{name}/start`) and stored in `identities.provider`: renaming it
/// orphans the identities linked under the old name.
public struct OAuthProvider: Sendable, Equatable {
    /// How the provider is spoken to.
    public enum Kind: Sendable, Equatable {
        /// GitHub's OAuth app flow: no ID token; the account is `GET {api}/user` and the
        /// address the verified primary one of `GET {api}/user/emails` (GitHub REST API,
        /// "Users" and "Emails").
        case github(GitHubEndpoints)
        /// Any OpenID Connect provider, found from its issuer URL's discovery document
        /// (`{issuer}/.well-known/openid-configuration`, OpenID Connect Discovery 1.0 §4).
        case openIDConnect(issuer: String)
    }

    public var name: String
    /// The label of the login button ("GitHub", "Keycloak").
    public var displayName: String
    public var clientID: String
    public var clientSecret: String
    public var kind: Kind
    /// Scopes asked for: `openid email profile` for OpenID Connect, `read:user user:email` for GitHub.
    public var scopes: [String]

    public init(name: String, displayName: String, clientID: String, clientSecret: String, kind: Kind, scopes: [String]? = nil) {
        self.name = name
        self.displayName = displayName
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.kind = kind
        switch kind {
        case .github: self.scopes = scopes ?? ["read:user", "user:email"]
        case .openIDConnect: self.scopes = scopes ?? ["openid", "email", "profile"]
        }
    }

    /// Whether `name` may name a provider: 1-32 of `[a-z0-9_]`, starting with a letter (it
    /// becomes a path segment and part of environment variable names).
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.unicodeScalars.count <= 32 else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}

/// GitHub's three endpoints; overridable (`OAUTH_<NAME>_AUTHORIZE_URL`, `_TOKEN_URL`,
/// `_API_URL`) for GitHub Enterprise Server and for tests.
public struct GitHubEndpoints: Sendable, Equatable {
    public var authorizeURL: String
    public var tokenURL: String
    /// The REST API base: `{api}/user`, `{api}/user/emails`.
    public var apiURL: String

    public init(
        authorizeURL: String = "https://github.com/login/oauth/authorize",
        tokenURL: String = "https://github.com/login/oauth/access_token",
        apiURL: String = "https://api.github.com"
    ) {
        self.authorizeURL = authorizeURL
        self.tokenURL = tokenURL
        self.apiURL = apiURL
    }
}

/// Settings of the sign-in flows.
public struct OAuthSettings: Sendable {
    /// The configured providers, in the order the login screen shows them.
    public var providers: [OAuthProvider]
    /// `PUBLIC_URL`: redirect URIs are `{publicURL}/api/auth/oauth/{name}/callback`.
    public var publicURL: String
    /// How long a started flow may take at the provider (state, PKCE verifier, nonce).
    public var flowLifetime: Duration = .seconds(600)
    /// How long the web app has to exchange the one-time code of a finished sign-in.
    public var handoffLifetime: Duration = .seconds(120)
    /// Deadline of each request to a provider (the whole exchange, connect to last byte).
    public var requestTimeout: Duration = .seconds(10)
    /// Largest response body read from a provider, bytes.
    public var maxResponseBytes: Int = 1 << 20
    /// Tolerated clock difference when checking an ID token's `exp` and `iat`, seconds.
    public var clockSkew: Duration = .seconds(60)
    /// Whether cookies get `Secure` (PUBLIC_URL is https).
    public var secureCookies: Bool { publicURL.hasPrefix("https://") }

    public init(providers: [OAuthProvider], publicURL: String) {
        self.providers = providers
        self.publicURL = publicURL
    }

    public func provider(named name: String) -> OAuthProvider? {
        providers.first { $0.name == name }
    }

    public func redirectURI(for provider: OAuthProvider) -> String {
        "\(publicURL)/api/auth/oauth/\(provider.name)/callback"
    }
}
