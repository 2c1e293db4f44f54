import Configuration
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server
import Accounts

@Suite("Foundation")
struct FoundationTests {
    @Test("health answers ok with the database", arguments: TestApp.databaseKinds)
    func health(kind: DatabaseKind) async throws {
        let app = try await buildApplication(try TestApp.configuration(kind), logger: TestApp.logger)
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["status"] as? String == "ok")
                #expect(response.json["database"] as? String == "ok")
            }
        }
    }

    @Test("bad configuration lists every bad key at once")
    func badConfiguration() async throws {
        do {
            _ = try await AppConfiguration.load(arguments: [], environment: ["PORT": "abc", "DATABASE_URL": "mysql://x", "ENVIRONMENT": "production"])
            Issue.record("expected a configuration error")
        } catch let error as ConfigurationError {
            let keys = Set(error.problems.map(\.key))
            #expect(keys.isSuperset(of: ["PORT", "DATABASE_URL", "JWT_SECRET", "RESEND_API_KEY"]))
            #expect(!error.description.contains("mysql://x") || error.description.contains("DATABASE_URL"))
        }
    }

    @Test("command line beats environment; defaults otherwise")
    func layering() async throws {
        let config = try await AppConfiguration.load(arguments: ["--port", "9123"], environment: ["PORT": "7000", "HOST": "0.0.0.0", "DATA_DIR": "/tmp/x"])
        #expect(config.port == 9123)
        #expect(config.host == "0.0.0.0")
        #expect(config.dataDirectory == "/tmp/x")
        #expect(config.publicURL == "http://localhost:9123")
        #expect(config.database == .sqlite(path: "/tmp/x/switchboard.sqlite"))
        let pg = try await AppConfiguration.load(arguments: [], environment: ["DATABASE_URL": "postgres://u:p%40ss@db.example:6543/chat?sslmode=require"])
        #expect(pg.database == .postgres(.init(host: "db.example", port: 6543, username: "u", password: "p@ss", database: "chat", requireTLS: true)))
        #expect(!"\(pg.database)".contains("p@ss"))
    }

    @Test("development secret is generated once with mode 0600 and reused")
    func developmentSecret() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbsecret-\(UUID().uuidString)").path
        let first = try SecretFile.loadOrCreate(in: dir)
        let second = try SecretFile.loadOrCreate(in: dir)
        #expect(first == second && first.utf8.count >= 32)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/jwt-secret")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test("unknown API routes and malformed JSON use the error shape")
    func errorShape() async throws {
        let app = try await buildApplication(try TestApp.configuration(), logger: TestApp.logger)
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/nope", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.errorCode == "not_found")
            }
            try await client.execute(uri: "/api/auth/login", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{not json")) { response in
                #expect(response.status == .badRequest)
                #expect(response.errorCode == "invalid_json")
            }
        }
    }
}
