import Accounts
import Hummingbird

/// `GET /health` (liveness) and `GET /ready` (readiness), as Kubernetes' probes and load
/// balancers use them.
///
/// - `/health`: 200 `{"status":"ok","database":"ok"|"unavailable"}` while the process serves HTTP.
///   A liveness probe restarts a process that fails it, and restarting does not fix a database
///   outage, so the database's state is reported but does not fail it.
/// - `/ready`: 200 `{"status":"ready","database":"ok","migrations":"current","draining":false}`
///   when the database answers a ping, this process's migrations are applied and it is not
///   shutting down; else 503 with `status: "not_ready"` and the failing part. On SIGTERM the node
///   turns not ready before it drains (`DRAIN_DELAY`), so a balancer stops sending it new clients.
/// Both answer `Cache-Control: no-store`.
struct HealthController<Context: RequestContext> {
    let database: any Database
    let readiness: Readiness

    struct Status: ResponseEncodable {
        let status: String
        let database: String
    }

    struct ReadyStatus: ResponseEncodable {
        let status: String
        let database: String
        let migrations: String
        let draining: Bool
    }

    func addRoutes(to router: Router<Context>) {
        router.get("/health", use: health)
        router.get("/ready", use: ready)
    }

    @Sendable func health(_ request: Request, context: Context) async throws -> EditedResponse<Status> {
        let database = await databaseReachable(context: context)
        return EditedResponse(status: .ok, headers: [.cacheControl: "no-store"], response: Status(status: "ok", database: database ? "ok" : "unavailable"))
    }

    @Sendable func ready(_ request: Request, context: Context) async throws -> EditedResponse<ReadyStatus> {
        let draining = readiness.isDraining
        let migrations = readiness.areMigrationsCurrent
        let database = draining ? false : await databaseReachable(context: context)
        let ok = database && migrations && !draining
        let body = ReadyStatus(
            status: ok ? "ready" : "not_ready", database: draining ? "unchecked" : (database ? "ok" : "unavailable"),
            migrations: migrations ? "current" : "pending", draining: draining
        )
        return EditedResponse(status: ok ? .ok : .serviceUnavailable, headers: [.cacheControl: "no-store"], response: body)
    }

    private func databaseReachable(context: Context) async -> Bool {
        do {
            try await database.ping()
            return true
        } catch {
            context.logger.warning("health check: database unreachable", metadata: ["error.type": "\(type(of: error))"])
            return false
        }
    }
}
