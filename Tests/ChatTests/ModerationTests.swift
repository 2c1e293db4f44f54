@testable import Accounts
@testable import Chat
import Foundation
import Models
import SQLKit
import Testing
import TestSupport

/// Room moderation (issue 16) on SQLite and PostgreSQL: the permissions matrix (each role ×
/// each action, guests included), peers and superiors, mutes with the injected clock, bans
/// against every way in, the audit log and the deltas.
@Suite("Moderation")
struct ModerationTests {
    /// A chat over a fresh database whose services read `clock`.
    struct Harness {
        let db: any Database
        let chat: ChatServices
        let events: EventRecorder
        let clock: ManualClock
        var rooms: RoomService { chat.rooms }
        var moderation: ModerationService { chat.moderation }

        static func with(_ kind: DatabaseKind, _ body: @Sendable (Harness) async throws -> Void) async throws {
            try await TestDatabases.with(kind) { db in
                let events = EventRecorder(), clock = ManualClock()
                let chat = ChatServices(database: db, hasher: PasswordHasher(parameters: .testing), clock: clock.clock,
                                        verification: EmailVerificationGate(database: db, isRequired: false), events: events, log: events,
                                        logger: TestDatabases.logger)
                try await body(Harness(db: db, chat: chat, events: events, clock: clock))
            }
        }

        func user(_ name: String) async throws -> Int64 {
            try await db.write { sql in
                guard case .created(let user) = try await UserStore().insert(email: "\(name)@example.com", username: name, displayName: name.capitalized,
                                                                             passwordHash: "x", now: 1, on: sql) else { throw TestSetupError("user exists") }
                return user.id
            }
        }

        /// A new member of `room` with `role` (set straight in the store: guests come from GA's guest sign-in).
        func member(_ name: String, of room: Int64, role: RoomRole) async throws -> Int64 {
            let id = try await user(name)
            try await db.write { sql in
                try await RoomStore().addMember(roomID: room, userID: id, role: role, now: 1, on: sql)
                try await RoomStore().setRole(roomID: room, userID: id, role: role, on: sql)
            }
            return id
        }

        func role(of user: Int64, in room: Int64) async throws -> RoomRole? {
            try await db.read { sql in try await RoomStore().membership(roomID: room, userID: user, on: sql)?.roomRole }
        }

        func send(_ user: Int64, _ room: Int64, _ body: String) async throws -> ChatMessage {
            try await chat.messages.send(userID: user, roomID: room, body: body, clientMsgID: nil, replyTo: nil).message
        }
    }

    enum Action: String, CaseIterable, Sendable {
        case kick, mute, unmute, ban, unban, makeModerator, makeMember, makeAdmin, makeOwner, auditLog, listMutes, listBans
    }

    /// What `actor`'s role may do to a plain member, per the matrix in RoomRules.swift: nil = allowed.
    static func expected(_ actor: RoomRole, _ action: Action) -> String? {
        switch action {
        case .kick, .mute, .unmute, .ban, .unban, .auditLog, .listMutes, .listBans:
            return actor.rank >= RoomRole.moderator.rank ? nil : "not_room_moderator"
        case .makeModerator, .makeMember:
            return actor.rank >= RoomRole.admin.rank ? nil : "not_room_admin"
        case .makeAdmin, .makeOwner:
            return actor == .owner ? nil : actor.rank >= RoomRole.admin.rank ? "not_room_owner" : "not_room_admin"
        }
    }

