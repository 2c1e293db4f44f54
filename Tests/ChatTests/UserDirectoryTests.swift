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
                try await UserStore().updateDisplayName(id: friend, displayName: "Señor Zoë", now: 2, on: db)
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

    /// Issue 18 (break test): SQLite's lower() folds ASCII letters only, so "émile" missed
    /// "Émile" and "özlem" missed "ÖZLEM" there (PostgreSQL's depends on the database's
    /// LC_CTYPE). Every writer of a display name (registration's store insert, a display-name
    /// change, a guest) must store the folded key the search matches.
    @Test("a display name is found in any Unicode letter case, the same on both dialects", arguments: TestDatabases.kinds)
    func unicodeCase(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let me = try await h.user("uniann")
            let emile = try await h.user("emile")
            let ozlem = try await h.user("ozlem")
            let strasse = try await h.user("strasse")
            let sofia = try await h.user("sofia")
            let room = try await h.rooms.create(userID: me, .init(name: "Unicode", kind: .public, topic: nil, password: nil))
            for user in [emile, ozlem, strasse, sofia] { _ = try await h.rooms.join(userID: user, roomID: room.id) }
            try await h.db.write { db in
                try await UserStore().updateDisplayName(id: emile, displayName: "Émile Zola", now: 2, on: db)
                try await UserStore().updateDisplayName(id: strasse, displayName: "Straße Eins", now: 2, on: db)
                try await UserStore().updateDisplayName(id: sofia, displayName: "ΣΟΦΊΑ", now: 2, on: db)
            }
            // Created with the name (the insert every registration, provider and admin CLI uses).
            let ozlemAccount = try await h.db.write { db in
                guard case .created(let user) = try await UserStore().insert(email: "oz2@example.com", username: "ozlem2", displayName: "ÖZLEM",
                                                                             passwordHash: "x", now: 1, on: db) else { throw TestSetupError("user exists") }
                return user.id
            }
            _ = try await h.rooms.join(userID: ozlemAccount, roomID: room.id)
            // A guest, through the guest store.
            let guest = try #require(try await h.db.write { db in try await GuestStore().insert(displayName: "Ígor", now: 1, expiresAt: Int64.max / 2, on: db) })
            _ = try await h.db.write { db in try await RoomStore().addMember(roomID: room.id, userID: guest.id, role: .guest, now: 1, on: db) }

            let directory = UserDirectory(database: h.db)
            func ids(_ q: String) async throws -> Set<Int64> { Set(try await directory.search(userID: me, query: q, limit: 20).map(\.id)) }
            #expect(try await ids("émile") == [emile])
            #expect(try await ids("ÉMILE ZO") == [emile])
            #expect(try await ids("E\u{301}mile") == [emile])  // the same letter, decomposed
            #expect(try await ids("özlem") == [ozlemAccount])
            #expect(try await ids("strasse") == [strasse])  // ß folds to ss
            #expect(try await ids("STRASSE") == [strasse])
            #expect(try await ids("σοφία") == [sofia])
            #expect(try await ids("ígor") == [guest.id])
            #expect(try await ids("ÍGOR") == [guest.id])
            #expect(try await ids("emile") == [emile])  // the username still matches
            #expect(try await ids("zola") == [])  // a prefix, not a substring
            for refused in ["a\u{0}b", "\u{0}", "é\u{200E}x"] {  // no name holds one (and PostgreSQL refuses a NUL in text)
                #expect(await apiCode { try await directory.search(userID: me, query: refused, limit: 10) } == "validation_failed", "\(refused.unicodeScalars.map { $0.value })")
            }
        }
    }

    /// The same order on both dialects: usernames by code point (PostgreSQL orders by the
    /// database's collation otherwise; under ICU en-US it put "bob_a" first).
    @Test("users are listed by username in code point order on both dialects", arguments: TestDatabases.kinds)
    func order(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let me = try await h.user("ordme")
            let room = try await h.rooms.create(userID: me, .init(name: "Order", kind: .public, topic: nil, password: nil))
            for name in ["bob_a", "boba", "bob.z", "bob-c"] { _ = try await h.rooms.join(userID: try await h.user(name), roomID: room.id) }
            let found = try await UserDirectory(database: h.db).search(userID: me, query: "bob", limit: 10).map(\.username)
            #expect(found == ["bob-c", "bob.z", "bob_a", "boba"])
        }
    }

    @Test("migration 0015 gives the names that exist before it their keys", arguments: TestDatabases.kinds)
    func backfill(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind, migrate: false) { db in
            let all = try MigrationLoader.load(directory: TestDatabases.migrationsDirectory, kind: db.kind)
            let before = all.filter { $0.name < "0015" }
            try await MigrationRunner(database: db, migrations: before, logger: TestDatabases.logger).apply()
            try await db.write { sql in
                try await sql.raw(
                    """
                    INSERT INTO users (email, email_key, username, display_name, password_hash, created_at, updated_at)
                    VALUES ('old@example.com', 'old@example.com', 'oldie', 'ÖZLEM Ünal', 'x', 1, 1)
                    """
                ).run()
            }
            try await MigrationRunner(database: db, migrations: all, logger: TestDatabases.logger).apply()
            struct Row: Decodable { let displayNameKey: String }
            let row = try await db.read { sql in
                try await sql.raw("SELECT display_name_key FROM users WHERE username = 'oldie'").first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
            }
            #expect(row?.displayNameKey == "özlem ünal")
        }
    }

    @Test("a prefix's upper bound in code point order")
    func prefixBound() {
        #expect(UserDirectory.prefixUpperBound("abc") == "abd")
        #expect(UserDirectory.prefixUpperBound("a\u{D7FF}") == "a\u{E000}")
        #expect(UserDirectory.prefixUpperBound("a\u{10FFFF}") == "b")
        #expect(UserDirectory.prefixUpperBound("\u{10FFFF}") == nil)
    }
}
