import Accounts
import Hummingbird
import Synchronization

/// The methods registered for each route path, to answer a known path with the wrong method
/// as RFC 9110 §15.5.6 asks: 405 with an `Allow` header listing the methods it has, in the
/// API's error shape (`{"error":{"code":"method_not_allowed",…}}`), not an empty 404.
///
/// Filled once from the router's route list after every route is registered
/// (``fill(from:)``); read by the API's catch-all handler (``RouterGroup/addUnknownRouteHandler(methods:)``).
final class RouteMethods: Sendable {
    private struct Route {
        let components: [RouterPath.Element]
        let method: HTTPRequest.Method
    }

    private let routes = Mutex<[Route]>([])

    init() {}

    /// Records every route but the catch-alls (`**`), which match any path.
    func fill(from descriptions: [Router<some RequestContext>.RouteDescription]) {
        let table = descriptions
            .filter { !$0.path.components.contains { $0.description == "**" } }
            .map { Route(components: $0.path.components, method: $0.method) }
        routes.withLock { $0 = table }
    }

    /// The methods some route has for `path` (sorted by name; empty when no route has the path).
    /// A component matches as the router matches it (`RouterPath.Element ~=`): literals exactly,
    /// captures and wildcards anything; and, as the router's trie does, a literal that matches a
    /// segment wins over a capture at the same place without falling back to it
    /// (`/api/rooms/public` is not `/api/rooms/{id}`, so `PATCH` is not allowed there).
    func allowed(for path: String) -> [HTTPRequest.Method] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.withLock { routes in
            var candidates = routes.filter { route in
                route.components.count == parts.count && zip(route.components, parts).allSatisfy { $0 ~= $1 }
            }
            for (index, part) in parts.enumerated() {
                let literal = candidates.filter { $0.components[index].description == part }
                if !literal.isEmpty { candidates = literal }
            }
            return Set(candidates.map(\.method.rawValue))
        }
        return methods.sorted().compactMap { HTTPRequest.Method($0) }
    }
}

extension APIError {
    /// 405 `method_not_allowed` with `Allow` (RFC 9110 §10.2.1) listing `allowed`.
    static func methodNotAllowed(_ allowed: [HTTPRequest.Method]) -> APIError {
        let list = allowed.map(\.rawValue).joined(separator: ", ")
        return APIError(
            .methodNotAllowed, message: "This path does not accept that method; it accepts \(list).",
            headers: [.allow: list]
        )
    }
}

extension RouterGroup {
    /// Any other request under the group: 405 with `Allow` when the path exists with other
    /// methods, else 404 `not_found`, both in the API's error shape. Covers every method a
    /// client may send (HEAD and OPTIONS included: no API route has them).
    func addUnknownRouteHandler(methods: RouteMethods) {
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete, .head, .options] {
            on("**", method: method) { request, _ -> Response in
                let allowed = methods.allowed(for: request.uri.path)
                if !allowed.isEmpty { throw APIError.methodNotAllowed(allowed) }
                throw APIError.notFound
            }
        }
    }
}

/// Router-wide: when no route answers a request (the router's not-found path, which a known
/// path with an unregistered method also takes), answers 405 with `Allow` if the path has
/// routes with other methods, else 404 `not_found` in the JSON shape for `/api/…` paths and
/// the router's own 404 elsewhere (the web app's files).
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let methods: RouteMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = methods.allowed(for: request.uri.path)
            if !allowed.isEmpty { throw APIError.methodNotAllowed(allowed) }
            if request.uri.path.hasPrefix("/api/") { throw APIError.notFound }
            throw error
        }
    }
}
