@testable import Accounts
@testable import Chat
import Foundation
import Models
import SQLKit
import Testing
import TestSupport

/// Issue 15: edits (author only, inside the window), deletes (tombstones; author, owner or
/// admin), replies (same room, previews), reactions (one per user per emoji, the emoji rule),
/// each change logged with its delta. On SQLite and, with TEST_DATABASE_URL, PostgreSQL.
@Suite("Rich messages")
struct RichMessageTests {
    /// A chat whose services all run on `clock`, with a 60 s edit window.
    static func with(_ kind: DatabaseKind, _ body: @Sendable (ChatHarness, ManualClock) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { db in
            let clock = ManualClock(), events = EventRecorder()
            let chat = ChatServices(
                database: db, hasher: PasswordHasher(parameters: .testing), clock: clock.clock,
                verification: EmailVerificationGate(database: db, isRequired: false), events: events, log: events,
                editWindow: .seconds(60), logger: TestDatabases.logger
            )
            try await body(ChatHarness(db: db, chat: chat, events: events), clock)
        }
    }

    /// ann owns a public room bob and cat are in; dan is in none.
    static func room(_ h: ChatHarness) async throws -> (ann: Int64, bob: Int64, cat: Int64, dan: Int64, room: Int64) {
        let ann = try await h.user("ann"), bob = try await h.user("bob"), cat = try await h.user("cat"), dan = try await h.user("dan")
        let room = try await h.rooms.create(userID: ann, .init(name: "General", kind: .public, topic: nil, password: nil)).id
        _ = try await h.rooms.join(userID: bob, roomID: room)
        _ = try await h.rooms.join(userID: cat, roomID: room)
        return (ann, bob, cat, dan, room)
    }

    func storedRow(_ h: ChatHarness, _ id: Int64) async throws -> (body: String, deletedAt: Int64?, editedAt: Int64?) {
        struct Row: Decodable { let body: String; let deletedAt: Int64?; let editedAt: Int64? }
        let row = try await h.db.read { db in
            try await db.raw("SELECT body, deleted_at, edited_at FROM messages WHERE id = \(bind: id)")
                .first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        }
        let found = try #require(row)
        return (found.body, found.deletedAt, found.editedAt)
    }

