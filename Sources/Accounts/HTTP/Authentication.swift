import Hummingbird

/// A request context that can carry the caller's identity.
public protocol IdentityRequestContext: RequestContext {
    var identity: AccessIdentity? { get set }
}

extension IdentityRequestContext {
    /// The authenticated caller, or a 401 in the API's error shape.
    public func requireIdentity() throws -> AccessIdentity {
        guard let identity else { throw APIError.unauthorized }
        return identity
    }
}

/// Verifies `Authorization: Bearer <access token>`, then that the token's session is
/// still live (``SessionLiveness``: no database read per request in the common case),
/// and puts the identity on the context. Routes behind it answer 401 `unauthorized`,
/// `token_expired`, `invalid_token` or `session_revoked` (the session was logged out,
/// deleted, ended by a password change or reset, or expired).
public struct BearerAuthenticator<Context: IdentityRequestContext>: RouterMiddleware {
    let tokens: AccessTokenService

    public init(tokens: AccessTokenService) {
        self.tokens = tokens
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw APIError.unauthorized
        }
        let token = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        var context = context
        do {
            context.identity = try await tokens.verify(token)
        } catch .expired {
            throw APIError(.tokenExpired, message: "The access token has expired; refresh it.")
        } catch {
            throw APIError(.invalidToken, message: "The access token is not valid.")
        }
        if let liveness = tokens.sessionLiveness, let identity = context.identity, try await !liveness.isLive(identity.sessionID) {
            throw APIError.sessionRevoked
        }
        return try await next(request, context)
    }
}
