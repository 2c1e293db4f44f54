import Accounts
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// Polls `/dev/mailbox.json` until a mail to `address` carries a link with `path`; returns the link.
func mailboxLink(_ client: some TestClientProtocol, to address: String, path: String, skipping known: Set<String> = []) async throws -> String {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        let response = try await client.execute(uri: "/dev/mailbox.json", method: .get)
        let messages = response.json["messages"] as? [[String: Any]] ?? []
        for message in messages where (message["to"] as? [String])?.contains(address) == true {
            if let link = (message["links"] as? [String])?.first(where: { $0.contains(path) && !known.contains($0) }) {
                return link
            }
        }
        try await Task.sleep(for: .milliseconds(25))
    }
    throw TestSetupFailure("no mail to \(address) with \(path)")
}

struct TestSetupFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func token(of link: String) throws -> String {
    try #require(URLComponents(string: link)?.queryItems?.first { $0.name == "token" }?.value)
}

@Suite("Email flows over HTTP")
struct EmailHTTPTests {
    static let json: HTTPFields = [.contentType: "application/json"]

    @Test("register, follow the dev mailbox link, verify: /api/me shows emailVerified", arguments: TestApp.databaseKinds)
    func verifyThroughMailbox(kind: DatabaseKind) async throws {
        let app = try await buildApplication(try TestApp.configuration(kind), logger: TestApp.logger)
        try await app.test(.router) { client in
            let register = try await client.execute(
                uri: "/api/auth/register", method: .post, headers: Self.json,
                body: .json(["email": "carol@example.com", "username": "carol", "password": "correct horse battery"])
            )
            #expect(register.status == .accepted)
            let link = try await mailboxLink(client, to: "carol@example.com", path: "/verify-email")
            #expect(link.hasPrefix("http://localhost:8080/verify-email?token="))

            let login = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: Self.json,
                body: .json(["login": "carol", "password": "correct horse battery", "refreshTokenInBody": true])
            )
            let access = try #require(login.json["accessToken"] as? String)
            let bearer: HTTPFields = [.authorization: "Bearer \(access)", .contentType: "application/json"]
            let before = try await client.execute(uri: "/api/me", method: .get, headers: bearer)
            #expect(before.json["emailVerified"] as? Bool == false)

            let verify = try await client.execute(
                uri: "/api/auth/verify-email", method: .post, headers: Self.json, body: .json(["token": try token(of: link)])
            )
            #expect(verify.status == .ok)
            #expect(verify.json["status"] as? String == "verified")
            let after = try await client.execute(uri: "/api/me", method: .get, headers: bearer)
            #expect(after.json["emailVerified"] as? Bool == true)

            let again = try await client.execute(
                uri: "/api/auth/verify-email", method: .post, headers: Self.json, body: .json(["token": try token(of: link)])
            )
            #expect(again.status == .badRequest)
            #expect(again.errorCode == "email_token_used")
            let bogus = try await client.execute(
                uri: "/api/auth/verify-email", method: .post, headers: Self.json, body: .json(["token": "not-a-real-token-at-all"])
            )
            #expect(bogus.status == .badRequest)
            #expect(bogus.errorCode == "email_token_invalid")
            let resend = try await client.execute(uri: "/api/auth/resend-verification", method: .post, headers: bearer)
            #expect(resend.status == .conflict)
            #expect(resend.errorCode == "email_already_verified")
            let anonymous = try await client.execute(uri: "/api/auth/resend-verification", method: .post)
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test("forgot-password answers alike for unknown and known addresses; the reset ends sessions", arguments: TestApp.databaseKinds)
    func forgotAndReset(kind: DatabaseKind) async throws {
        let app = try await buildApplication(try TestApp.configuration(kind), logger: TestApp.logger)
        try await app.test(.router) { client in
            _ = try await client.execute(
                uri: "/api/auth/register", method: .post, headers: Self.json,
                body: .json(["email": "dave@example.com", "username": "dave", "password": "correct horse battery"])
            )
            let login = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: Self.json,
                body: .json(["login": "dave", "password": "correct horse battery", "refreshTokenInBody": true])
            )
            let refresh = try #require(login.json["refreshToken"] as? String)

            let unknown = try await client.execute(
                uri: "/api/auth/forgot-password", method: .post, headers: Self.json, body: .json(["email": "nobody@example.com"])
            )
            let known = try await client.execute(
                uri: "/api/auth/forgot-password", method: .post, headers: Self.json, body: .json(["email": "dave@example.com"])
            )
            #expect(unknown.status == .accepted)
            #expect(known.status == unknown.status)
            #expect(known.body == unknown.body)
            #expect(known.headers[.contentType] == unknown.headers[.contentType])

            let link = try await mailboxLink(client, to: "dave@example.com", path: "/reset-password")
            #expect(link.hasPrefix("http://localhost:8080/reset-password?token="))
            let weak = try await client.execute(
                uri: "/api/auth/reset-password", method: .post, headers: Self.json,
                body: .json(["token": try token(of: link), "password": "short"])
            )
            #expect(weak.status == .unprocessableContent)
            #expect(weak.errorCode == "validation_failed")
            let reset = try await client.execute(
                uri: "/api/auth/reset-password", method: .post, headers: Self.json,
                body: .json(["token": try token(of: link), "password": "a brand new password"])
            )
            #expect(reset.status == .ok)
            #expect(reset.json["accessToken"] == nil)

            let refreshed = try await client.execute(
                uri: "/api/auth/refresh", method: .post, headers: Self.json, body: .json(["refreshToken": refresh])
            )
            #expect(refreshed.status == .unauthorized)
            let newLogin = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: Self.json,
                body: .json(["login": "dave", "password": "a brand new password", "refreshTokenInBody": true])
            )
            #expect(newLogin.status == .ok)
            #expect((newLogin.json["user"] as? [String: Any])?["emailVerified"] as? Bool == true)
            _ = try await mailboxLink(client, to: "dave@example.com", path: "/forgot-password")

            let reused = try await client.execute(
                uri: "/api/auth/reset-password", method: .post, headers: Self.json,
                body: .json(["token": try token(of: link), "password": "yet another password"])
            )
            #expect(reused.status == .badRequest)
            #expect(reused.errorCode == "email_token_used")
        }
    }

    @Test("the development mailbox page lists mail with clickable, escaped links")
    func mailboxPage() async throws {
        let app = try await buildApplication(try TestApp.configuration(), logger: TestApp.logger)
        try await app.test(.router) { client in
            _ = try await client.execute(
                uri: "/api/auth/register", method: .post, headers: Self.json,
                body: .json(["email": "erin@example.com", "username": "erin", "password": "correct horse battery", "displayName": "<b>Erin</b>"])
            )
            let link = try await mailboxLink(client, to: "erin@example.com", path: "/verify-email")
            let page = try await client.execute(uri: "/dev/mailbox", method: .get)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            let html = String(buffer: page.body)
            #expect(html.contains("<a href=\"\(link)\""))
            #expect(html.contains("Erin"))
            #expect(!html.contains("<b>Erin</b>"))
        }
    }

    @Test("no development mailbox routes in production")
    func noMailboxInProduction() async throws {
        var configuration = try TestApp.configuration()
        configuration.environment = .production
        configuration.resendAPIKey = "re_not_used"
        configuration.resendBaseURL = "https://127.0.0.1:9"
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.router) { client in
            let page = try await client.execute(uri: "/dev/mailbox", method: .get)
            let json = try await client.execute(uri: "/dev/mailbox.json", method: .get)
            #expect(page.status == .notFound)
            #expect(json.status == .notFound)
        }
    }
}
