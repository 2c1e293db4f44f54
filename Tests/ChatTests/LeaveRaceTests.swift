@testable import Accounts
@testable import Chat
import Foundation
import Models
import SQLKit
import Synchronization
import Testing
import TestSupport

/// One member removed twice at the same moment (two tabs leaving, two moderators kicking, a ban
/// and a leave): on PostgreSQL (READ COMMITTED) both transactions pass their membership checks
/// before either commits, and only the membership row's DELETE tells them apart. Whoever
/// removed nothing must answer an error and log nothing: one `member:left` / `member:removed`
/// / `room:deleted` per removal. On SQLite writes are serialised, so the second always sees
/// the first; the same assertions hold there.
@Suite("Leave and kick races")
struct LeaveRaceTests {
    /// Every delta appended to the log, in any transaction (commits are not tracked: the
    /// services append as a transaction's last statement, so an appended delta is committed).
    /// ``EventRecorder`` keeps one transaction's deltas between append and commit, which two
    /// concurrent transactions would overwrite; this one counts them all.
    final class AppendCounter: ChatEventSink, ChatEventLog {
        let lines = Mutex<[String]>([])
        func messageCreated(_ message: ChatMessage) async {}
        func append(_ deltas: [ChatDelta], on db: any SQLDatabase) async throws -> UInt64? {
            let new = deltas.compactMap { delta -> String? in
                switch delta {
                case .memberChanged(let event): "member:\(event.roomId):\(event.change.rawValue):\(event.user.username)"
                case .roomDeleted(let event, _): "deleted:\(event.roomId)"
                case .moderation(let action, let event): "\(action.eventName):\(event.roomId):\(event.user.username)"
                default: nil
                }
            }
            lines.withLock { $0 += new }
            return deltas.isEmpty ? nil : 1
        }
        func committed(through position: UInt64?) async {}
        func count(_ line: String) -> Int { lines.withLock { $0.filter { $0 == line }.count } }
    }

    struct Harness {
        let db: any Database
        let chat: ChatServices
        let events: AppendCounter

        static func with(_ kind: DatabaseKind, _ body: @Sendable (Harness) async throws -> Void) async throws {
            try await TestDatabases.with(kind) { db in
                let events = AppendCounter()
                let chat = ChatServices(database: db, hasher: PasswordHasher(parameters: .testing),
                                        verification: EmailVerificationGate(database: db, isRequired: false), events: events, log: events,
                                        logger: TestDatabases.logger)
                try await body(Harness(db: db, chat: chat, events: events))
            }
        }

        func user(_ name: String) async throws -> Int64 {
            try await db.write { sql in
                guard case .created(let user) = try await UserStore().insert(email: "\(name)@example.com", username: name, displayName: name.capitalized,
                                                                             passwordHash: "x", now: 1, on: sql) else { throw TestSetupError("user exists") }
                return user.id
            }
        }
    }

    /// Rounds per scenario: each is one chance for the two to overlap.
    static let rounds = 15

    /// Runs `a` and `b` at once; their error codes (nil for success), sorted with nil first.
    static func both(_ a: @escaping @Sendable () async throws -> Void, _ b: @escaping @Sendable () async throws -> Void) async -> [String?] {
        async let first = apiCode { try await a() }
        async let second = apiCode { try await b() }
        return [await first, await second].sorted { ($0 ?? "") < ($1 ?? "") }
    }

