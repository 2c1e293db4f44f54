import HTTPTypes
import Hummingbird

/// `Strict-Transport-Security: max-age=31536000` on every response when the server itself serves
/// TLS (`TLS_CERT_FILE`): browsers then use https for this host for a year (RFC 6797).
/// `includeSubDomains` is left out: it would bind every other site under the same name too,
/// which a self-hoster may not control. Behind a TLS-terminating proxy, the proxy sets it.
struct StrictTransportSecurityMiddleware<Context: RequestContext>: RouterMiddleware {
    static var value: String { "max-age=31536000" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var response = try await next(request, context)
            response.headers[.strictTransportSecurity] = Self.value
            return response
        } catch let error as HTTPResponseError {
            var response = try error.response(from: request, context: context)
            response.headers[.strictTransportSecurity] = Self.value
            return response
        }
    }
}
