import Crypto
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `GET /metrics`: the Prometheus text format (`text/plain; version=0.0.4`).
///
/// With `METRICS_TOKEN` it requires `Authorization: Bearer <token>` (401 otherwise, compared in
/// constant time); without it the endpoint is open (development, or a `METRICS_PORT` that only
/// the scraper can reach). Not served in production unless one of the two is set.
struct MetricsController<Context: RequestContext> {
    let metrics: ServerMetrics
    let sources: ServerMetrics.Sources
    let token: String?

    func addRoutes(to router: Router<Context>) {
        router.get("/metrics", use: scrape)
    }

    @Sendable func scrape(_ request: Request, context: Context) async throws -> Response {
        if let token {
            let given = request.headers[.authorization].flatMap { value -> Substring? in
                let parts = value.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
                return parts[1]
            }
            guard let given, Self.constantTimeEqual(Array(given.utf8), Array(token.utf8)) else {
                return Response(
                    status: .unauthorized,
                    headers: [.wwwAuthenticate: "Bearer realm=\"metrics\"", .contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(string: "metrics require a bearer token\n"))
                )
            }
        }
        let body = await metrics.scrape(sources)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    /// Compares SHA-256 digests, so neither length nor content leaks through timing.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let da = Array(SHA256.hash(data: a)), db = Array(SHA256.hash(data: b))
        var diff: UInt8 = 0
        for i in 0..<da.count { diff |= da[i] ^ db[i] }
        return diff == 0
    }
}

/// Counts API responses for ``ServerMetrics`` (login failures, rate-limit refusals, status classes).
/// Mounted outside `APIErrorMiddleware`, so it sees errors already turned into responses.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            if request.uri.path.hasPrefix("/api/") {
                metrics.httpResponse(path: request.uri.path, method: request.method.rawValue, status: response.status.code)
            }
            return response
        } catch let error as HTTPResponseError {
            if request.uri.path.hasPrefix("/api/") {
                metrics.httpResponse(path: request.uri.path, method: request.method.rawValue, status: error.status.code)
            }
            throw error
        }
    }
}

/// `METRICS_PORT`: `/metrics` alone on its own listener (same HOST), run as a service of the
/// main application so it starts and stops with it.
func metricsApplication(
    _ routes: MetricsController<BasicRequestContext>, host: String, port: Int, logger: Logger
) -> some Service {
    let router = Router(context: BasicRequestContext.self)
    routes.addRoutes(to: router)
    return Application(
        router: router,
        configuration: .init(address: .hostname(host, port: port), serverName: "switchboard-metrics"),
        onServerRunning: { channel in
            logger.info("metrics listening", metadata: ["url": "http://\(host):\(channel.localAddress?.port ?? port)/metrics"])
        },
        logger: logger
    )
}
