import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Models

/// `/api/auth/oauth/*` and `/api/me/identities`: sign-in with a provider (docs/openapi.yaml).
///
/// The browser navigates `start` → provider → `callback`; the callback answers with a redirect
/// to the web app, never JSON: `/#/oauth/<one-time code>` after a sign-in (the app POSTs the
/// code to `exchange` and gets a session exactly as from a password login; the code sits in
/// the fragment, which no request, log or `Referer` carries), `/#/oauth-linked/<provider>`
/// after linking, `/#/oauth-error/<code>` (``OAuthFailure``) otherwise.
public struct OAuthController<Context: IdentityRequestContext>: Sendable {
    let service: OAuthService
    let auth: AuthService
    let tokens: AuthController<Context>
    let logger: Logger

    /// The browser-binding cookie: set by `start`/`link`, required by `callback` and `exchange`.
    public static var bindingCookieName: String { "sb_oauth" }

    public init(service: OAuthService, auth: AuthService, secureCookies: Bool, logger: Logger) {
        self.service = service
        self.auth = auth
        self.tokens = AuthController(auth: auth, secureCookies: secureCookies)
        self.logger = logger
    }

    public func addRoutes(to group: RouterGroup<Context>) {
        group.get("auth/oauth/providers", use: listProviders)
        group.get("auth/oauth/{provider}/start", use: start)
        group.get("auth/oauth/{provider}/callback", use: callback)
        group.post("auth/oauth/exchange", use: exchange)
        let authed = group.group().add(middleware: BearerAuthenticator<Context>(tokens: auth.tokens))
        authed.post("auth/oauth/{provider}/link", use: link)
        authed.get("me/identities", use: listIdentities)
        authed.delete("me/identities/{id}", use: unlink)
    }

    // MARK: Wire types

    struct ProviderResponse: Encodable {
        let name: String
        let displayName: String
        /// Where the login button points (`GET`, answered with a redirect to the provider).
        let startURL: String
    }

    struct ProvidersResponse: ResponseEncodable {
        let providers: [ProviderResponse]
    }

    struct ExchangeRequest: Decodable {
        let code: String
        let refreshTokenInBody: Bool?
    }

    struct LinkResponse: ResponseEncodable {
        let authorizationURL: String
    }

    struct IdentityResponse: Encodable {
        let id: Int64
        let provider: String
        let displayName: String
        let email: String?
        let createdAt: String
    }

    struct IdentitiesResponse: ResponseEncodable {
        let identities: [IdentityResponse]
        /// Whether a password can log in to the account (one way in that always remains).
        let hasPassword: Bool
    }

    // MARK: Handlers

    @Sendable func listProviders(_ request: Request, context: Context) async throws -> ProvidersResponse {
        ProvidersResponse(providers: service.providers.map {
            ProviderResponse(name: $0.name, displayName: $0.displayName, startURL: "/api/auth/oauth/\($0.name)/start")
        })
    }

    @Sendable func start(_ request: Request, context: Context) async throws -> Response {
        let name = try context.parameters.require("provider")
        do {
            let started = try await service.start(
                providerName: name, browserBinding: cookie(Self.bindingCookieName, in: request), clientIP: request.clientInfo(context: context).ip
            )
            return redirect(to: started.authorizationURL, binding: started.browserBinding)
        } catch let failure as OAuthFailure {
            logger.warning("sign-in could not start", metadata: ["oauth.provider": "\(name)", "reason": "\(failure)"])
            return redirect(to: "/#/oauth-error/\(failure.code)")
        }
    }

