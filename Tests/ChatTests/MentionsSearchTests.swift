@testable import Accounts
@testable import Chat
import Foundation
import Models
import SQLKit
import Testing
import TestSupport

@Suite("Mentions")
struct MentionParsingTests {
    @Test("the @username rule: start, characters, trailing punctuation, case, length, distinct, cap")
    func rule() {
        #expect(Mentions.usernames(in: "hi @Ann and @bob.") == ["ann", "bob"])
        #expect(Mentions.usernames(in: "(@ann), @cat_1: @d.e-f!") == ["ann", "cat_1", "d.e-f"])
        // An address or a doubled @ is not a mention.
        #expect(Mentions.usernames(in: "write to ann@example.com or @@bob") == [])
        #expect(Mentions.usernames(in: "é@ann 1@bob") == [])
        // The run ends at the first non-username character, non-ASCII letters included.
        #expect(Mentions.usernames(in: "@annë @bob…") == ["ann", "bob"])
        // Trailing '.' and '-' are punctuation; too short or too long is not a username.
        #expect(Mentions.usernames(in: "@ann-. @ab @\(String(repeating: "x", count: 33)) @...") == ["ann"])
        #expect(Mentions.usernames(in: "@ann @ANN @Ann") == ["ann"])
        let many = (1...25).map { "@user\($0)" }.joined(separator: " ")
        #expect(Mentions.usernames(in: many) == (1...Mentions.maxPerMessage).map { "user\($0)" })
        #expect(Mentions.usernames(in: "@") == [] && Mentions.usernames(in: "") == [])
    }
}

