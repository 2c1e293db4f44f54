@testable import Accounts
@testable import Chat
import Foundation
import Models
import SQLKit
import Synchronization
import Testing
import TestSupport

/// Records chat events in order: new messages (the sink) and the deltas appended to the log,
/// kept once their transaction committed (``committed(through:)`` moves them over).
final class EventRecorder: ChatEventSink, ChatEventLog {
    let log = Mutex<[String]>([])
    private let uncommitted = Mutex<[String]>([])
    func messageCreated(_ message: ChatMessage) async { log.withLock { $0.append("message:\(message.roomId):\(message.body)") } }
    func append(_ deltas: [ChatDelta], on db: any SQLDatabase) async throws -> UInt64? {
        let lines = deltas.map { delta -> String in
            switch delta {
            case .messageCreated(let message): "message:\(message.roomId):\(message.body)"
            case .memberChanged(let event): "member:\(event.roomId):\(event.change.rawValue):\(event.user.username)"
            case .roomUpdated(let event): "updated:\(event.roomId)"
            case .roomDeleted(let event, let memberIDs): "deleted:\(event.roomId):\(memberIDs.count)"
            case .readMoved(let userID, let event): "read:\(userID):\(event.roomId):\(event.unreadCount)"
            case .presence(let event, let roomIDs): "presence:\(event.userId):\(event.online):\(roomIDs.count)"
            case .moderation(let action, let event): "\(action.eventName):\(event.roomId):\(event.user.username):\(event.by.username)"
            case .messageChanged(.updated(let event)): "edited:\(event.id):\(event.body)"
            case .messageChanged(.deleted(let event)): "tombstone:\(event.id)"
            case .messageChanged(.reaction(let event)): "reaction:\(event.messageId):\(event.emoji):\(event.userId):\(event.added)"
            }
        }
        uncommitted.withLock { $0 = lines }
        return deltas.isEmpty ? nil : 1
    }
    func committed(through position: UInt64?) async {
        let lines = uncommitted.withLock { pending in defer { pending = [] }; return pending }
        log.withLock { $0 += lines }
    }
    var entries: [String] { log.withLock { $0 } }
}

struct ChatHarness {
    let db: any Database
    let chat: ChatServices
    let events: EventRecorder
    var rooms: RoomService { chat.rooms }
    var messages: MessageService { chat.messages }
    var readCursors: ReadCursorService { chat.readCursors }

    static func with(_ kind: DatabaseKind, requireVerified: Bool = true, _ body: @Sendable (ChatHarness) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { db in
            let events = EventRecorder()
            let chat = ChatServices(database: db, hasher: PasswordHasher(parameters: .testing), verification: EmailVerificationGate(database: db, isRequired: requireVerified), events: events, log: events, logger: TestDatabases.logger)
            try await body(ChatHarness(db: db, chat: chat, events: events))
        }
    }

    /// A verified user, created straight in the store.
    func user(_ name: String, verified: Bool = true) async throws -> Int64 {
        try await db.write { sql in
            guard case .created(let user) = try await UserStore().insert(email: "\(name)@example.com", username: name, displayName: name.capitalized, passwordHash: "x", now: 1, on: sql) else {
                throw TestSetupError("user exists")
            }
            if verified { try await UserStore().markEmailVerified(id: user.id, now: 1, on: sql) }
            return user.id
        }
    }

    func post(_ user: Int64, _ room: Int64, _ body: String, clientMsgID: String? = nil) async throws -> ChatMessage {
        try await messages.send(userID: user, roomID: room, body: body, clientMsgID: clientMsgID, replyTo: nil).message
    }
}

