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

/// Verifies `Authorization: Bearer <access token>` and puts the identity on the context.
/// Routes behind it answer 401 `unauthorized`, `token_expired` or `invalid_token`.
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
            throw APIError(.unauthorized, code: "token_expired", message: "The access token has expired; refresh it.")
        } catch {
            throw APIError(.unauthorized, code: "invalid_token", message: "The access token is not valid.")
        }
        return try await next(request, context)
    }
}