    @Sendable func link(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        let name = try context.parameters.require("provider")
        let started: OAuthService.Started
        do {
            started = try await service.start(providerName: name, browserBinding: cookie(Self.bindingCookieName, in: request), linkUserID: identity.userID,
                clientIP: request.clientInfo(context: context).ip
            )
        } catch let failure as OAuthFailure {
            logger.warning("link could not start", metadata: ["oauth.provider": "\(name)", "reason": "\(failure)"])
            throw APIError(.providerUnavailable, message: "The sign-in provider could not be reached; try again later.")
        }
        var response = try LinkResponse(authorizationURL: started.authorizationURL).response(from: request, context: context)
        response.headers[.cacheControl] = "no-store"
        response.headers.append(HTTPField(name: .setCookie, value: bindingCookie(started.browserBinding)))
        return response
    }

    @Sendable func callback(_ request: Request, context: Context) async throws -> Response {
        let name = try context.parameters.require("provider")
        let query = request.uri.queryParameters
        let parameters = OAuthService.CallbackParameters(
            code: query["code"].map(String.init), state: query["state"].map(String.init), error: query["error"].map(String.init)
        )
        do {
            switch try await service.callback(providerName: name, parameters, browserBinding: cookie(Self.bindingCookieName, in: request)) {
            case .signedIn(let code): return redirect(to: "/#/oauth/\(code)")
            case .linked: return redirect(to: "/#/oauth-linked/\(name)")
            }
        } catch let failure as OAuthFailure {
            logger.notice("sign-in refused", metadata: ["oauth.provider": "\(name)", "reason": "\(failure)"])
            return redirect(to: "/#/oauth-error/\(failure.code)")
        } catch {
            logger.error("sign-in failed", metadata: ["oauth.provider": "\(name)", "error": "\(String(reflecting: type(of: error)))"])
            return redirect(to: "/#/oauth-error/internal_error")
        }
    }

    @Sendable func exchange(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await request.decodeJSON(ExchangeRequest.self, context: context)
        guard !body.code.isEmpty, body.code.utf8.count <= 128 else {
            throw APIError(.oauthCodeInvalid, message: "This sign-in link is not valid any more; sign in again.")
        }
        let issued = try await service.exchange(
            code: body.code, browserBinding: cookie(Self.bindingCookieName, in: request), client: request.clientInfo(context: context)
        )
        var response = try tokens.tokenResponse(issued, inBody: body.refreshTokenInBody == true, request: request, context: context)
        response.headers.append(HTTPField(name: .setCookie, value: bindingCookie("", maxAge: 0)))
        return response
    }

    @Sendable func listIdentities(_ request: Request, context: Context) async throws -> IdentitiesResponse {
        let identity = try context.requireIdentity()
        let (linked, hasPassword) = try await service.identities(userID: identity.userID)
        return IdentitiesResponse(
            identities: linked.map {
                IdentityResponse(
                    id: $0.id, provider: $0.provider, displayName: service.settings.provider(named: $0.provider)?.displayName ?? $0.provider,
                    email: $0.email, createdAt: WireTime.string(millis: $0.createdAt)
                )
            },
            hasPassword: hasPassword
        )
    }

    @Sendable func unlink(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError.notFound }
        try await service.unlink(userID: identity.userID, identityID: id)
        return Response(status: .noContent)
    }

    // MARK: Helpers

    func redirect(to location: String, binding: String? = nil) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        if let binding { headers.append(HTTPField(name: .setCookie, value: bindingCookie(binding))) }
        return Response(status: .found, headers: headers)
    }

    /// HttpOnly, only for `/api/auth/oauth`, as long as a flow may take; `SameSite=Lax` because
    /// the callback arrives as a cross-site top-level navigation from the provider, which
    /// `Strict` would strip the cookie from.
    func bindingCookie(_ value: String, maxAge: Int? = nil) -> String {
        let age = maxAge ?? Int(service.settings.flowLifetime.components.seconds)
        return "\(Self.bindingCookieName)=\(value); Path=/api/auth/oauth; Max-Age=\(age); HttpOnly; SameSite=Lax"
            + (service.settings.secureCookies ? "; Secure" : "")
    }

    func cookie(_ name: String, in request: Request) -> String? {
        tokens.cookie(name, in: request)
    }
}