@Suite("Mentions and search")
struct MentionsSearchTests {
    @Test("mentions resolve to current members other than the author; counted after the read cursor; cleared by reading", arguments: TestDatabases.kinds)
    func mentionCounts(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob"), cat = try await h.user("cat")
            _ = cat
            let room = try await h.rooms.create(userID: ann, .init(name: "General", kind: .public, topic: nil, password: nil))
            _ = try await h.rooms.join(userID: bob, roomID: room.id)
            // cat exists but is not a member; nobody does not exist; ann is the author.
            let sent = try await h.messages.send(userID: ann, roomID: room.id, body: "@BOB look, @cat @nobody @ann", clientMsgID: "m1", replyTo: nil)
            #expect(sent.message.mentions == [bob])
            let again = try await h.messages.send(userID: ann, roomID: room.id, body: "@BOB look, @cat @nobody @ann", clientMsgID: "m1", replyTo: nil)
            #expect(again.duplicate && again.message.mentions == [bob])
            let plain = try await h.post(ann, room.id, "no mention here, bob")
            #expect(plain.mentions == nil)
            _ = try await h.post(ann, room.id, "again @bob")
            var bobRoom = try #require(try await h.rooms.list(userID: bob).first)
            #expect(bobRoom.unreadCount == 3 && bobRoom.mentionCount == 2)
            #expect(try await h.rooms.list(userID: ann).first?.mentionCount == 0)
            // History carries them too.
            let page = try await h.messages.history(userID: bob, roomID: room.id, before: nil, after: nil, limit: 10)
            #expect(page.messages.map(\.mentions) == [[bob], nil, [bob]])
            // Reading past the first mention leaves one; reading to the end clears it.
            let partly = try await h.readCursors.markRead(userID: bob, roomID: room.id, messageID: page.messages[1].id)
            #expect(partly.unreadCount == 1 && partly.mentionCount == 1)
            let all = try await h.readCursors.markRead(userID: bob, roomID: room.id, messageID: page.messages[2].id)
            #expect(all.unreadCount == 0 && all.mentionCount == 0)
            bobRoom = try #require(try await h.rooms.list(userID: bob).first)
            #expect(bobRoom.mentionCount == 0)
            // A member who joins later can be mentioned; a message that names them before does not count.
            _ = try await h.rooms.join(userID: cat, roomID: room.id)
            let late = try await h.post(bob, room.id, "welcome @cat and @ann")
            #expect(late.mentions == [ann, cat])
            #expect(try await h.rooms.list(userID: cat).first?.mentionCount == 1)
            // An edit or a tombstone rewrites the body: the old mentions go (trigger of migration 0009).
            try await h.db.write { db in try await db.raw("UPDATE messages SET body = 'welcome all' WHERE id = \(bind: late.id)").run() }
            #expect(try await h.rooms.list(userID: cat).first?.mentionCount == 0)
            #expect(try await h.rooms.list(userID: ann).first?.mentionCount == 0)
        }
    }

    @Test("an edit recomputes mentions; a delete drops them", arguments: TestDatabases.kinds)
    func mentionsFollowEdits(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob"), cat = try await h.user("cat")
            let room = try await h.rooms.create(userID: ann, .init(name: "General", kind: .public, topic: nil, password: nil))
            _ = try await h.rooms.join(userID: bob, roomID: room.id)
            _ = try await h.rooms.join(userID: cat, roomID: room.id)
            let message = try await h.post(ann, room.id, "hello @bob")
            let edited = try await h.chat.edits.edit(userID: ann, roomID: room.id, messageID: message.id, body: "hello @cat")
            #expect(edited.mentions == [cat])
            #expect(try await h.rooms.list(userID: bob).first?.mentionCount == 0)
            #expect(try await h.rooms.list(userID: cat).first?.mentionCount == 1)
            #expect(try await h.messages.history(userID: ann, roomID: room.id, before: nil, after: nil, limit: 5).messages.last?.mentions == [cat])
            _ = try await h.chat.edits.delete(userID: ann, roomID: room.id, messageID: message.id)
            #expect(try await h.rooms.list(userID: cat).first?.mentionCount == 0)
        }
    }

    /// ann and bob share "Team"; ann alone is in "Solo"; cat alone in the public "Lobby".
    struct SearchWorld {
        let ann: Int64, bob: Int64, cat: Int64
        let team: Int64, solo: Int64, lobby: Int64
        var ids: [String: Int64]
    }

    func world(_ h: ChatHarness) async throws -> SearchWorld {
        let ann = try await h.user("ann"), bob = try await h.user("bob"), cat = try await h.user("cat")
        let team = try await h.rooms.create(userID: ann, .init(name: "Team", kind: .private, topic: nil, password: nil)).id
        _ = try await h.rooms.invite(actorID: ann, roomID: team, target: .id(bob))
        let solo = try await h.rooms.create(userID: ann, .init(name: "Solo", kind: .private, topic: nil, password: nil)).id
        let lobby = try await h.rooms.create(userID: cat, .init(name: "Lobby", kind: .public, topic: nil, password: nil)).id
        var ids: [String: Int64] = [:]
        ids["quick"] = try await h.post(ann, team, "The quick brown fox jumps over the lazy dog while the cat sleeps in the sun all day").id
        ids["foxes"] = try await h.post(bob, team, "fox fox FOX").id
        ids["near"] = try await h.post(bob, team, "meet me near the river AND bring snacks").id
        ids["solo"] = try await h.post(ann, solo, "a fox in the solo room").id
        ids["lobby"] = try await h.post(cat, lobby, "the secret fox of the lobby").id
        return SearchWorld(ann: ann, bob: bob, cat: cat, team: team, solo: solo, lobby: lobby, ids: ids)
    }

    @Test("search: ranked, excerpted, only my rooms, paginated", arguments: TestDatabases.kinds)
    func searchRankingAndMembership(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let w = try await world(h)
            let search = MessageSearch(database: h.db)
            // bob is in Team only: the Solo and Lobby foxes never show; the denser body ranks first.
            let page = try await search.search(userID: w.bob, query: "Fox", roomID: nil, limit: 20, cursor: nil)
            #expect(page.results.map(\.id) == [w.ids["foxes"]!, w.ids["quick"]!])
            #expect(page.nextCursor == nil)
            #expect(page.results[0].author.username == "bob" && page.results[0].roomId == w.team)
            #expect(page.results[1].snippet.contains(.init(text: "fox", match: true)))
            #expect(page.results[1].snippet.map(\.text).joined().contains("fox jumps over the lazy dog"))
            // ann sees all three of her rooms' foxes (not the Lobby's, a public room she is not in).
            let annHits = try await search.search(userID: w.ann, query: "fox", roomID: nil, limit: 20, cursor: nil).results.map(\.id)
            #expect(Set(annHits) == [w.ids["foxes"]!, w.ids["quick"]!, w.ids["solo"]!])
            // Every word must match.
            #expect(try await search.search(userID: w.ann, query: "fox lazy", roomID: nil, limit: 20, cursor: nil).results.map(\.id) == [w.ids["quick"]!])
            // roomId narrows; a room I am not in (public or not) is the same answer as no room at all.
            #expect(try await search.search(userID: w.ann, query: "fox", roomID: w.solo, limit: 20, cursor: nil).results.map(\.id) == [w.ids["solo"]!])
            #expect(await apiCode { try await search.search(userID: w.bob, query: "fox", roomID: w.solo, limit: 20, cursor: nil) } == "room_not_found")
            #expect(await apiCode { try await search.search(userID: w.bob, query: "fox", roomID: w.lobby, limit: 20, cursor: nil) } == "room_not_found")
            #expect(await apiCode { try await search.search(userID: w.bob, query: "fox", roomID: 999_999, limit: 20, cursor: nil) } == "room_not_found")
            // Pages of one.
            let first = try await search.search(userID: w.ann, query: "fox", roomID: nil, limit: 1, cursor: nil)
            #expect(first.nextCursor != nil)
            let second = try await search.search(userID: w.ann, query: "fox", roomID: nil, limit: 1, cursor: first.nextCursor)
            #expect(second.nextCursor != nil)
            let third = try await search.search(userID: w.ann, query: "fox", roomID: nil, limit: 1, cursor: second.nextCursor)
            #expect((first.results + second.results + third.results).map(\.id) == annHits)
            #expect(third.nextCursor == nil)
            #expect(await apiCode { try await search.search(userID: w.ann, query: "fox", roomID: nil, limit: 1, cursor: "abc") } == "validation_failed")
            #expect(await apiCode { try await search.search(userID: w.ann, query: "fox", roomID: nil, limit: 1, cursor: "-1") } == "validation_failed")
        }
    }

    @Test("search: hostile queries are literal words or a clear error, never syntax", arguments: TestDatabases.kinds)
    func hostileQueries(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let w = try await world(h)
            let search = MessageSearch(database: h.db)
            func hits(_ q: String) async throws -> [Int64] { try await search.search(userID: w.bob, query: q, roomID: nil, limit: 20, cursor: nil).results.map(\.id) }
            #expect(try await hits("NEAR(") == [w.ids["near"]!])
            #expect(try await hits("near(river, fox)") == [])
            #expect(try await hits("AND") == [w.ids["near"]!])
            #expect(try await hits("\"") == [])
            #expect(try await hits("*") == [])
            #expect(try await hits("fox*").count == 2)
            #expect(try await hits("\"fox").count == 2)
            #expect(try await hits("-fox OR ^lazy body:dog").isEmpty)
            #expect(try await hits("{body}: fox NOT dog") == [])
            #expect(try await hits("'; DROP TABLE messages; --") == [])
            #expect(try await hits("river") == [w.ids["near"]!])
            #expect(await apiCode { try await hits(String(repeating: "a", count: 10_000)) } == "search_query_too_long")
            #expect(await apiCode { try await hits((1...17).map { "w\($0)" }.joined(separator: " ")) } == "search_query_too_long")
            #expect(await apiCode { try await hits("  ") } == "validation_failed")
        }
    }

    @Test("search follows edits, tombstones and deletes (the index is kept by the database)", arguments: TestDatabases.kinds)
    func searchFollowsChanges(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let w = try await world(h)
            let search = MessageSearch(database: h.db)
            func hits(_ q: String) async throws -> [Int64] { try await search.search(userID: w.bob, query: q, roomID: nil, limit: 20, cursor: nil).results.map(\.id) }
            let quick = w.ids["quick"]!, foxes = w.ids["foxes"]!
            try await h.db.write { db in try await db.raw("UPDATE messages SET body = 'a zebra now' WHERE id = \(bind: quick)").run() }
            #expect(try await hits("lazy") == [])
            #expect(try await hits("zebra") == [quick])
            try await h.db.write { db in try await db.raw("UPDATE messages SET body = '', deleted_at = 5 WHERE id = \(bind: foxes)").run() }
            #expect(try await hits("fox") == [])
            try await h.db.write { db in try await db.raw("DELETE FROM messages WHERE id = \(bind: quick)").run() }
            #expect(try await hits("zebra") == [])
        }
    }

    @Test("search plans start from the full-text index: no table scan", arguments: TestDatabases.kinds)
    func searchPlan(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let w = try await world(h)
            for roomID in [nil, w.team] {
                let query = MessageSearchStore().query(kind: kind, userID: w.bob, terms: ["fox"], roomID: roomID, limit: 20, offset: 0)
                let plan: [String] = try await h.db.write { db in
                    switch kind {
                    case .sqlite:
                        var explain: SQLQueryString = "EXPLAIN QUERY PLAN "
                        explain += query
                        return try await db.raw(explain).all().map { try $0.decode(column: "detail", as: String.self) }
                    case .postgres:
                        // Tiny tables: tell the planner a sequential scan is not an option, then check the index serves.
                        try await db.raw("SET LOCAL enable_seqscan = off").run()
                        var explain: SQLQueryString = "EXPLAIN "
                        explain += query
                        return try await db.raw(explain).all().map { try $0.decode(column: "QUERY PLAN", as: String.self) }
                    }
                }
                let text = plan.joined(separator: "\n")
                switch kind {
                case .sqlite:
                    #expect(text.contains("VIRTUAL TABLE INDEX"), "\(text)")
                    #expect(!plan.contains { $0.hasPrefix("SCAN") && !$0.contains("VIRTUAL TABLE") }, "\(text)")
                case .postgres:
                    // Over all my rooms the GIN index serves; inside one room the planner may also
                    // take that room's id range (tiny tables), never a sequential scan.
                    if roomID == nil { #expect(text.contains("messages_body_fts"), "\(text)") }
                    #expect(text.contains("messages_body_fts") || text.contains("Index Cond: (room_id ="), "\(text)")
                    #expect(!text.contains("Seq Scan"), "\(text)")
                }
            }
        }
    }
}