@Suite("Chat service")
struct ChatServiceTests {
    @Test("public rooms: create, discover, join, post, unread counts, read", arguments: TestDatabases.kinds)
    func publicRoomFlow(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let room = try await h.rooms.create(userID: ann, .init(name: "General", kind: .public, topic: "all things", password: nil))
            #expect(room.role == .owner && room.kind == .public && room.joinCode == nil)
            let found = try await h.rooms.discover(query: "gen", cursor: nil, limit: 10)
            #expect(found.rooms.map(\.id) == [room.id])
            _ = try await h.rooms.join(userID: bob, roomID: room.id)
            for i in 1...3 { _ = try await h.post(ann, room.id, "hello \(i)") }
            var bobRooms = try await h.rooms.list(userID: bob)
            #expect(bobRooms.first?.unreadCount == 3)
            #expect(bobRooms.first?.lastMessage?.body == "hello 3")
            // The author's own messages are never unread for them.
            #expect(try await h.rooms.list(userID: ann).first?.unreadCount == 0)
            let page = try await h.messages.history(userID: bob, roomID: room.id, before: nil, after: nil, limit: 10)
            let read = try await h.readCursors.markRead(userID: bob, roomID: room.id, messageID: page.messages[1].id)
            #expect(read.unreadCount == 1)
            // Read cursors never move back.
            let back = try await h.readCursors.markRead(userID: bob, roomID: room.id, messageID: page.messages[0].id)
            #expect(back.lastReadMessageId == page.messages[1].id && back.unreadCount == 1)
            bobRooms = try await h.rooms.list(userID: bob)
            #expect(bobRooms.first?.unreadCount == 1)
            #expect(h.events.entries.contains("member:\(room.id):joined:bob"))
            #expect(h.events.entries.contains("read:\(bob):\(room.id):1"))
            #expect(await apiCode { try await h.rooms.create(userID: bob, .init(name: "general", kind: .public, topic: nil, password: nil)) } == "room_name_taken")
        }
    }

    @Test("private rooms: invite-only, join by code with password, non-members refused", arguments: TestDatabases.kinds)
    func privateRooms(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob"), eve = try await h.user("eve")
            let room = try await h.rooms.create(userID: ann, .init(name: "Secret", kind: .private, topic: nil, password: "opensesame"))
            let code = try #require(room.joinCode)
            #expect(code.count == 8 && code.allSatisfy { RoomRules.joinCodeAlphabet.contains($0) })
            #expect(room.hasPassword)
            #expect(await apiCode { try await h.rooms.join(userID: bob, roomID: room.id) } == "invite_only")
            #expect(await apiCode { try await h.rooms.joinByCode(userID: bob, code: code, password: "wrong") } == "invalid_join_code")
            let joined = try await h.rooms.joinByCode(userID: bob, code: code.lowercased(), password: "opensesame")
            #expect(joined.id == room.id && joined.role == .member && joined.joinCode == nil)
            #expect(await apiCode { try await h.messages.history(userID: eve, roomID: room.id, before: nil, after: nil, limit: nil) } == "not_a_member")
            #expect(await apiCode { try await h.post(eve, room.id, "hi") } == "not_a_member")
            #expect(await apiCode { try await h.rooms.members(userID: eve, roomID: room.id, presence: nil) } == "not_a_member")
            #expect(await apiCode { try await h.rooms.invite(actorID: bob, roomID: room.id, target: .username("eve")) } == "not_room_admin")
            _ = try await h.rooms.invite(actorID: ann, roomID: room.id, target: .username("eve"))
            #expect(try await h.rooms.members(userID: eve, roomID: room.id, presence: nil).map(\.user.username) == ["ann", "bob", "eve"])
            #expect(await apiCode { try await h.rooms.update(userID: bob, roomID: room.id, name: "Mine", topic: nil) } == "not_room_admin")
            let renamed = try await h.rooms.update(userID: ann, roomID: room.id, name: "Secret 2", topic: "plans")
            #expect(renamed.name == "Secret 2" && renamed.topic == "plans")
            #expect(h.events.entries.contains("updated:\(room.id)"))
            #expect(await apiCode { try await h.rooms.delete(userID: bob, roomID: room.id) } == "not_room_owner")
            try await h.rooms.delete(userID: ann, roomID: room.id)
            #expect(try await h.rooms.list(userID: bob).isEmpty)
            #expect(h.events.entries.last == "deleted:\(room.id):3")
        }
    }

    @Test("brute-forcing join codes is throttled", arguments: TestDatabases.kinds)
    func joinCodeThrottle(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let bob = try await h.user("bob")
            for _ in 0..<10 { _ = await apiCode { try await h.rooms.joinByCode(userID: bob, code: "AAAAAAAA", password: nil) } }
            #expect(await apiCode { try await h.rooms.joinByCode(userID: bob, code: "AAAAAAAA", password: nil) } == "too_many_attempts")
        }
    }

    @Test("direct conversations are unique per pair", arguments: TestDatabases.kinds)
    func direct(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let first = try await h.rooms.direct(userID: ann, with: .username("bob"))
            let second = try await h.rooms.direct(userID: bob, with: .id(ann))
            #expect(first.id == second.id && first.kind == .direct)
            #expect(first.name == "Bob" && first.peer?.username == "bob")
            #expect(second.name == "Ann")
            #expect(await apiCode { try await h.rooms.direct(userID: ann, with: .id(ann)) } == "validation_failed")
            #expect(await apiCode { try await h.rooms.direct(userID: ann, with: .username("ghost")) } == "user_not_found")
        }
    }

    @Test("clientMsgId retries store one message", arguments: TestDatabases.kinds)
    func idempotentSend(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann")
            let room = try await h.rooms.create(userID: ann, .init(name: "R", kind: .private, topic: nil, password: nil))
            let a = try await h.messages.send(userID: ann, roomID: room.id, body: "once", clientMsgID: "c-1", replyTo: nil)
            let b = try await h.messages.send(userID: ann, roomID: room.id, body: "once", clientMsgID: "c-1", replyTo: nil)
            #expect(!a.duplicate && b.duplicate && a.message.id == b.message.id)
            #expect(try await h.messages.history(userID: ann, roomID: room.id, before: nil, after: nil, limit: nil).messages.count == 1)
            #expect(h.events.entries.filter { $0.hasPrefix("message:") }.count == 1)
        }
    }

    @Test("unverified users cannot create rooms or post; bodies are validated", arguments: TestDatabases.kinds)
    func gates(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), newbie = try await h.user("newbie", verified: false)
            #expect(await apiCode { try await h.rooms.create(userID: newbie, .init(name: "X", kind: .public, topic: nil, password: nil)) } == "email_unverified")
            let room = try await h.rooms.create(userID: ann, .init(name: "Open", kind: .public, topic: nil, password: nil))
            _ = try await h.rooms.join(userID: newbie, roomID: room.id)
            #expect(await apiCode { try await h.post(newbie, room.id, "hi") } == "email_unverified")
            #expect(await apiCode { try await h.post(ann, room.id, "   ") } == "validation_failed")
            #expect(await apiCode { try await h.post(ann, room.id, String(repeating: "x", count: 4001)) } == "validation_failed")
            _ = try await h.post(ann, room.id, String(repeating: "x", count: 4000))
            #expect(await apiCode { try await h.post(ann, 999_999, "hi") } == "room_not_found")
        }
    }

    @Test("history pagination walks every message once, both directions", arguments: TestDatabases.kinds)
    func pagination(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann")
            let room = try await h.rooms.create(userID: ann, .init(name: "Log", kind: .private, topic: nil, password: nil))
            var posted: [Int64] = []
            for i in 0..<57 { posted.append(try await h.post(ann, room.id, "m\(i)").id) }
            // Backwards from the newest.
            var seen: [Int64] = []
            var before: Int64? = nil
            while true {
                let page = try await h.messages.history(userID: ann, roomID: room.id, before: before, after: nil, limit: 10)
                seen = page.messages.map(\.id) + seen
                guard page.hasMore, let first = page.messages.first else { break }
                before = first.id
            }
            #expect(seen == posted)
            // Forwards from the start.
            var forward: [Int64] = []
            var after: Int64 = 0
            while true {
                let page = try await h.messages.history(userID: ann, roomID: room.id, before: nil, after: after, limit: 20)
                forward += page.messages.map(\.id)
                guard page.hasMore, let last = page.messages.last else { break }
                after = last.id
            }
            #expect(forward == posted)
        }
    }

    @Test("the last owner cannot leave before handing over; the last one out deletes the room", arguments: TestDatabases.kinds)
    func leaving(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let room = try await h.rooms.create(userID: ann, .init(name: "Hand", kind: .public, topic: nil, password: nil))
            _ = try await h.rooms.join(userID: bob, roomID: room.id)
            #expect(await apiCode { try await h.rooms.leave(userID: ann, roomID: room.id) } == "last_owner")
            #expect(try await h.rooms.list(userID: ann).first?.role == .owner)
            _ = try await h.chat.moderation.setRole(actorID: ann, roomID: room.id, targetID: bob, role: .owner)
            try await h.rooms.leave(userID: ann, roomID: room.id)
            #expect(try await h.rooms.list(userID: bob).first?.role == .owner)
            #expect(await apiCode { try await h.rooms.leave(userID: ann, roomID: room.id) } == "not_a_member")
            try await h.rooms.leave(userID: bob, roomID: room.id)
            #expect(try await h.rooms.discover(query: "hand", cursor: nil, limit: 5).rooms.isEmpty)
        }
    }

    @Test("unread counts are exact up to the cap", arguments: TestDatabases.kinds)
    func unreadCap(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let room = try await h.rooms.create(userID: ann, .init(name: "Busy", kind: .public, topic: nil, password: nil))
            _ = try await h.rooms.join(userID: bob, roomID: room.id)
            try await h.db.write { sql in
                for i in 0..<1005 {
                    _ = try await MessageStore().insert(roomID: room.id, authorID: ann, body: "b\(i)", clientMsgID: nil, replyTo: nil, now: Int64(i), on: sql)
                }
            }
            #expect(try await h.rooms.list(userID: bob).first?.unreadCount == unreadCountCap)
            let oldest = try await h.messages.history(userID: bob, roomID: room.id, before: nil, after: 0, limit: 10)
            let read = try await h.readCursors.markRead(userID: bob, roomID: room.id, messageID: oldest.messages[5].id)
            #expect(read.unreadCount == 999)
        }
    }
}
