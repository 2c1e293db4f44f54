@testable import Accounts
@testable import Chat
import Foundation
import Models
import SQLKit
import Testing
import TestSupport

@Suite("User directory (GET /api/users)")
struct UserDirectoryTests {
    @Test("a prefix finds only people I share a room with; an exact username finds anyone; never me or a disabled account", arguments: TestDatabases.kinds)
    func rules(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let me = try await h.user("annie")
            let friend = try await h.user("bobby")
            let stranger = try await h.user("bobcat")
            let gone = try await h.user("bobette")
            let other = try await h.user("carol")
            let room = try await h.rooms.create(userID: me, .init(name: "Lobby", kind: .public, topic: nil, password: nil))
            for user in [friend, gone] { _ = try await h.rooms.join(userID: user, roomID: room.id) }
            _ = try await h.rooms.create(userID: other, .init(name: "Elsewhere", kind: .public, topic: nil, password: nil))
            try await h.db.write { db in
                try await db.raw("UPDATE users SET disabled_at = 5 WHERE id = \(bind: gone)").run()
                try await db.raw("UPDATE users SET display_name = 'Señor Zoë' WHERE id = \(bind: friend)").run()
            }
            let directory = UserDirectory(database: h.db)
            func names(_ q: String) async throws -> [String] { try await directory.search(userID: me, query: q, limit: 10).map(\.username) }

            #expect(try await names("bob") == ["bobby"])  // not the stranger bobcat, not the disabled bobette
            #expect(try await names("BOB") == ["bobby"])  // any letter case
            #expect(try await names("@bob") == ["bobby"])
            #expect(try await names("señor") == ["bobby"])  // display name prefix, non-ASCII folded
            #expect(try await names("bobcat") == ["bobcat"])  // exact username: anyone
            #expect(try await names("Bobcat") == ["bobcat"])
            #expect(try await names("bobette") == [])  // disabled, even by exact name
            #expect(try await names("annie") == [])  // never me
            #expect(try await names("%") == [])  // LIKE wildcards are literal
            #expect(try await names("_obby") == [])
            #expect(try await names("car") == [])  // carol shares no room with me
            #expect(await apiCode { try await directory.search(userID: me, query: "  ", limit: 10) } == "validation_failed")
            #expect(await apiCode { try await directory.search(userID: me, query: String(repeating: "b", count: 65), limit: 10) } == "validation_failed")
            _ = stranger
        }
    }
}
