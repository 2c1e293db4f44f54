import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// Issue 11 item 12: a revoked session's access token fails on every REST path at once,
/// whatever ended the session.
@Suite("Session revocation over HTTP")
struct SessionRevocationHTTPTests {
    static let json: HTTPFields = [.contentType: "application/json"]
    static let password = "correct horse battery"

    /// One authenticated route per controller (auth, rooms, email): all share the check.
    static let probes: [(HTTPRequest.Method, String)] = [(.get, "/api/me"), (.get, "/api/rooms"), (.get, "/api/sessions"), (.post, "/api/auth/resend-verification")]

    static func register(_ client: some TestClientProtocol, _ name: String) async throws {
        let response = try await client.execute(
            uri: "/api/auth/register", method: .post, headers: json,
            body: .json(["email": "\(name)@example.com", "username": name, "password": password])
        )
        #expect(response.status == .accepted)
    }

    static func login(_ client: some TestClientProtocol, _ name: String, password: String = password) async throws -> String {
        let response = try await client.execute(
            uri: "/api/auth/login", method: .post, headers: json,
            body: .json(["login": name, "password": password, "refreshTokenInBody": true])
        )
        #expect(response.status == .ok)
        return try #require(response.json["accessToken"] as? String)
    }

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    /// Every probe answers 401 `session_revoked` (revoked) or anything but 401 (live).
    static func expectRevoked(_ client: some TestClientProtocol, _ token: String, _ revoked: Bool, _ comment: Comment) async throws {
        for (method, uri) in probes {
            let response = try await client.execute(uri: uri, method: method, headers: bearer(token))
            if revoked {
                #expect(response.status == .unauthorized && response.errorCode == "session_revoked", "\(comment): \(method) \(uri) → \(response.status)")
            } else {
                #expect(response.status != .unauthorized, "\(comment): \(method) \(uri) → \(response.status) \(response.errorCode ?? "")")
            }
        }
    }

    @Test("logout, logout-all, session deletion and password change end the token at once", arguments: TestApp.databaseKinds)
    func revocationPaths(kind: DatabaseKind) async throws {
        let app = try await buildApplication(try TestApp.configuration(kind), logger: TestApp.logger)
        try await app.test(.router) { client in
            try await Self.register(client, "rvk")

            // Logout: the token used for it stops working (it was live and cached just before).
            let a = try await Self.login(client, "rvk")
            try await Self.expectRevoked(client, a, false, "before logout")
            #expect(try await client.execute(uri: "/api/auth/logout", method: .post, headers: Self.bearer(a)).status == .noContent)
            try await Self.expectRevoked(client, a, true, "after logout")

            // Session deletion: another session's token stops working, the caller's does not.
            let b = try await Self.login(client, "rvk")
            let c = try await Self.login(client, "rvk")
            try await Self.expectRevoked(client, c, false, "before deletion")
            let listed = try await client.execute(uri: "/api/sessions", method: .get, headers: Self.bearer(b))
            let others = (listed.json["sessions"] as? [[String: Any]] ?? []).filter { $0["current"] as? Bool == false }
            let cID = try #require(others.first?["id"] as? String)
            #expect(others.count == 1)
            #expect(try await client.execute(uri: "/api/sessions/\(cID)", method: .delete, headers: Self.bearer(b)).status == .noContent)
            try await Self.expectRevoked(client, c, true, "after deletion")
            try await Self.expectRevoked(client, b, false, "the deleting session")

            // Password change: every other session ends; the changing one goes on.
            let d = try await Self.login(client, "rvk")
            try await Self.expectRevoked(client, d, false, "before password change")
            let change = try await client.execute(
                uri: "/api/me/password", method: .post, headers: Self.bearer(b),
                body: .json(["currentPassword": Self.password, "newPassword": "another long password"])
            )
            #expect(change.status == .noContent)
            try await Self.expectRevoked(client, d, true, "after password change")
            try await Self.expectRevoked(client, b, false, "the changing session")

            // Logout-all: every session ends, the caller's included.
            let e = try await Self.login(client, "rvk", password: "another long password")
            try await Self.expectRevoked(client, e, false, "before logout-all")
            #expect(try await client.execute(uri: "/api/auth/logout-all", method: .post, headers: Self.bearer(b)).status == .noContent)
            try await Self.expectRevoked(client, e, true, "after logout-all (other)")
            try await Self.expectRevoked(client, b, true, "after logout-all (caller)")
        }
    }

    @Test("a password reset ends every session's access token at once", arguments: TestApp.databaseKinds)
    func resetEndsTokens(kind: DatabaseKind) async throws {
        let app = try await buildApplication(try TestApp.configuration(kind), logger: TestApp.logger)
        try await app.test(.router) { client in
            try await Self.register(client, "rst")
            let access = try await Self.login(client, "rst")
            try await Self.expectRevoked(client, access, false, "before reset")
            let forgot = try await client.execute(
                uri: "/api/auth/forgot-password", method: .post, headers: Self.json, body: .json(["email": "rst@example.com"])
            )
            #expect(forgot.status == .accepted)
            let link = try await mailboxLink(client, to: "rst@example.com", path: "/reset-password")
            let reset = try await client.execute(
                uri: "/api/auth/reset-password", method: .post, headers: Self.json,
                body: .json(["token": try token(of: link), "password": "a brand new password"])
            )
            #expect(reset.status == .ok)
            try await Self.expectRevoked(client, access, true, "after reset")
        }
    }
}
