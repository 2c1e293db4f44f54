import AsyncHTTPClient
import Foundation
import Logging
import Synchronization

/// Who the provider says signed in.
public struct ProviderIdentity: Sendable, Equatable {
    /// The provider's stable id of the account: an ID token's `sub`, GitHub's numeric user id.
    public var subject: String
    public var email: String?
    /// Whether the provider vouches for the address (`email_verified`; GitHub's `verified`).
    public var emailVerified: Bool
    /// A username to start from (`preferred_username`; GitHub's `login`).
    public var preferredUsername: String?
    public var name: String?
}

/// Speaks to the configured providers: the authorization URL of a flow, then the code
/// exchange and the identity (an ID token for OpenID Connect, the REST API for GitHub).
/// Discovery documents are cached for an hour and JSON Web Key Sets until a token names a
/// key they lack (refetched at most once a minute), as key rotation expects.
final class ProviderClient: Sendable {
    let settings: OAuthSettings
    let http: ProviderHTTP
    let clock: AccountsClock
    private let cache = Mutex<[String: Cached]>([:])

    struct Discovery: Sendable {
        let authorizationEndpoint: String
        let tokenEndpoint: String
        let jwksURI: String
    }

    private struct Cached: Sendable {
        var discovery: Discovery
        var discoveredAt: Date
        var jwks: Data?
        var jwksFetchedAt: Date?
    }

    init(settings: OAuthSettings, httpClient: HTTPClient, clock: AccountsClock, logger: Logger) {
        self.settings = settings
        self.http = ProviderHTTP(client: httpClient, timeout: settings.requestTimeout, maxBytes: settings.maxResponseBytes, logger: logger)
        self.clock = clock
    }

    /// Where the browser goes to sign in (RFC 6749 §4.1.1 with RFC 7636 §4.3, and `nonce`
    /// for OpenID Connect, Core 1.0 §3.1.2.1).
    func authorizationURL(_ provider: OAuthProvider, state: String, codeVerifier: String, nonce: String) async throws(OAuthFailure) -> String {
        let endpoint: String
        var query: [(String, String)] = [
            ("response_type", "code"), ("client_id", provider.clientID), ("redirect_uri", settings.redirectURI(for: provider)),
            ("scope", provider.scopes.joined(separator: " ")), ("state", state),
            ("code_challenge", PKCE.challenge(for: codeVerifier)), ("code_challenge_method", PKCE.method),
        ]
        switch provider.kind {
        case .github(let endpoints):
            endpoint = endpoints.authorizeURL
            query.append(("allow_signup", "true"))
        case .openIDConnect(let issuer):
            endpoint = try await discovery(issuer).authorizationEndpoint
            query.append(("nonce", nonce))
        }
        let separator = endpoint.contains("?") ? "&" : "?"
        return endpoint + separator + query.map { "\($0.0)=\(ProviderHTTP.formEncode($0.1))" }.joined(separator: "&")
    }

    /// Exchanges the authorization code and returns who signed in.
    func identity(_ provider: OAuthProvider, code: String, codeVerifier: String, nonce: String) async throws(OAuthFailure) -> ProviderIdentity {
        switch provider.kind {
        case .github(let endpoints):
            let token = try await exchange(provider, tokenURL: endpoints.tokenURL, code: code, codeVerifier: codeVerifier, basicAuth: false)
            return try await gitHubIdentity(endpoints, accessToken: token.accessToken)
        case .openIDConnect(let issuer):
            let discovery = try await discovery(issuer)
            let token = try await exchange(provider, tokenURL: discovery.tokenEndpoint, code: code, codeVerifier: codeVerifier, basicAuth: true)
            guard let idToken = token.idToken else { throw .idToken("the token response has no id_token") }
            let claims = try await verifiedClaims(idToken, issuer: issuer, discovery: discovery)
            try IDTokenValidation.check(claims, issuer: issuer, clientID: provider.clientID, nonce: nonce, now: clock.now(), skew: settings.clockSkew)
            return ProviderIdentity(
                subject: claims.sub, email: claims.email, emailVerified: claims.emailVerified ?? false,
                preferredUsername: claims.preferredUsername, name: claims.name
            )
        }
    }

    // MARK: Token endpoint

    private struct TokenAnswer {
        let accessToken: String
        let idToken: String?
    }