    @Test("permissions matrix: each role × each action on a member", arguments: TestDatabases.kinds)
    func matrix(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner")
            let room = try await h.rooms.create(userID: owner, .init(name: "Matrix", kind: .public, topic: nil, password: nil)).id
            var actors: [RoomRole: Int64] = [.owner: owner]
            for role in [RoomRole.admin, .moderator, .member, .guest] { actors[role] = try await h.member("a\(role.rawValue)", of: room, role: role) }
            var n = 0
            for role in RoomRole.allCases {
                let actor = actors[role]!
                for action in Action.allCases {
                    n += 1
                    let target = try await h.member("t\(n)", of: room, role: .member)
                    // the state an undo needs, made by the owner
                    if action == .unmute { _ = try await h.moderation.mute(actorID: owner, roomID: room, targetID: target, durationSeconds: 60, reason: nil) }
                    if action == .unban { _ = try await h.moderation.ban(actorID: owner, roomID: room, targetID: target, reason: nil) }
                    let m = h.moderation
                    let code = await apiCode { () async throws -> Bool in
                        switch action {
                        case .kick: _ = try await m.kick(actorID: actor, roomID: room, targetID: target, reason: "spam")
                        case .mute: _ = try await m.mute(actorID: actor, roomID: room, targetID: target, durationSeconds: 600, reason: nil)
                        case .unmute: _ = try await m.unmute(actorID: actor, roomID: room, targetID: target)
                        case .ban: _ = try await m.ban(actorID: actor, roomID: room, targetID: target, reason: nil)
                        case .unban: _ = try await m.unban(actorID: actor, roomID: room, targetID: target)
                        case .makeModerator: _ = try await m.setRole(actorID: actor, roomID: room, targetID: target, role: .moderator)
                        case .makeMember: _ = try await m.setRole(actorID: actor, roomID: room, targetID: target, role: .member)
                        case .makeAdmin: _ = try await m.setRole(actorID: actor, roomID: room, targetID: target, role: .admin)
                        case .makeOwner: _ = try await m.setRole(actorID: actor, roomID: room, targetID: target, role: .owner)
                        case .auditLog: _ = try await m.auditLog(actorID: actor, roomID: room, before: nil, limit: 10)
                        case .listMutes: _ = try await m.mutes(actorID: actor, roomID: room)
                        case .listBans: _ = try await m.bans(actorID: actor, roomID: room)
                        }
                        return true
                    }
                    #expect(code == Self.expected(role, action), "\(role) \(action)")
                    // nothing changed when refused
                    if code != nil {
                        switch action {
                        case .kick, .ban, .makeModerator, .makeAdmin, .makeOwner, .makeMember: #expect(try await h.role(of: target, in: room) == .member)
                        case .unban: #expect(try await h.role(of: target, in: room) == nil)
                        default: break
                        }
                    }
                }
            }
        }
    }

    @Test("nobody acts on a peer or a superior, nor on themselves", arguments: TestDatabases.kinds)
    func peersAndSuperiors(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner")
            let room = try await h.rooms.create(userID: owner, .init(name: "Peers", kind: .public, topic: nil, password: nil)).id
            let coOwner = try await h.member("coowner", of: room, role: .owner)
            let admin = try await h.member("admin", of: room, role: .admin)
            let admin2 = try await h.member("admin2", of: room, role: .admin)
            let mod = try await h.member("mod", of: room, role: .moderator)
            let mod2 = try await h.member("mod2", of: room, role: .moderator)
            let m = h.moderation
            for (actor, target) in [(owner, coOwner), (admin, admin2), (admin, owner), (mod, mod2), (mod, admin), (mod, owner)] {
                #expect(await apiCode { try await m.kick(actorID: actor, roomID: room, targetID: target, reason: nil) } == "cannot_act_on_peer")
                #expect(await apiCode { try await m.mute(actorID: actor, roomID: room, targetID: target, durationSeconds: 60, reason: nil) } == "cannot_act_on_peer")
                #expect(await apiCode { try await m.ban(actorID: actor, roomID: room, targetID: target, reason: nil) } == "cannot_act_on_peer")
            }
            #expect(await apiCode { try await m.setRole(actorID: owner, roomID: room, targetID: coOwner, role: .member) } == "cannot_act_on_peer")
            #expect(await apiCode { try await m.setRole(actorID: admin, roomID: room, targetID: admin2, role: .member) } == "cannot_act_on_peer")
            // `/ban` of myself, of the owner
            #expect(await apiCode { try await m.ban(actorID: mod, roomID: room, targetID: mod, reason: nil) } == "validation_failed")
            #expect(await apiCode { try await m.ban(actorID: owner, roomID: room, targetID: owner, reason: nil) } == "validation_failed")
            #expect(await apiCode { try await m.ban(actorID: admin, roomID: room, targetID: owner, reason: nil) } == "cannot_act_on_peer")
            // guests: neither granted nor taken away
            let guest = try await h.member("guest", of: room, role: .guest)
            let plain = try await h.member("plain", of: room, role: .member)
            #expect(await apiCode { try await m.setRole(actorID: owner, roomID: room, targetID: guest, role: .member) } == "validation_failed")
            #expect(await apiCode { try await m.setRole(actorID: owner, roomID: room, targetID: plain, role: .guest) } == "validation_failed")
            // a moderator may kick a guest and a member
            _ = try await m.kick(actorID: mod, roomID: room, targetID: guest, reason: nil)
            // targets that are not members, users that do not exist, rooms that do not exist
            let stranger = try await h.user("stranger")
            #expect(await apiCode { try await m.kick(actorID: owner, roomID: room, targetID: stranger, reason: nil) } == "member_not_found")
            #expect(await apiCode { try await m.kick(actorID: owner, roomID: room, targetID: 999_999, reason: nil) } == "user_not_found")
            #expect(await apiCode { try await m.kick(actorID: owner, roomID: 999_999, targetID: plain, reason: nil) } == "room_not_found")
            #expect(await apiCode { try await m.kick(actorID: stranger, roomID: room, targetID: plain, reason: nil) } == "not_a_member")
            #expect(await apiCode { try await m.unmute(actorID: owner, roomID: room, targetID: plain) } == "not_found")
            #expect(await apiCode { try await m.unban(actorID: owner, roomID: room, targetID: plain) } == "not_found")
            // bad durations and reasons: refused, nothing changed
            for seconds in [0, -5, RoomRules.maxMuteSeconds + 1, Int.max] {
                #expect(await apiCode { try await m.mute(actorID: owner, roomID: room, targetID: plain, durationSeconds: seconds, reason: nil) } == "validation_failed")
            }
            #expect(await apiCode { try await m.kick(actorID: owner, roomID: room, targetID: plain, reason: String(repeating: "x", count: 257)) } == "validation_failed")
            #expect(await apiCode { try await m.kick(actorID: owner, roomID: room, targetID: plain, reason: "a\u{0007}b") } == "validation_failed")
            #expect(try await m.mutes(actorID: owner, roomID: room).isEmpty)
            #expect(try await h.role(of: plain, in: room) == .member)
            // direct rooms have no moderation
            let dm = try await h.rooms.direct(userID: owner, with: .id(plain))
            #expect(await apiCode { try await m.kick(actorID: owner, roomID: dm.id, targetID: plain, reason: nil) } == "direct_room")
        }
    }

    @Test("a mute refuses sends with the exact seconds left and ends on time (injected clock)", arguments: TestDatabases.kinds)
    func muteExpiry(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner"), bob = try await h.user("bob")
            let room = try await h.rooms.create(userID: owner, .init(name: "Quiet", kind: .public, topic: nil, password: nil)).id
            _ = try await h.rooms.join(userID: bob, roomID: room)
            let event = try await h.moderation.mute(actorID: owner, roomID: room, targetID: bob, durationSeconds: 600, reason: "calm down")
            #expect(event.durationSeconds == 600 && event.reason == "calm down")
            #expect(event.until == WireTime.string(millis: h.clock.now.millis + 600_000))
            func refusal() async -> ServiceError? {
                do { _ = try await h.send(bob, room, "hello"); return nil } catch { return error as? ServiceError }
            }
            #expect(await refusal()?.code == .muted)
            #expect(await refusal()?.retryAfter == 600)
            h.clock.advance(599.5)
            #expect(await refusal()?.retryAfter == 1)
            // others still post; the list shows the mute
            _ = try await h.send(owner, room, "still here")
            #expect(try await h.moderation.mutes(actorID: owner, roomID: room).map(\.user.id) == [bob])
            h.clock.advance(0.5)
            _ = try await h.send(bob, room, "free again")
            #expect(try await h.moderation.mutes(actorID: owner, roomID: room).isEmpty)
            // mute again, unmute early
            _ = try await h.moderation.mute(actorID: owner, roomID: room, targetID: bob, durationSeconds: 60, reason: nil)
            #expect(await refusal()?.code == .muted)
            _ = try await h.moderation.unmute(actorID: owner, roomID: room, targetID: bob)
            _ = try await h.send(bob, room, "unmuted")
            #expect(h.events.entries.filter { $0.hasPrefix("member:") && !$0.contains(":joined:") } == [
                "member:muted:\(room):bob:owner", "member:muted:\(room):bob:owner", "member:unmuted:\(room):bob:owner",
            ])
        }
    }

    @Test("a ban removes the member and keeps them out: join, code, password, invite; unban lets them back", arguments: TestDatabases.kinds)
    func bans(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner"), bob = try await h.user("bob"), carol = try await h.user("carol")
            let open = try await h.rooms.create(userID: owner, .init(name: "Open", kind: .public, topic: nil, password: nil))
            let closed = try await h.rooms.create(userID: owner, .init(name: "Closed", kind: .private, topic: nil, password: "sesame"))
            _ = try await h.rooms.join(userID: bob, roomID: open.id)
            let banned = try await h.moderation.ban(actorID: owner, roomID: open.id, targetID: bob, reason: "trolling")
            #expect(banned.created)
            #expect(try await h.role(of: bob, in: open.id) == nil)
            #expect(h.events.entries.suffix(2) == ["member:banned:\(open.id):bob:owner", "member:\(open.id):removed:bob"])
            #expect(await apiCode { try await h.rooms.join(userID: bob, roomID: open.id) } == "banned_from_room")
            #expect(await apiCode { try await h.rooms.invite(actorID: owner, roomID: open.id, target: .id(bob)) } == "banned_from_room")
            // banning again changes nothing
            #expect(try await h.moderation.ban(actorID: owner, roomID: open.id, targetID: bob, reason: nil).created == false)
            // a ban ahead of a join: private room by code and password, and by invite
            _ = try await h.moderation.ban(actorID: owner, roomID: closed.id, targetID: carol, reason: nil)
            #expect(await apiCode { try await h.rooms.joinByCode(userID: carol, code: closed.joinCode!, password: "sesame") } == "banned_from_room")
            #expect(await apiCode { try await h.rooms.invite(actorID: owner, roomID: closed.id, target: .username("carol")) } == "banned_from_room")
            #expect(try await h.role(of: carol, in: closed.id) == nil)
            #expect(try await h.moderation.bans(actorID: owner, roomID: open.id).map(\.reason) == ["trolling"])
            _ = try await h.moderation.unban(actorID: owner, roomID: open.id, targetID: bob)
            _ = try await h.rooms.join(userID: bob, roomID: open.id)
            _ = try await h.moderation.unban(actorID: owner, roomID: closed.id, targetID: carol)
            _ = try await h.rooms.joinByCode(userID: carol, code: closed.joinCode!, password: "sesame")
            #expect(try await h.role(of: carol, in: closed.id) == .member)
        }
    }

    @Test("the audit log: who, what, to whom, why, when, newest first, paged; kicks announce and remove", arguments: TestDatabases.kinds)
    func auditLog(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner"), bob = try await h.user("bob")
            let room = try await h.rooms.create(userID: owner, .init(name: "Audit", kind: .public, topic: nil, password: nil)).id
            _ = try await h.rooms.join(userID: bob, roomID: room)
            _ = try await h.moderation.setRole(actorID: owner, roomID: room, targetID: bob, role: .moderator)
            _ = try await h.moderation.setRole(actorID: owner, roomID: room, targetID: bob, role: .member)
            _ = try await h.moderation.mute(actorID: owner, roomID: room, targetID: bob, durationSeconds: 30, reason: "slow down")
            _ = try await h.moderation.kick(actorID: owner, roomID: room, targetID: bob, reason: "bye")
            #expect(h.events.entries.suffix(2) == ["member:kicked:\(room):bob:owner", "member:\(room):removed:bob"])
            #expect(try await h.role(of: bob, in: room) == nil)
            let first = try await h.moderation.auditLog(actorID: owner, roomID: room, before: nil, limit: 3)
            #expect(first.entries.map(\.action) == [.kick, .mute, .role])
            #expect(first.entries[0].actor?.username == "owner" && first.entries[0].target?.username == "bob" && first.entries[0].reason == "bye")
            #expect(first.entries[1].until != nil && first.entries[2].role == .member)
            let rest = try await h.moderation.auditLog(actorID: owner, roomID: room, before: first.nextBefore, limit: 3)
            #expect(rest.entries.map(\.action) == [.role] && rest.entries[0].role == .moderator && rest.nextBefore == nil)
            // a kicked member may come back (only a ban keeps them out)
            _ = try await h.rooms.join(userID: bob, roomID: room)
        }
    }

    @Test("a mute refuses edits and new reactions too, with the same muted error and seconds left; taking a reaction back and deleting still work", arguments: TestDatabases.kinds)
    func muteBlocksEditsAndReactions(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner"), bob = try await h.user("bob")
            let room = try await h.rooms.create(userID: owner, .init(name: "Hushed", kind: .public, topic: nil, password: nil)).id
            _ = try await h.rooms.join(userID: bob, roomID: room)
            let mine = try await h.send(bob, room, "before the mute")
            _ = try await h.chat.reactions.react(userID: bob, roomID: room, messageID: mine.id, emoji: "👍", added: true)
            _ = try await h.moderation.mute(actorID: owner, roomID: room, targetID: bob, durationSeconds: 600, reason: nil)
            h.clock.advance(100)
            func refusal(_ body: () async throws -> Void) async -> ServiceError? {
                do { try await body(); return nil } catch { return error as? ServiceError }
            }
            let edit = await refusal { _ = try await h.chat.edits.edit(userID: bob, roomID: room, messageID: mine.id, body: "sneaky") }
            #expect(edit?.code == .muted && edit?.retryAfter == 500)
            let react = await refusal { _ = try await h.chat.reactions.react(userID: bob, roomID: room, messageID: mine.id, emoji: "🎉", added: true) }
            #expect(react?.code == .muted && react?.retryAfter == 500)
            #expect(await refusal { _ = try await h.chat.reactions.react(userID: bob, roomID: room, messageID: mine.id, emoji: "👍", added: false) } == nil)
            // Nothing changed: the body is the old one.
            let stored = try await h.db.read { sql in try await MessageStore().find(id: mine.id, on: sql) }
            #expect(stored?.body == "before the mute" && stored?.editedAt == nil)
            // The mute ends: both work again.
            h.clock.advance(500)
            _ = try await h.chat.edits.edit(userID: bob, roomID: room, messageID: mine.id, body: "after the mute")
            _ = try await h.chat.reactions.react(userID: bob, roomID: room, messageID: mine.id, emoji: "🎉", added: true)
        }
    }

    @Test("a server admin ranks above every room role: room staff cannot act on one, one acts on owners too", arguments: TestDatabases.kinds)
    func serverAdminAboveEveryone(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner")
            let room = try await h.rooms.create(userID: owner, .init(name: "Ranks", kind: .public, topic: nil, password: nil)).id
            let moderator = try await h.member("moddy", of: room, role: .moderator)
            let boss = try await h.member("boss", of: room, role: .member)
            let coOwner = try await h.member("coowner", of: room, role: .owner)
            try await h.db.write { sql in try await sql.raw("UPDATE users SET server_role = 'admin' WHERE id = \(bind: boss)").run() }
            let m = h.moderation
            // Room staff, the owner included, cannot act on a server admin who is a plain member.
            for actor in [moderator, owner] {
                #expect(await apiCode { try await m.mute(actorID: actor, roomID: room, targetID: boss, durationSeconds: 60, reason: nil) } == "cannot_act_on_peer")
                #expect(await apiCode { try await m.ban(actorID: actor, roomID: room, targetID: boss, reason: nil) } == "cannot_act_on_peer")
                #expect(await apiCode { try await m.kick(actorID: actor, roomID: room, targetID: boss, reason: nil) } == "cannot_act_on_peer")
            }
            #expect(await apiCode { try await m.setRole(actorID: owner, roomID: room, targetID: boss, role: .moderator) } == "cannot_act_on_peer")
            // The server admin acts on an owner: demotes one, mutes and kicks another (once
            // another owner remains: the last owner is never removed, `lastOwnerHoldsForServerAdmins`).
            _ = try await m.setRole(actorID: boss, roomID: room, targetID: coOwner, role: .member)
            #expect(try await h.role(of: coOwner, in: room) == .member)
            _ = try await m.mute(actorID: boss, roomID: room, targetID: owner, durationSeconds: 60, reason: nil)
            _ = try await m.setRole(actorID: boss, roomID: room, targetID: coOwner, role: .owner)
            _ = try await m.kick(actorID: boss, roomID: room, targetID: owner, reason: nil)
            #expect(try await h.role(of: owner, in: room) == nil)
        }
    }

    @Test("the audit log marks a guest actor or target guest: true, as every other user summary", arguments: TestDatabases.kinds)
    func auditLogMarksGuests(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner")
            let room = try await h.rooms.create(userID: owner, .init(name: "Visitors", kind: .public, topic: nil, password: nil)).id
            let visitor = try await h.member("visitor", of: room, role: .guest)
            try await h.db.write { sql in try await sql.raw("UPDATE users SET guest_expires_at = 9999999999999 WHERE id = \(bind: visitor)").run() }
            _ = try await h.moderation.mute(actorID: owner, roomID: room, targetID: visitor, durationSeconds: 60, reason: nil)
            let entry = try #require(try await h.moderation.auditLog(actorID: owner, roomID: room, before: nil, limit: 10).entries.first)
            #expect(entry.target?.id == visitor && entry.target?.guest == true)
            #expect(entry.actor?.id == owner && entry.actor?.guest == nil)
        }
    }

    @Test("a guest reads a public room's history only when the room allows guests (or it is a member)", arguments: TestDatabases.kinds)
    func guestHistoryNeedsAllowGuests(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner"), visitor = try await h.user("visitor"), reader = try await h.user("reader")
            try await h.db.write { sql in try await sql.raw("UPDATE users SET guest_expires_at = 9999999999999 WHERE id = \(bind: visitor)").run() }
            let room = try await h.rooms.create(userID: owner, .init(name: "Accounts only", kind: .public, topic: nil, password: nil)).id
            _ = try await h.send(owner, room, "members' talk")
            #expect(await apiCode { try await h.chat.messages.history(userID: visitor, roomID: room, before: nil, after: nil, limit: nil) } == "guest_not_allowed")
            #expect(try await h.chat.messages.history(userID: reader, roomID: room, before: nil, after: nil, limit: nil).messages.count == 1)
            try await h.db.write { sql in try await RoomStore().setAllowGuests(roomID: room, true, on: sql) }
            #expect(try await h.chat.messages.history(userID: visitor, roomID: room, before: nil, after: nil, limit: nil).messages.count == 1)
        }
    }

    @Test("moderators and up delete others' messages; members and guests only their own", arguments: TestDatabases.kinds)
    func deletingOthersMessages(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner")
            let room = try await h.rooms.create(userID: owner, .init(name: "Tidy", kind: .public, topic: nil, password: nil)).id
            let author = try await h.member("author", of: room, role: .member)
            for role in RoomRole.allCases {
                let actor = role == .owner ? owner : try await h.member("d\(role.rawValue)", of: room, role: role)
                let message = try await h.send(author, room, "by the author for \(role)")
                let code = await apiCode { try await h.chat.edits.delete(userID: actor, roomID: room, messageID: message.id) }
                #expect(code == (role.rank >= RoomRole.moderator.rank ? nil : "not_message_author"), "\(role)")
            }
        }
    }

    @Test("the last owner cannot leave while others remain; a co-owner can; a role change of the same role changes nothing", arguments: TestDatabases.kinds)
    func lastOwner(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner"), bob = try await h.user("bob")
            let room = try await h.rooms.create(userID: owner, .init(name: "Heir", kind: .public, topic: nil, password: nil)).id
            _ = try await h.rooms.join(userID: bob, roomID: room)
            #expect(await apiCode { try await h.rooms.leave(userID: owner, roomID: room) } == "last_owner")
            #expect(try await h.role(of: owner, in: room) == .owner)
            _ = try await h.moderation.setRole(actorID: owner, roomID: room, targetID: bob, role: .moderator)
            let before = h.events.entries.count
            _ = try await h.moderation.setRole(actorID: owner, roomID: room, targetID: bob, role: .moderator)
            #expect(h.events.entries.count == before)
            #expect(try await h.moderation.auditLog(actorID: owner, roomID: room, before: nil, limit: 10).entries.count == 1)
            _ = try await h.moderation.setRole(actorID: owner, roomID: room, targetID: bob, role: .owner)
            // co-owners are peers
            #expect(await apiCode { try await h.moderation.setRole(actorID: owner, roomID: room, targetID: bob, role: .member) } == "cannot_act_on_peer")
            try await h.rooms.leave(userID: owner, roomID: room)
            #expect(try await h.role(of: bob, in: room) == .owner)
            // alone, the last owner may leave: the room goes
            try await h.rooms.leave(userID: bob, roomID: room)
            #expect(await apiCode { try await h.rooms.join(userID: bob, roomID: room) } == "room_not_found")
        }
    }

    /// Makes `user` a guest account (what `POST /api/auth/guest` creates: `guest_expires_at` set).
    static func makeGuest(_ h: Harness, _ user: Int64) async throws {
        try await h.db.write { sql in try await sql.raw("UPDATE users SET guest_expires_at = 9999999999999 WHERE id = \(bind: user)").run() }
    }

    @Test("a guest reads a public room's members and reactions only where guests are allowed (as its history); search and read cursors stay members-only", arguments: TestDatabases.kinds)
    func guestReadsNeedAllowGuests(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner"), visitor = try await h.user("visitor"), reader = try await h.user("reader")
            try await Self.makeGuest(h, visitor)
            let room = try await h.rooms.create(userID: owner, .init(name: "Accounts only", kind: .public, topic: nil, password: nil)).id
            let message = try await h.send(owner, room, "members' talk about llamas")
            _ = try await h.chat.reactions.react(userID: owner, roomID: room, messageID: message.id, emoji: "👍", added: true)
            let members = { (user: Int64) in try await h.rooms.members(userID: user, roomID: room, presence: nil) }
            let reactors = { (user: Int64) in try await h.chat.reactions.users(userID: user, roomID: room, messageID: message.id, emoji: nil, limit: nil) }
            #expect(await apiCode { try await members(visitor) } == "guest_not_allowed")
            #expect(await apiCode { try await reactors(visitor) } == "guest_not_allowed")
            #expect(await apiCode { try await h.chat.messages.history(userID: visitor, roomID: room, before: nil, after: nil, limit: nil) } == "guest_not_allowed")
            // Search and read cursors are members-only for everyone: nothing to see, nothing to move.
            let search = MessageSearch(database: h.db)
            #expect(try await search.search(userID: visitor, query: "llamas", roomID: nil, limit: 20, cursor: nil).results.isEmpty)
            #expect(await apiCode { try await search.search(userID: visitor, query: "llamas", roomID: room, limit: 20, cursor: nil) } == "room_not_found")
            #expect(await apiCode { try await h.chat.readCursors.markRead(userID: visitor, roomID: room, messageID: message.id) } == "not_a_member")
            // An account reads the public room it is not in.
            #expect(try await members(reader).map(\.user.id) == [owner])
            #expect(try await reactors(reader).map(\.count) == [1])
            // A private room: members only, guest or not.
            let closed = try await h.rooms.create(userID: owner, .init(name: "Closed", kind: .private, topic: nil, password: nil)).id
            #expect(await apiCode { try await h.rooms.members(userID: visitor, roomID: closed, presence: nil) } == "not_a_member")
            #expect(await apiCode { try await h.rooms.members(userID: reader, roomID: closed, presence: nil) } == "not_a_member")
            // Guests allowed: the guest reads; having joined, it keeps reading after guests are turned off.
            _ = try await h.rooms.update(userID: owner, roomID: room, name: nil, topic: nil, allowGuests: true)
            #expect(try await members(visitor).map(\.user.id) == [owner])
            #expect(try await reactors(visitor).map(\.count) == [1])
            _ = try await h.rooms.join(userID: visitor, roomID: room)
            _ = try await h.rooms.update(userID: owner, roomID: room, name: nil, topic: nil, allowGuests: false)
            #expect(try await members(visitor).map(\.role) == [.owner, .guest])
            #expect(try await reactors(visitor).map(\.count) == [1])
        }
    }

    @Test("an owner steps down while another owner remains; the last owner cannot; nobody raises their own role", arguments: TestDatabases.kinds)
    func ownerStepsDown(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner")
            let room = try await h.rooms.create(userID: owner, .init(name: "Succession", kind: .public, topic: nil, password: nil)).id
            let heir = try await h.member("heir", of: room, role: .owner)
            let mod = try await h.member("mod", of: room, role: .moderator)
            let m = h.moderation
            let event = try await m.setRole(actorID: owner, roomID: room, targetID: owner, role: .admin)
            #expect(event.user.id == owner && event.by.id == owner && event.role == .admin)
            #expect(try await h.role(of: owner, in: room) == .admin)
            #expect(h.events.entries.last == "member:role:\(room):owner:owner")
            let entry = try #require(try await m.auditLog(actorID: heir, roomID: room, before: nil, limit: 1).entries.first)
            #expect(entry.action == .role && entry.actor?.id == owner && entry.target?.id == owner && entry.role == .admin)
            // The heir is now the last owner: stepping down would leave the room without one.
            for role in [RoomRole.admin, .moderator, .member] {
                #expect(await apiCode { try await m.setRole(actorID: heir, roomID: room, targetID: heir, role: role) } == "last_owner")
            }
            #expect(try await h.role(of: heir, in: room) == .owner)
            // Nobody raises their own role; the same role changes nothing; guest is never a role to take.
            #expect(await apiCode { try await m.setRole(actorID: owner, roomID: room, targetID: owner, role: .owner) } == "validation_failed")
            #expect(await apiCode { try await m.setRole(actorID: mod, roomID: room, targetID: mod, role: .admin) } == "validation_failed")
            #expect(await apiCode { try await m.setRole(actorID: mod, roomID: room, targetID: mod, role: .guest) } == "validation_failed")
            let before = h.events.entries.count
            _ = try await m.setRole(actorID: heir, roomID: room, targetID: heir, role: .owner)
            #expect(h.events.entries.count == before)
            // Any staff member may lower their own role.
            _ = try await m.setRole(actorID: mod, roomID: room, targetID: mod, role: .member)
            #expect(try await h.role(of: mod, in: room) == .member)
            let stranger = try await h.user("stranger")
            #expect(await apiCode { try await m.setRole(actorID: stranger, roomID: room, targetID: stranger, role: .member) } == "not_a_member")
        }
    }

    @Test("the last owner leaves a room where only guests remain: the room closes for them (guests cannot own it); with an account left it is last_owner", arguments: TestDatabases.kinds)
    func lastOwnerAmongGuests(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner")
            let room = try await h.rooms.create(userID: owner, .init(name: "Drop-in", kind: .public, topic: nil, password: nil, allowGuests: true)).id
            let guestA = try await h.user("guesta"), guestB = try await h.user("guestb")
            for guest in [guestA, guestB] {
                try await Self.makeGuest(h, guest)
                _ = try await h.rooms.join(userID: guest, roomID: room)
            }
            // With an account besides the guests, the owner hands over first.
            let bob = try await h.user("bob")
            _ = try await h.rooms.join(userID: bob, roomID: room)
            #expect(await apiCode { try await h.rooms.leave(userID: owner, roomID: room) } == "last_owner")
            #expect(try await h.rooms.roomsAwaitingHandOver(userID: owner) == [room: "Drop-in"])
            try await h.rooms.leave(userID: bob, roomID: room)
            // Only guests remain: nothing awaits a hand-over (so the account can be deleted), and leaving closes the room.
            #expect(try await h.rooms.roomsAwaitingHandOver(userID: owner).isEmpty)
            try await h.rooms.leave(userID: owner, roomID: room)
            #expect(h.events.entries.last == "deleted:\(room):3")
            #expect(await apiCode { try await h.rooms.members(userID: guestA, roomID: room, presence: nil) } == "room_not_found")
            #expect(try await h.role(of: guestB, in: room) == nil)
        }
    }

    @Test("a server admin cannot take the last owner out of a room: no demotion, kick or ban until another owner remains", arguments: TestDatabases.kinds)
    func lastOwnerHoldsForServerAdmins(kind: DatabaseKind) async throws {
        try await Harness.with(kind) { h in
            let owner = try await h.user("owner"), boss = try await h.user("boss")
            try await h.db.write { sql in try await sql.raw("UPDATE users SET server_role = 'admin' WHERE id = \(bind: boss)").run() }
            let room = try await h.rooms.create(userID: owner, .init(name: "Sole", kind: .public, topic: nil, password: nil)).id
            let member = try await h.member("plain", of: room, role: .member)
            let m = h.moderation
            for role in [RoomRole.admin, .moderator, .member] {
                #expect(await apiCode { try await m.setRole(actorID: boss, roomID: room, targetID: owner, role: role) } == "last_owner")
            }
            #expect(await apiCode { try await m.kick(actorID: boss, roomID: room, targetID: owner, reason: nil) } == "last_owner")
            #expect(await apiCode { try await m.ban(actorID: boss, roomID: room, targetID: owner, reason: nil) } == "last_owner")
            #expect(try await h.role(of: owner, in: room) == .owner)
            #expect(try await m.bans(actorID: boss, roomID: room).isEmpty)
            #expect(try await m.auditLog(actorID: boss, roomID: room, before: nil, limit: 10).entries.isEmpty)
            // Another owner first (a server admin may make owners), then the former one may be demoted.
            _ = try await m.setRole(actorID: boss, roomID: room, targetID: member, role: .owner)
            _ = try await m.setRole(actorID: boss, roomID: room, targetID: owner, role: .member)
            #expect(try await h.role(of: owner, in: room) == .member)
            #expect(try await h.role(of: member, in: room) == .owner)
        }
    }
}
