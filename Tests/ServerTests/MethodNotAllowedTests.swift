import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// Issue 11 item 14: a known path with the wrong method answers 405 with `Allow`, in the
/// API's JSON error shape; an unknown path stays 404 `not_found`.
@Suite("Wrong method on a known path")
struct MethodNotAllowedTests {
    @Test("named cases: 405 with Allow and the JSON error shape; unknown paths 404")
    func namedCases() async throws {
        let app = try await buildApplication(try TestApp.configuration(), logger: TestApp.logger)
        try await app.test(.router) { client in
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.put, "/api/me", "DELETE, GET, PATCH"),
                (.get, "/api/auth/login", "POST"),
                (.delete, "/api/rooms", "GET, POST"),
                (.post, "/api/rooms/5/members", "GET"),
                (.get, "/api/rooms/5/join", "POST"),
                (.put, "/api/rooms/5", "DELETE, PATCH"),
                (.options, "/api/sessions", "GET"),
                // a literal segment wins over {id}, as the router dispatches (found by schemathesis)
                (.patch, "/api/rooms/public", "GET"),
                (.delete, "/api/rooms/join-by-code", "POST"),
            ]
            for (method, uri, allow) in cases {
                let response = try await client.execute(uri: uri, method: method)
                #expect(response.status == .methodNotAllowed, "\(method) \(uri)")
                #expect(response.headers[.allow] == allow, "\(method) \(uri)")
                #expect(response.errorCode == "method_not_allowed", "\(method) \(uri)")
                #expect((response.json["error"] as? [String: Any])?["message"] is String)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            }
            for (method, uri) in [(HTTPRequest.Method.get, "/api/nope"), (.post, "/api/rooms/5/nope"), (.delete, "/api/me/password/x")] {
                let response = try await client.execute(uri: uri, method: method)
                #expect(response.status == .notFound && response.errorCode == "not_found", "\(method) \(uri)")
            }
        }
    }

    @Test("every API route: each method it lacks answers 405 (or another route's answer), never an empty 404")
    func everyRoute() async throws {
        let config = try TestApp.configuration()
        let (app, routes) = try await buildApplicationAndRoutes(config, logger: TestApp.logger)
        let apiRoutes = routes.filter { "\($0.path)".hasPrefix("/api/") && !"\($0.path)".contains("*") }
        #expect(apiRoutes.count >= 25)
        // (method, uri, the route's own methods, whether another route's pattern takes method at uri)
        var probes: [(HTTPRequest.Method, String, Set<String>, Bool)] = []
        for route in apiRoutes {
            let uri = "/" + route.path.components.map { $0.description.hasPrefix("{") ? "5" : $0.description }.joined(separator: "/")
            let registered = Set(routes.filter { "\($0.path)" == "\(route.path)" }.map(\.method))
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] where !registered.contains(method) {
                let other = routes.contains { $0.method == method && "\($0.path)" != "\(route.path)" && !"\($0.path)".contains("*")
                    && $0.path.components.count == route.path.components.count
                    && zip($0.path.components, uri.split(separator: "/")).allSatisfy { $0 ~= $1 } }
                probes.append((method, uri, Set(registered.map(\.rawValue)), other))
            }
        }
        let plan = probes
        try await app.test(.router) { client in
            for (method, uri, registered, other) in plan {
                let response = try await client.execute(uri: uri, method: method)
                if response.status == .methodNotAllowed {
                    let allow = response.headers[.allow]?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
                    #expect(registered.isSubset(of: allow), "\(method) \(uri): Allow \(allow) lacks \(registered)")
                    #expect(response.errorCode == "method_not_allowed")
                } else {
                    // Only where another route's pattern takes this method (rooms/public vs rooms/{id}).
                    #expect(other, "\(method) \(uri) → \(response.status) \(response.errorCode ?? "")")
                }
            }
        }
    }
}
