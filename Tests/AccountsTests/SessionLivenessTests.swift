import Accounts
import Foundation
import Synchronization
import Testing
import TestSupport

/// Issue 11 item 12: the per-node cache behind the REST revocation check.
@Suite("Session liveness cache")
struct SessionLivenessTests {
    static func makeSession(_ db: any Database, now: Int64) async throws -> String {
        let id = "s-\(UUID().uuidString)"
        try await db.write { sql in
            guard case .created(let user) = try await UserStore().insert(
                email: "\(id)@example.com", username: String(id.prefix(20)).lowercased(), displayName: "x", passwordHash: "x", now: now, on: sql
            ) else { throw TestSetupError("user not created") }
            try await SessionStore().create(
                id: id, userID: user.id, refreshTokenHash: "h-\(id)", now: now, expiresAt: now + 86_400_000, userAgent: nil, ip: nil, on: sql
            )
        }
        return id
    }

    @Test("a live session is read once per recheck interval, not once per request", arguments: TestDatabases.kinds)
    func oneReadPerInterval(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            let manual = ManualClock()
            let cache = SessionLiveness(database: db, settings: .init(accessTokenTTL: .seconds(900), idleTimeout: .seconds(86_400)), clock: manual.clock)
            let id = try await Self.makeSession(db, now: manual.now.millis)
            for _ in 0..<200 { #expect(try await cache.isLive(id)) }
            #expect(await cache.reads == 1)
            #expect(try await !cache.isLive("no-such-session"))
            #expect(try await !cache.isLive("no-such-session"))
            #expect(await cache.reads == 2)
        }
    }

    @Test("a revocation on another node is seen within recheckAfter; a local one at once", arguments: TestDatabases.kinds)
    func crossNodeBound(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            let manual = ManualClock()
            var settings = SessionLiveness.Settings(accessTokenTTL: .seconds(900), idleTimeout: .seconds(86_400))
            settings.recheckAfter = .seconds(10)
            let nodeA = SessionLiveness(database: db, settings: settings, clock: manual.clock)
            let nodeB = SessionLiveness(database: db, settings: settings, clock: manual.clock)
            let now = manual.now.millis
            let id = try await Self.makeSession(db, now: now)
            #expect(try await nodeA.isLive(id))
            #expect(try await nodeB.isLive(id))

            // Node B revokes: its own cache at once, node A only after its re-check.
            try await db.write { sql in _ = try await SessionStore().revoke(id: id, reason: "logout", now: now, on: sql) }
            await nodeB.ended([id])
            #expect(try await !nodeB.isLive(id))
            #expect(try await nodeA.isLive(id), "node A still trusts its recent answer")
            manual.advance(by: .seconds(10))
            #expect(try await !nodeA.isLive(id), "node A re-read the row after recheckAfter")
            manual.advance(by: .seconds(600))
            #expect(try await !nodeA.isLive(id))
            #expect(await nodeA.reads == 2)
        }
    }
}
