import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server
import Accounts

@Suite("REST API over HTTP")
struct APIHTTPTests {
    @Test("every registered API route is documented in docs/openapi.yaml")
    func openAPICoversRoutes() async throws {
        let config = try TestApp.configuration()
        let (_, routes) = try await buildApplicationAndRoutes(config, logger: TestApp.logger)
        let spec = try String(contentsOfFile: config.openAPIPath, encoding: .utf8)
        var documented: [String: Set<String>] = [:]
        var currentPath: String?
        for line in spec.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                currentPath = String(line.dropFirst(2).dropLast())
            } else if let path = currentPath, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                documented[path, default: []].insert(line.trimmingCharacters(in: .whitespaces).dropLast().uppercased())
            } else if !line.hasPrefix(" ") && !line.isEmpty {
                currentPath = nil
            }
        }
        var missing: [String] = []
        var checked = 0
        for route in routes {
            let path = "\(route.path)"
                .split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            let normalized = "/" + path
            guard normalized.hasPrefix("/api/") || normalized == "/health", !normalized.contains("**") else { continue }
            checked += 1
            if documented[normalized]?.contains(route.method.rawValue) != true {
                missing.append("\(route.method.rawValue) \(normalized)")
            }
        }
        #expect(checked >= 25)
        #expect(missing.isEmpty, "undocumented routes: \(missing)")
    }

    @Test("browser session: cookie refresh rotates, reuse of an old cookie ends the session", arguments: TestApp.databaseKinds)
    func cookieRefresh(kind: DatabaseKind) async throws {
        let app = try await buildApplication(try TestApp.configuration(kind), logger: TestApp.logger)
        try await app.test(.router) { client in
            let register = try await client.execute(uri: "/api/auth/register", method: .post, headers: [.contentType: "application/json"],
                                                    body: .json(["email": "ann@example.com", "username": "ann", "password": "correct horse battery"]))
            #expect(register.status == .accepted)
            let login = try await client.execute(uri: "/api/auth/login", method: .post, headers: [.contentType: "application/json"],
                                                 body: .json(["login": "ann", "password": "correct horse battery"]))
            #expect(login.status == .ok)
            #expect(login.json["refreshToken"] == nil)
            let cookie = try #require(login.headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/api/auth") && !cookie.contains("Secure"))
            let first = String(cookie.split(separator: ";")[0])
            let access = try #require(login.json["accessToken"] as? String)

            let me = try await client.execute(uri: "/api/me", method: .get, headers: [.authorization: "Bearer \(access)"])
            #expect(me.status == .ok && me.json["username"] as? String == "ann" && me.json["emailVerified"] as? Bool == false)

            let refreshed = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: [.cookie: first])
            #expect(refreshed.status == .ok)
            let second = String(try #require(refreshed.headers[.setCookie]).split(separator: ";")[0])
            #expect(second != first)

            let replay = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: [.cookie: first])
            #expect(replay.status == .unauthorized && replay.errorCode == "refresh_token_reused")
            #expect(replay.headers[.setCookie]?.contains("Max-Age=0") == true)
            let afterReuse = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: [.cookie: second])
            #expect(afterReuse.errorCode == "session_expired")
        }
    }

    @Test("bearer problems and oversized bodies get their codes")
    func bearerAndLimits() async throws {
        let app = try await buildApplication(try TestApp.configuration(), logger: TestApp.logger)
        try await app.test(.router) { client in
            let none = try await client.execute(uri: "/api/me", method: .get)
            #expect(none.status == .unauthorized && none.errorCode == "unauthorized")
            let bad = try await client.execute(uri: "/api/rooms", method: .get, headers: [.authorization: "Bearer abc.def.ghi"])
            #expect(bad.status == .unauthorized && bad.errorCode == "invalid_token")
            let huge = ByteBuffer(string: "{\"login\":\"" + String(repeating: "a", count: 300_000) + "\",\"password\":\"x\"}")
            let tooLarge = try await client.execute(uri: "/api/auth/login", method: .post, headers: [.contentType: "application/json"], body: huge)
            #expect(tooLarge.status == .contentTooLarge && tooLarge.errorCode == "payload_too_large")
            let validation = try await client.execute(uri: "/api/auth/register", method: .post, headers: [.contentType: "application/json"],
                                                      body: .json(["email": "x", "username": "!", "password": "1"]))
            #expect(validation.status == .unprocessableContent && validation.errorCode == "validation_failed")
            let fields = (validation.json["error"] as? [String: Any])?["fields"] as? [String: String]
            #expect(Set(fields?.keys.map { $0 } ?? []) == ["email", "username", "password"])
        }
    }

    @Test("the spec is served")
    func servesSpec() async throws {
        let app = try await buildApplication(try TestApp.configuration(), logger: TestApp.logger)
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/api/openapi.yaml", method: .get)
            #expect(response.status == .ok && String(buffer: response.body).hasPrefix("openapi: 3.0.3"))
        }
    }
}