    /// RFC 6749 §4.1.3: `grant_type=authorization_code` with the PKCE verifier. OpenID
    /// Connect providers get the client's credentials as HTTP Basic (`client_secret_basic`,
    /// the default of OpenID Connect Discovery's `token_endpoint_auth_methods_supported`);
    /// GitHub in the form, as its documentation asks.
    private func exchange(_ provider: OAuthProvider, tokenURL: String, code: String, codeVerifier: String, basicAuth: Bool) async throws(OAuthFailure) -> TokenAnswer {
        var form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", settings.redirectURI(for: provider)),
            ("code_verifier", codeVerifier),
        ]
        var headers: [(String, String)] = []
        if basicAuth {
            // RFC 6749 §2.3.1: each part form-encoded, then Basic.
            let pair = "\(ProviderHTTP.formEncode(provider.clientID)):\(ProviderHTTP.formEncode(provider.clientSecret))"
            headers.append(("Authorization", "Basic " + Data(pair.utf8).base64EncodedString()))
        } else {
            form += [("client_id", provider.clientID), ("client_secret", provider.clientSecret)]
        }
        let (status, object) = try await http.postForm(tokenURL, form: form, headers: headers)
        // GitHub answers 200 with {"error": …} for a bad code.
        if let error = object["error"] as? String { throw .provider("token endpoint refused the code: \(error.prefix(64)) (\(status))") }
        guard (200..<300).contains(status), let accessToken = object["access_token"] as? String else {
            throw .provider("token endpoint answered \(status) without an access_token")
        }
        return TokenAnswer(accessToken: accessToken, idToken: object["id_token"] as? String)
    }

    // MARK: OpenID Connect

    /// The discovery document of `issuer`, whose `issuer` must equal it exactly (OpenID
    /// Connect Discovery 1.0 §4.3), cached for an hour.
    func discovery(_ issuer: String) async throws(OAuthFailure) -> Discovery {
        let now = clock.now()
        if let cached = cache.withLock({ $0[issuer] }), now.timeIntervalSince(cached.discoveredAt) < 3600 { return cached.discovery }
        let url = issuer.trimmingSuffix("/") + "/.well-known/openid-configuration"
        guard let object = try await http.getJSON(url) as? [String: Any] else { throw .provider("discovery document is not an object") }
        guard object["issuer"] as? String == issuer else { throw .provider("discovery document names another issuer") }
        guard let authorization = object["authorization_endpoint"] as? String, let token = object["token_endpoint"] as? String,
              let jwks = object["jwks_uri"] as? String else {
            throw .provider("discovery document lacks authorization_endpoint, token_endpoint or jwks_uri")
        }
        let discovery = Discovery(authorizationEndpoint: authorization, tokenEndpoint: token, jwksURI: jwks)
        cache.withLock { $0[issuer] = Cached(discovery: discovery, discoveredAt: now, jwks: nil, jwksFetchedAt: nil) }
        return discovery
    }

    private func verifiedClaims(_ idToken: String, issuer: String, discovery: Discovery) async throws(OAuthFailure) -> IDTokenClaims {
        let now = clock.now()
        let cached = cache.withLock { $0[issuer] }
        if let jwks = cached?.jwks, let claims = try? await IDTokenValidation.verifySignature(idToken, jwksJSON: jwks) {
            return claims
        }
        // Unknown key: fetch the set again, unless it was fetched in the last minute.
        if let jwks = cached?.jwks, let fetched = cached?.jwksFetchedAt, now.timeIntervalSince(fetched) < 60 {
            return try await IDTokenValidation.verifySignature(idToken, jwksJSON: jwks)
        }
        let jwks = try await http.getData(discovery.jwksURI)
        cache.withLock {
            if var entry = $0[issuer] {
                entry.jwks = jwks
                entry.jwksFetchedAt = now
                $0[issuer] = entry
            }
        }
        return try await IDTokenValidation.verifySignature(idToken, jwksJSON: jwks)
    }

    // MARK: GitHub

    /// `GET {api}/user` (the numeric `id` is the subject; `login` the username to start from)
    /// and `GET {api}/user/emails` (the `primary` address and whether it is `verified`).
    private func gitHubIdentity(_ endpoints: GitHubEndpoints, accessToken: String) async throws(OAuthFailure) -> ProviderIdentity {
        let headers = [("Authorization", "Bearer \(accessToken)"), ("Accept", "application/vnd.github+json")]
        guard let user = try await http.getJSON(endpoints.apiURL + "/user", headers: headers) as? [String: Any] else {
            throw .provider("GitHub /user is not an object")
        }
        let subject: String
        if let id = user["id"] as? Int64 { subject = String(id) } else if let id = user["id"] as? Int { subject = String(id) } else {
            throw .provider("GitHub /user has no numeric id")
        }
        guard let emails = try await http.getJSON(endpoints.apiURL + "/user/emails", headers: headers) as? [[String: Any]] else {
            throw .provider("GitHub /user/emails is not an array")
        }
        let primary = emails.first { $0["primary"] as? Bool == true }
        return ProviderIdentity(
            subject: subject, email: primary?["email"] as? String, emailVerified: primary?["verified"] as? Bool ?? false,
            preferredUsername: user["login"] as? String, name: user["name"] as? String
        )
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var value = self
        while !suffix.isEmpty && value.hasSuffix(suffix) { value.removeLast(suffix.count) }
        return value
    }
}