    @Test("the same member leaving twice at once: one leave, the other not_a_member; one member:left", arguments: TestDatabases.kinds)
    func twoLeaves(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let room = try await h.chat.rooms.create(userID: ann, .init(name: "Tabs", kind: .public, topic: nil, password: nil))
            for round in 1...Self.rounds {
                _ = try await h.chat.rooms.join(userID: bob, roomID: room.id)
                let left = h.events.count("member:\(room.id):left:bob")
                let codes = await Self.both({ try await h.chat.rooms.leave(userID: bob, roomID: room.id) },
                                            { try await h.chat.rooms.leave(userID: bob, roomID: room.id) })
                #expect(codes == [nil, "not_a_member"], "round \(round)")
                #expect(h.events.count("member:\(room.id):left:bob") - left == 1, "round \(round)")
            }
            #expect(try await h.chat.rooms.members(userID: ann, roomID: room.id, presence: nil).map(\.user.username) == ["ann"])
        }
    }

    @Test("the last member leaving twice at once: the room is deleted once, the other leave is not_a_member", arguments: TestDatabases.kinds)
    func lastMemberLeavesTwice(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let ann = try await h.user("ann")
            for round in 1...Self.rounds {
                let room = try await h.chat.rooms.create(userID: ann, .init(name: "Solo \(round)", kind: .public, topic: nil, password: nil))
                let codes = await Self.both({ try await h.chat.rooms.leave(userID: ann, roomID: room.id) },
                                            { try await h.chat.rooms.leave(userID: ann, roomID: room.id) })
                #expect(codes == [nil, "not_a_member"], "round \(round)")
                #expect(h.events.count("deleted:\(room.id)") == 1, "round \(round)")
            }
            #expect(try await h.chat.rooms.list(userID: ann).isEmpty)
        }
    }

    @Test("the same member kicked twice at once: one kick, the other member_not_found; one kick and one member:removed", arguments: TestDatabases.kinds)
    func twoKicks(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let room = try await h.chat.rooms.create(userID: ann, .init(name: "Kicks", kind: .public, topic: nil, password: nil))
            for round in 1...Self.rounds {
                _ = try await h.chat.rooms.join(userID: bob, roomID: room.id)
                let removed = h.events.count("member:\(room.id):removed:bob")
                let kicks = h.events.count("\(ModerationAction.kick.eventName):\(room.id):bob")
                let codes = await Self.both({ _ = try await h.chat.moderation.kick(actorID: ann, roomID: room.id, targetID: bob, reason: nil) },
                                            { _ = try await h.chat.moderation.kick(actorID: ann, roomID: room.id, targetID: bob, reason: nil) })
                #expect(codes == [nil, "member_not_found"], "round \(round)")
                #expect(h.events.count("member:\(room.id):removed:bob") - removed == 1, "round \(round)")
                #expect(h.events.count("\(ModerationAction.kick.eventName):\(room.id):bob") - kicks == 1, "round \(round)")
            }
            let audit = try await h.chat.moderation.auditLog(actorID: ann, roomID: room.id, before: nil, limit: 100)
            #expect(audit.entries.filter { $0.action == .kick }.count == Self.rounds)
        }
    }

    @Test("a ban and the member's own leave at once: exactly one of member:left and member:removed", arguments: TestDatabases.kinds)
    func banWhileLeaving(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let room = try await h.chat.rooms.create(userID: ann, .init(name: "Bans", kind: .public, topic: nil, password: nil))
            for round in 1...Self.rounds {
                _ = try await h.chat.rooms.join(userID: bob, roomID: room.id)
                let goneBefore = h.events.count("member:\(room.id):left:bob") + h.events.count("member:\(room.id):removed:bob")
                let codes = await Self.both({ _ = try await h.chat.moderation.ban(actorID: ann, roomID: room.id, targetID: bob, reason: nil) },
                                            { try await h.chat.rooms.leave(userID: bob, roomID: room.id) })
                // The ban always holds; the leave fails only when the ban removed bob first.
                #expect(codes == [nil, nil] || codes == [nil, "not_a_member"], "round \(round): \(codes)")
                let gone = h.events.count("member:\(room.id):left:bob") + h.events.count("member:\(room.id):removed:bob")
                #expect(gone - goneBefore == 1, "round \(round)")
                _ = try await h.chat.moderation.unban(actorID: ann, roomID: room.id, targetID: bob)
            }
        }
    }
}