    func reactionRows(_ h: ChatHarness, _ id: Int64) async throws -> Int {
        struct Row: Decodable { let n: Int64 }
        return Int(try await h.db.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM reactions WHERE message_id = \(bind: id)").first(decoding: Row.self)
        }?.n ?? 0)
    }

    @Test("edit: the author only, inside the window (inclusive), valid bodies; others get the catalogued refusals", arguments: TestDatabases.kinds)
    func edit(kind: DatabaseKind) async throws {
        try await Self.with(kind) { h, clock in
            let (ann, bob, _, dan, room) = try await Self.room(h)
            let other = try await h.rooms.create(userID: dan, .init(name: "Elsewhere", kind: .public, topic: nil, password: nil)).id
            let message = try await h.post(bob, room, "helo")
            clock.advance(30)
            let edited = try await h.chat.edits.edit(userID: bob, roomID: room, messageID: message.id, body: "  hello  ")
            #expect(edited.body == "hello" && edited.roomId == room && edited.id == message.id)
            #expect(edited.editedAt == WireTime.string(clock.now))
            #expect(h.events.entries.last == "edited:\(message.id):hello")
            let page = try await h.messages.history(userID: ann, roomID: room, before: nil, after: nil, limit: nil)
            #expect(page.messages.last?.body == "hello" && page.messages.last?.editedAt == edited.editedAt)

            // Someone else's message, a non-member, an unknown id, the wrong room.
            #expect(await apiCode { try await h.chat.edits.edit(userID: ann, roomID: nil, messageID: message.id, body: "x") } == "not_message_author")
            #expect(await apiCode { try await h.chat.edits.edit(userID: dan, roomID: nil, messageID: message.id, body: "x") } == "message_not_found")
            #expect(await apiCode { try await h.chat.edits.edit(userID: bob, roomID: nil, messageID: message.id + 999, body: "x") } == "message_not_found")
            #expect(await apiCode { try await h.chat.edits.edit(userID: bob, roomID: other, messageID: message.id, body: "x") } == "message_not_found")
            // Bodies as a send: not empty, at most 4000 scalars, no control characters.
            #expect(await apiCode { try await h.chat.edits.edit(userID: bob, roomID: nil, messageID: message.id, body: "   ") } == "validation_failed")
            #expect(await apiCode { try await h.chat.edits.edit(userID: bob, roomID: nil, messageID: message.id, body: String(repeating: "a", count: 4001)) } == "validation_failed")
            #expect(await apiCode { try await h.chat.edits.edit(userID: bob, roomID: nil, messageID: message.id, body: "a\u{7}b") } == "validation_failed")

            // The window is 60 s from sending: exactly 60 s is in, 60.001 s is out.
            clock.advance(30)
            _ = try await h.chat.edits.edit(userID: bob, roomID: nil, messageID: message.id, body: "at the edge")
            clock.advance(0.001)
            #expect(await apiCode { try await h.chat.edits.edit(userID: bob, roomID: nil, messageID: message.id, body: "too late") } == "edit_window_passed")
            #expect(try await storedRow(h, message.id).body == "at the edge")
        }
    }

    @Test("delete: author, owner and admin may; a member may not delete another's; a tombstone keeps id and place, has no body and no reactions", arguments: TestDatabases.kinds)
    func delete(kind: DatabaseKind) async throws {
        try await Self.with(kind) { h, _ in
            let (ann, bob, cat, dan, room) = try await Self.room(h)
            let first = try await h.post(bob, room, "first")
            let secret = try await h.post(bob, room, "secret text")
            let third = try await h.post(cat, room, "third")
            let fourth = try await h.post(ann, room, "fourth")
            _ = try await h.chat.reactions.react(userID: cat, roomID: nil, messageID: secret.id, emoji: "👍", added: true)

            #expect(await apiCode { try await h.chat.edits.delete(userID: cat, roomID: nil, messageID: secret.id) } == "not_message_author")
            #expect(await apiCode { try await h.chat.edits.delete(userID: dan, roomID: nil, messageID: secret.id) } == "message_not_found")
            #expect(await apiCode { try await h.chat.edits.delete(userID: bob, roomID: nil, messageID: fourth.id + 999) } == "message_not_found")

            let deleted = try await h.chat.edits.delete(userID: bob, roomID: room, messageID: secret.id)
            #expect(deleted.id == secret.id && deleted.roomId == room)
            #expect(h.events.entries.last == "tombstone:\(secret.id)")
            let stored = try await storedRow(h, secret.id)
            #expect(stored.body == "" && stored.deletedAt != nil)
            #expect(try await reactionRows(h, secret.id) == 0)
            // Again: the same answer, nothing new logged.
            let count = h.events.entries.count
            #expect(try await h.chat.edits.delete(userID: bob, roomID: nil, messageID: secret.id) == deleted)
            #expect(h.events.entries.count == count)

            let page = try await h.messages.history(userID: cat, roomID: room, before: nil, after: nil, limit: nil)
            #expect(page.messages.map(\.id) == [first.id, secret.id, third.id, fourth.id])
            let tombstone = try #require(page.messages.first { $0.id == secret.id })
            #expect(tombstone.body == "" && tombstone.deletedAt == deleted.deletedAt && tombstone.reactions == nil)

            // Editing or reacting to it is refused.
            #expect(await apiCode { try await h.chat.edits.edit(userID: bob, roomID: nil, messageID: secret.id, body: "back") } == "message_deleted")
            #expect(await apiCode { try await h.chat.reactions.react(userID: cat, roomID: nil, messageID: secret.id, emoji: "👍", added: true) } == "message_deleted")

            // The owner deletes a member's message; an admin too; a member who was made nothing cannot.
            _ = try await h.chat.edits.delete(userID: ann, roomID: nil, messageID: first.id)
            try await h.db.write { db in try await db.raw("UPDATE memberships SET role = 'admin' WHERE room_id = \(bind: room) AND user_id = \(bind: bob)").run() }
            _ = try await h.chat.edits.delete(userID: bob, roomID: nil, messageID: third.id)
            #expect(await apiCode { try await h.chat.edits.delete(userID: cat, roomID: nil, messageID: fourth.id) } == "not_message_author")
            let rows = (try await storedRow(h, first.id), try await storedRow(h, third.id), try await storedRow(h, fourth.id))
            #expect(rows.0.deletedAt != nil && rows.1.deletedAt != nil && rows.2.deletedAt == nil)
        }
    }

    @Test("replies: the parent must be a live message of the same room; history and the sent message carry its preview", arguments: TestDatabases.kinds)
    func replies(kind: DatabaseKind) async throws {
        try await Self.with(kind) { h, _ in
            let (ann, bob, _, _, room) = try await Self.room(h)
            let other = try await h.rooms.create(userID: ann, .init(name: "Other", kind: .public, topic: nil, password: nil)).id
            let long = String(repeating: "ab ", count: 20) + "\n\n" + String(repeating: "😀", count: 80)
            let parent = try await h.post(ann, room, long)
            let elsewhere = try await h.post(ann, other, "in another room")

            let reply = try await h.messages.send(userID: bob, roomID: room, body: "agreed", clientMsgID: nil, replyTo: parent.id).message
            let preview = try #require(reply.replyPreview)
            #expect(reply.replyTo == parent.id && preview.id == parent.id && preview.authorId == ann && preview.username == "ann" && preview.displayName == "Ann")
            let expected = String(repeating: "ab ", count: 20) + String(repeating: "😀", count: 40)
            #expect(preview.excerpt == expected && preview.excerpt?.count == 100 && preview.deleted == nil)

            let refused = await apiCode { try await h.messages.send(userID: bob, roomID: room, body: "x", clientMsgID: nil, replyTo: elsewhere.id) }
            #expect(refused == "validation_failed")
            #expect(await apiCode { try await h.messages.send(userID: bob, roomID: room, body: "x", clientMsgID: nil, replyTo: parent.id + 999) } == "validation_failed")

            _ = try await h.chat.edits.delete(userID: ann, roomID: nil, messageID: parent.id)
            #expect(await apiCode { try await h.messages.send(userID: bob, roomID: room, body: "x", clientMsgID: nil, replyTo: parent.id) } == "validation_failed")
            let page = try await h.messages.history(userID: bob, roomID: room, before: nil, after: nil, limit: nil)
            let shown = try #require(page.messages.first { $0.id == reply.id }?.replyPreview)
            #expect(shown.deleted == true && shown.excerpt == nil && shown.username == "ann")
        }
    }

    @Test("reactions: one per user per emoji, counts and me per viewer, who reacted, members only, the emoji rule, 20 different emoji", arguments: TestDatabases.kinds)
    func reactions(kind: DatabaseKind) async throws {
        try await Self.with(kind) { h, clock in
            let (ann, bob, cat, dan, room) = try await Self.room(h)
            let message = try await h.post(ann, room, "react to me")

            let first = try await h.chat.reactions.react(userID: bob, roomID: room, messageID: message.id, emoji: "👍", added: true)
            #expect(first.changed && first.event == ReactionEvent(messageId: message.id, roomId: room, emoji: "👍", userId: bob, added: true))
            #expect(h.events.entries.last == "reaction:\(message.id):👍:\(bob):true")
            let logged = h.events.entries.count
            let again = try await h.chat.reactions.react(userID: bob, roomID: nil, messageID: message.id, emoji: "👍", added: true)
            #expect(!again.changed && h.events.entries.count == logged)
            clock.advance(1)
            _ = try await h.chat.reactions.react(userID: cat, roomID: nil, messageID: message.id, emoji: "👍", added: true)
            clock.advance(1)
            // A text-style heart is the emoji-style one.
            let heart = try await h.chat.reactions.react(userID: cat, roomID: nil, messageID: message.id, emoji: "\u{2764}", added: true)
            #expect(heart.event.emoji == "\u{2764}\u{FE0F}")
            clock.advance(1)
            _ = try await h.chat.reactions.react(userID: bob, roomID: nil, messageID: message.id, emoji: "❤️", added: true)
            #expect(try await reactionRows(h, message.id) == 4)

            let seenByBob = try await h.messages.history(userID: bob, roomID: room, before: nil, after: nil, limit: nil).messages.last?.reactions
            #expect(seenByBob == [ReactionCount(emoji: "👍", count: 2, me: true), ReactionCount(emoji: "❤️", count: 2, me: true)])
            let seenByAnn = try await h.messages.history(userID: ann, roomID: room, before: nil, after: nil, limit: nil).messages.last?.reactions
            #expect(seenByAnn == [ReactionCount(emoji: "👍", count: 2, me: false), ReactionCount(emoji: "❤️", count: 2, me: false)])

            let who = try await h.chat.reactions.users(userID: ann, roomID: room, messageID: message.id, emoji: nil, limit: 1)
            #expect(who.map(\.emoji) == ["👍", "❤️"] && who.map(\.count) == [2, 2] && who.map(\.hasMore) == [true, true])
            #expect(who[0].users.map(\.username) == ["bob"] && who[1].users.map(\.username) == ["cat"])
            let thumbs = try await h.chat.reactions.users(userID: ann, roomID: room, messageID: message.id, emoji: "👍", limit: nil)
            #expect(thumbs.count == 1 && thumbs[0].users.map(\.username) == ["bob", "cat"] && !thumbs[0].hasMore)

            let removed = try await h.chat.reactions.react(userID: bob, roomID: nil, messageID: message.id, emoji: "👍", added: false)
            #expect(removed.changed && h.events.entries.last == "reaction:\(message.id):👍:\(bob):false")
            #expect(try await !h.chat.reactions.react(userID: bob, roomID: nil, messageID: message.id, emoji: "👍", added: false).changed)

            // Not a member: the same answer as an unknown message; nothing stored.
            #expect(await apiCode { try await h.chat.reactions.react(userID: dan, roomID: nil, messageID: message.id, emoji: "👍", added: true) } == "message_not_found")
            #expect(await apiCode { try await h.chat.reactions.react(userID: bob, roomID: nil, messageID: message.id + 999, emoji: "👍", added: true) } == "message_not_found")
            for bad in ["", "a", "1", "#", "👍👍", "👍 ", "<b>", String(repeating: "\u{E0061}", count: 20)] {
                #expect(await apiCode { try await h.chat.reactions.react(userID: bob, roomID: nil, messageID: message.id, emoji: bad, added: true) } == "validation_failed", "\(bad.unicodeScalars.map { String($0.value, radix: 16) })")
            }
            #expect(try await reactionRows(h, message.id) == 3)

            // At most 20 different emoji on one message; more of an existing one are fine.
            let faces = (0x1F600...0x1F611).map { String(Character(Unicode.Scalar($0)!)) }
            for face in faces { _ = try await h.chat.reactions.react(userID: ann, roomID: nil, messageID: message.id, emoji: face, added: true) }
            #expect(await apiCode { try await h.chat.reactions.react(userID: ann, roomID: nil, messageID: message.id, emoji: "🎉", added: true) } == "validation_failed")
            #expect(try await h.chat.reactions.react(userID: ann, roomID: nil, messageID: message.id, emoji: "❤️", added: true).changed)
        }
    }

    @Test("the rules: emoji sequences, the excerpt, the window, who may delete")
    func rules() {
        for good in ["👍", "👍🏽", "❤️", "1️⃣", "🇫🇷", "👩‍👩‍👧‍👦", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "👩🏻‍❤️‍💋‍👨🏼"] {
            #expect((try? MessageRules.emoji(good).get()) == good, "\(good)")
        }
        for bad in ["", "ab", "a", "9", "*", "é", "\u{200D}", "👍\u{301}"] {
            #expect((try? MessageRules.emoji(bad).get()) == nil, "\(bad)")
        }
    }

    @Test("emoji: garbage made of emoji glue is refused, spellings of one emoji are one reaction")
    func emojiCanonicalForm() {
        let thumbs7 = Array(repeating: "👍", count: 7).joined(separator: "\u{200D}")
        let garbage = [
            "\u{FE0F}", "\u{FE0F}\u{FE0F}", "\u{200D}\u{FE0F}", "\u{20E3}", "\u{E0061}\u{FE0F}",
            "\u{1F3FD}", "\u{1F1EB}", "0\u{FE0F}", thumbs7, "\u{1F4A9}\u{1F3FD}",
        ]
        for bad in garbage {
            #expect((try? MessageRules.emoji(bad).get()) == nil, "\(bad.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        let same: [(String, String)] = [
            ("👍", "👍"), ("👍\u{FE0F}", "👍"), ("👍\u{FE0F}\u{FE0F}\u{FE0F}", "👍"),
            ("1\u{20E3}", "1\u{FE0F}\u{20E3}"), ("1\u{FE0F}\u{20E3}", "1\u{FE0F}\u{20E3}"),
            ("\u{2764}", "\u{2764}\u{FE0F}"), ("\u{2764}\u{FE0F}", "\u{2764}\u{FE0F}"),
            ("\u{1F3C3}\u{200D}\u{2642}", "\u{1F3C3}\u{200D}\u{2642}\u{FE0F}"),
            ("\u{1F3CC}\u{1F3FD}\u{200D}\u{2642}\u{FE0F}", "\u{1F3CC}\u{1F3FD}\u{200D}\u{2642}\u{FE0F}"),
            ("\u{00A9}", "\u{00A9}\u{FE0F}"),
        ]
        for (input, canonical) in same {
            #expect((try? MessageRules.emoji(input).get()) == canonical, "\(input.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        #expect(MessageRules.excerpt("  a \n\n b  ") == "a b")
        #expect(MessageRules.excerpt(String(repeating: "é", count: 150)).count == 100)
        #expect(MessageRules.mayEdit(createdAt: 0, now: 60_000, window: .seconds(60)))
        #expect(!MessageRules.mayEdit(createdAt: 0, now: 60_001, window: .seconds(60)))
        #expect(!MessageRules.mayEdit(createdAt: 0, now: 0, window: .zero))
        #expect(MessageRules.mayDelete(actor: .member, isAuthor: true))
        #expect(!MessageRules.mayDelete(actor: .member, isAuthor: false))
        #expect(MessageRules.mayDelete(actor: .owner, isAuthor: false) && MessageRules.mayDelete(actor: .admin, isAuthor: false))
    }
}
