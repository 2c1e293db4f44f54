import HTTPTypes
import Hummingbird

/// Security headers for the web app's pages and files: a Content-Security-Policy that
/// allows only our own scripts, styles and connections (the app needs no inline script
/// and no inline style), no MIME sniffing, no referrer (the verification and reset pages
/// carry a token in their URL), and no framing.
///
/// Mounted after the API, relay and mailbox routes, so it wraps only the frontend routes
/// and the static files (Hummingbird applies a router middleware to the routes added
/// after it and to the not-found path, where `FileMiddleware` serves files).
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var contentSecurityPolicy: String {
        [
            "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
            "font-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
        ].joined(separator: "; ")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        Self.apply(to: &response.headers)
        return response
    }

    static func apply(to headers: inout HTTPFields) {
        let values: [(HTTPField.Name, String)] = [
            (.contentSecurityPolicy, contentSecurityPolicy),
            (.xContentTypeOptions, "nosniff"),
            (.frontendReferrerPolicy, "no-referrer"),
            (.frontendFrameOptions, "DENY"),
            (.frontendOpenerPolicy, "same-origin"),
        ]
        for (name, value) in values where headers[name] == nil {
            headers[name] = value
        }
    }
}

extension HTTPField.Name {
    // Not among swift-http-types' predefined names.
    static var frontendReferrerPolicy: Self { Self("Referrer-Policy")! }
    static var frontendFrameOptions: Self { Self("X-Frame-Options")! }
    static var frontendOpenerPolicy: Self { Self("Cross-Origin-Opener-Policy")! }
}
