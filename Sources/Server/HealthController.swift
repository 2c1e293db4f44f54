import Accounts
import Hummingbird

/// `GET /health`: 200 `{"status":"ok","database":"ok"}`, or 503 naming the failing part.
struct HealthController<Context: RequestContext> {
    let database: any Database

    struct Status: ResponseEncodable {
        let status: String
        let database: String
    }

    func addRoutes(to router: Router<Context>) {
        router.get("/health", use: health)
    }

    @Sendable func health(_ request: Request, context: Context) async throws -> EditedResponse<Status> {
        do {
            try await database.ping()
            return EditedResponse(status: .ok, headers: [.cacheControl: "no-store"], response: Status(status: "ok", database: "ok"))
        } catch {
            context.logger.warning("health check: database unreachable", metadata: ["error.type": "\(type(of: error))"])
            return EditedResponse(status: .serviceUnavailable, headers: [.cacheControl: "no-store"], response: Status(status: "degraded", database: "unavailable"))
        }
    }
}
