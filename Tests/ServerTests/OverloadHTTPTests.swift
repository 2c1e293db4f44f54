import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport
@testable import Server

/// Issue 11 item 13: every caller of the password-hashing gate answers its overload with
/// 503 `server_busy` and `Retry-After`, never 500.
@Suite("Overload over HTTP")
struct OverloadHTTPTests {
    static let json: HTTPFields = [.contentType: "application/json"]

    /// One hashing thread, nobody may wait, and a hash that takes long enough (16 MiB scrypt)
    /// that concurrent requests meet a full gate.
    static func saturableConfiguration(_ kind: DatabaseKind) throws -> AppConfiguration {
        var config = try TestApp.configuration(kind)
        config.passwordHashing = ScryptParameters(cost: 1 << 14, blockSize: 8, parallelism: 1)
        config.passwordHashThreads = 1
        config.passwordHashMaxQueued = 0
        config.requireVerifiedEmail = false
        return config
    }

    static func account(_ client: some TestClientProtocol, _ name: String) async throws -> HTTPFields {
        _ = try await client.execute(
            uri: "/api/auth/register", method: .post, headers: json,
            body: .json(["email": "\(name)@example.com", "username": name, "password": "correct horse battery"])
        )
        let login = try await client.execute(
            uri: "/api/auth/login", method: .post, headers: json, body: .json(["login": name, "password": "correct horse battery"])
        )
        let token = try #require(login.json["accessToken"] as? String)
        return [.authorization: "Bearer \(token)", .contentType: "application/json"]
    }

    /// Sends `count` copies of a request at once; returns (status, code, Retry-After) of each.
    static func burst(
        _ client: some TestClientProtocol, count: Int, uri: String, headers: HTTPFields, body: [String: Any]
    ) async throws -> [(HTTPResponse.Status, String?, String?)] {
        let payload = ByteBuffer.json(body)
        return try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?, String?).self) { group in
            for _ in 0..<count {
                group.addTask {
                    let response = try await client.execute(uri: uri, method: .post, headers: headers, body: payload)
                    return (response.status, response.errorCode, response.headers[.retryAfter])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    static func expectShed(_ results: [(HTTPResponse.Status, String?, String?)], success: HTTPResponse.Status, _ what: Comment) {
        let shed = results.filter { $0.0 == .serviceUnavailable }
        #expect(!shed.isEmpty, "\(what): the gate was never full: \(results.map(\.0))")
        #expect(results.allSatisfy { $0.0 == success || $0.0 == .serviceUnavailable }, "\(what): \(results.map { "\($0.0) \($0.1 ?? "")" })")
        #expect(shed.allSatisfy { $0.1 == "server_busy" && $0.2 == "1" }, "\(what): \(shed.map { "\($0.1 ?? "") \($0.2 ?? "-")" })")
    }

    @Test("creating and joining a room with a password answer 503 server_busy when hashing is full", arguments: TestApp.databaseKinds)
    func roomPasswordOverload(kind: DatabaseKind) async throws {
        let app = try await buildApplication(try Self.saturableConfiguration(kind), logger: TestApp.logger)
        try await app.test(.router) { client in
            let owner = try await Self.account(client, "ovl")
            let joiner = try await Self.account(client, "ovj")

            let creates = try await Self.burst(
                client, count: 6, uri: "/api/rooms", headers: owner,
                body: ["name": "locked", "kind": "private", "password": "room password 1"]
            )
            Self.expectShed(creates, success: .created, "create with password")

            let room = try await client.execute(
                uri: "/api/rooms", method: .post, headers: owner, body: .json(["name": "vault", "kind": "private", "password": "room password 2"])
            )
            #expect(room.status == .created)
            let code = try #require(room.json["joinCode"] as? String)
            let joins = try await Self.burst(
                client, count: 6, uri: "/api/rooms/join-by-code", headers: joiner, body: ["code": code, "password": "room password 2"]
            )
            Self.expectShed(joins, success: .ok, "join with password")
        }
    }
}

/// Issue 11 item 13, the database as a bounded resource: a SQLite write that stays locked
/// past `busy_timeout` (5 s) is 503 `server_busy` with `Retry-After`, not 500.
@Suite("Database overload over HTTP")
struct DatabaseOverloadHTTPTests {
    @Test("a write locked out of SQLite past busy_timeout answers 503 server_busy")
    func sqliteBusy() async throws {
        let config = try TestApp.configuration(.sqlite)
        let app = try await buildApplication(config, logger: TestApp.logger)
        try await app.test(.router) { client in
            let auth = try await OverloadHTTPTests.account(client, "busy")
            guard case .sqlite(let path) = config.database else { throw TestSetupFailure("not sqlite") }
            let response = try await withSQLiteWriteLockHeld(path: path, logger: TestApp.logger) {
                try await client.execute(uri: "/api/me", method: .patch, headers: auth, body: .json(["displayName": "Busy Bee"]))
            }
            #expect(response.status == .serviceUnavailable, "\(response.status) \(response.errorCode ?? "")")
            #expect(response.errorCode == "server_busy")
            #expect(response.headers[.retryAfter] == "1")
        }
    }
}
