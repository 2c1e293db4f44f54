import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SQLKit
import Testing
@testable import Server

/// Issue 11 item 10: one mailbox, one account. Addresses compare without letter case
/// everywhere; mail still goes to the address as typed; a database whose existing accounts
/// collide refuses to start, naming them.
@Suite("Email letter case")
struct EmailCaseTests {
    static let json: HTTPFields = [.contentType: "application/json"]
    static let password = "correct horse battery"

    @Test("login, registration and forgot-password treat an address in any case as one account", arguments: TestApp.databaseKinds)
    func oneAccountPerAddress(kind: DatabaseKind) async throws {
        let app = try await buildApplication(try TestApp.configuration(kind), logger: TestApp.logger)
        try await app.test(.router) { client in
            let first = try await client.execute(
                uri: "/api/auth/register", method: .post, headers: Self.json,
                body: .json(["email": "Mixed.Case@Example.Test", "username": "mixedcase", "password": Self.password])
            )
            #expect(first.status == .accepted)
            _ = try await mailboxLink(client, to: "Mixed.Case@example.test", path: "/verify-email")

            // Login with other capitals reaches the same account.
            for login in ["mixed.case@example.test", "MIXED.CASE@EXAMPLE.TEST", "Mixed.Case@Example.Test"] {
                let response = try await client.execute(
                    uri: "/api/auth/login", method: .post, headers: Self.json, body: .json(["login": login, "password": Self.password])
                )
                #expect(response.status == .ok, "login as \(login)")
                #expect((response.json["user"] as? [String: Any])?["username"] as? String == "mixedcase")
            }

            // A second registration with other capitals creates nothing; the owner is told.
            let second = try await client.execute(
                uri: "/api/auth/register", method: .post, headers: Self.json,
                body: .json(["email": "mixed.case@example.test", "username": "secondcase", "password": Self.password])
            )
            #expect(second.status == .accepted)
            let noAccount = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: Self.json, body: .json(["login": "secondcase", "password": Self.password])
            )
            #expect(noAccount.status == .unauthorized)
            _ = try await mailboxLink(client, to: "Mixed.Case@example.test", path: "/forgot-password")

            // Forgot-password with other capitals mails the address as it was typed at registration.
            let forgot = try await client.execute(
                uri: "/api/auth/forgot-password", method: .post, headers: Self.json, body: .json(["email": "MIXED.case@example.TEST"])
            )
            #expect(forgot.status == .accepted)
            let link = try await mailboxLink(client, to: "Mixed.Case@example.test", path: "/reset-password")
            let reset = try await client.execute(
                uri: "/api/auth/reset-password", method: .post, headers: Self.json,
                body: .json(["token": try token(of: link), "password": "a brand new password"])
            )
            #expect(reset.status == .ok)
            let mailbox = try await client.execute(uri: "/dev/mailbox.json", method: .get)
            let recipients = Set((mailbox.json["messages"] as? [[String: Any]] ?? []).flatMap { $0["to"] as? [String] ?? [] })
            #expect(recipients == ["Mixed.Case@example.test"])
        }
    }

    /// A database of `kind` at `config`'s location, migrated up to (not including) 0005,
    /// holding `emails` as accounts.
    static func seedBeforeEmailKey(_ config: AppConfiguration, kind: DatabaseKind, emails: [String]) async throws {
        let logger = TestApp.logger
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        let database = try await DatabaseFactory.open(config.database, logger: logger)
        let migrations = try MigrationLoader.load(directory: config.migrationsDirectory, kind: kind)
            .filter { $0.name < EmailKeyCollisions.migration }
        let seed: @Sendable () async throws -> Void = {
            try await MigrationRunner(database: database, migrations: migrations, logger: logger).apply()
            try await database.write { db in
                for (index, email) in emails.enumerated() {
                    try await db.raw(
                        """
                        INSERT INTO users (email, username, display_name, password_hash, created_at, updated_at)
                        VALUES (\(bind: email), \(bind: "seed\(index)"), \(bind: "Seed"), \(bind: "x"), \(bind: Int64(index)), \(bind: Int64(index)))
                        """
                    ).run()
                }
            }
        }
        try await seed()
        await database.shutdown()
    }

    @Test("start-up refuses a database whose accounts collide by letter case, listing them", arguments: TestApp.databaseKinds)
    func collidingRowsStopStartUp(kind: DatabaseKind) async throws {
        let config = try TestApp.configuration(kind)
        try await Self.seedBeforeEmailKey(config, kind: kind, emails: [
            "Ann@Example.com", "ann@example.com", "bob@example.com", "Zed@Example.com", "ZED@example.com", "zed@example.com",
        ])
        let app = try await buildApplication(config, logger: TestApp.logger)
        let error = await #expect(throws: EmailKeyCollisions.self) {
            try await app.test(.router) { _ in }
        }
        let message = try #require(error).description
        #expect(message.contains("0005_users_email_key"))
        #expect(message.contains("ann@example.com: id 1 <Ann@Example.com> (username seed0), id 2 <ann@example.com> (username seed1)"), "\(message)")
        #expect(message.contains("zed@example.com: id 4 <Zed@Example.com> (username seed3), id 5 <ZED@example.com> (username seed4), id 6 <zed@example.com> (username seed5)"), "\(message)")
        #expect(!message.contains("bob"))
    }

    @Test("start-up applies the migration to accounts that do not collide; their addresses keep their case", arguments: TestApp.databaseKinds)
    func distinctRowsMigrate(kind: DatabaseKind) async throws {
        let config = try TestApp.configuration(kind)
        try await Self.seedBeforeEmailKey(config, kind: kind, emails: ["Ann@Example.com", "bob@example.com"])
        // Seeded accounts have no usable password: a registration under another case shows the
        // address is taken (no second account), and a forgot-password reaches the typed address.
        let app = try await buildApplication(config, logger: TestApp.logger)
        try await app.test(.router) { client in
            let again = try await client.execute(
                uri: "/api/auth/register", method: .post, headers: Self.json,
                body: .json(["email": "ANN@example.COM", "username": "annagain", "password": Self.password])
            )
            #expect(again.status == .accepted)
            _ = try await mailboxLink(client, to: "Ann@Example.com", path: "/forgot-password")
            let login = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: Self.json, body: .json(["login": "annagain", "password": Self.password])
            )
            #expect(login.status == .unauthorized)
        }
    }
}

@Suite("Email comparison key")
struct EmailKeyTests {
    @Test("folds exactly the ASCII letters of the whole address")
    func foldsASCII() {
        #expect(AccountValidation.emailKey("Mixed.Case@Example.Test") == "mixed.case@example.test")
        #expect(AccountValidation.emailKey("A+Z_09@x.io") == "a+z_09@x.io")
        // Non-ASCII letters keep their case: SQL's lower() in the migration folds them the same way.
        #expect(AccountValidation.emailKey("Ärger.Ω@Example.de") == "Ärger.Ω@example.de")
    }
}
