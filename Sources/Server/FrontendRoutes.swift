import Foundation
import HTTPTypes
import Hummingbird

/// The web app's entry points that are not files: the links mailed for email
/// verification and password reset (`/verify-email?token=…`, `/reset-password?token=…`)
/// load the single-page app, which reads the token and calls the API. Everything else
/// of the app is a static file under `frontend/`, served by `FileMiddleware`, except
/// `/app-config.json`: what the app should know about this server (whether the
/// development mailbox is on, so "check your email" can link to it; whether posting and
/// creating rooms need a verified address, so the app can say so up front).
struct FrontendRoutes<Context: RequestContext>: Sendable {
    static var appPaths: [String] { ["verify-email", "reset-password"] }

    struct AppConfig: ResponseEncodable {
        let devMailbox: Bool
        /// `REQUIRE_VERIFIED_EMAIL`.
        let requireVerifiedEmail: Bool
    }

    let directory: String
    let devMailbox: Bool
    let requireVerifiedEmail: Bool
    let fileIO = FileIO()

    init(directory: String, devMailbox: Bool, requireVerifiedEmail: Bool) {
        self.directory = directory
        self.devMailbox = devMailbox
        self.requireVerifiedEmail = requireVerifiedEmail
    }

    func addRoutes(to router: Router<Context>) {
        for path in Self.appPaths {
            router.get(RouterPath(path), use: index)
        }
        router.get("app-config.json", use: appConfig)
    }

    @Sendable func appConfig(_ request: Request, context: Context) async throws -> Response {
        var response = try AppConfig(devMailbox: devMailbox, requireVerifiedEmail: requireVerifiedEmail).response(from: request, context: context)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// index.html, never cached (the URL carries a one-time token).
    @Sendable func index(_ request: Request, context: Context) async throws -> Response {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("index.html").path
        let body = try await fileIO.loadFile(path: path, context: context)
        return Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: body
        )
    }
}
