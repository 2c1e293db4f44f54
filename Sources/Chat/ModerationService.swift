import Accounts
import Foundation
import Logging
import Models
import SQLKit

/// Room moderation (issue 16): role changes, kicks, mutes, bans, their lists and the audit log;
/// the logic behind `/api/rooms/{id}/members/{userId}[/role]`, `/mutes`, `/bans`, `/audit-log`.
///
/// Who may do what is ``RoomRules`` (the matrix is there). Each action runs in one transaction
/// that checks the actor's and the target's roles, makes the change, writes one audit-log entry
/// and appends its delta (``ChatDelta/moderation(_:_:)``; a kick or a ban of a member also
/// `memberChanged(.removed)`, whose leave effect takes the target's sockets out of the room on
/// every node) to the ``ChatEventLog`` as the last statement; after COMMIT it waits until this
/// node delivered them.
///
/// Errors (``ServiceError``): `room_not_found`, `not_a_member` (the caller), `direct_room`,
/// `not_room_moderator` / `not_room_admin` / `not_room_owner` (the caller's role is too low),
/// `validation_failed` (yourself, a bad duration, reason or role), `user_not_found`,
/// `member_not_found` (the target is not in the room), `cannot_act_on_peer`, `not_found`
/// (unmute/unban of someone not muted/banned), `last_owner` (the change would leave the room
/// without an owner: ``requireAnotherOwner(roomID:ownerID:unlessAlone:on:)``).
public struct ModerationService: Sendable {
    let database: any Database
    let clock: AccountsClock
    let log: (any ChatEventLog)?
    let logger: Logger
    let rooms = RoomStore()
    let store = ModerationStore()
    let users = UserStore()

    public init(database: any Database, clock: AccountsClock = .system, log: (any ChatEventLog)?, logger: Logger) {
        self.database = database
        self.clock = clock
        self.log = log
        self.logger = logger
    }

    var now: Int64 { clock.now().millis }

    /// The two sides of an action, checked.
    struct Acting {
        let room: RoomRecord
        let actor: UserSummary
        let actorRole: RoomRole
        let target: UserSummary
        /// nil: the target is not a member.
        let targetRole: RoomRole?
    }

    /// Checks, in this order: the room exists, the caller is a member, the room is not direct,
    /// the caller's role is at least `minimum` (``requireRole(actorID:roomID:minimum:on:)``), the target is not the caller and exists, is a
    /// member (when `targetMustBeMember`), and ranks below the caller: a server admin ranks above
    /// every room role, as actor (acts on anyone, owners included) and as target (no room role
    /// acts on one); two server admins are peers.
    func acting(actorID: Int64, roomID: Int64, targetID: Int64, minimum: RoomRole, targetMustBeMember: Bool,
                on db: any SQLDatabase) async throws -> Acting {
        let (room, actorRole) = try await requireRole(actorID: actorID, roomID: roomID, minimum: minimum, on: db)
        guard targetID != actorID else { throw ServiceError.validation(["userId": "cannot be yourself"]) }
        guard let target = try await users.find(id: targetID, on: db), let actor = try await users.find(id: actorID, on: db) else {
            throw ServiceError.userNotFound
        }
        let targetRole = try await rooms.membership(roomID: roomID, userID: targetID, on: db)?.roomRole
        if targetMustBeMember && targetRole == nil {
            throw ServiceError(.memberNotFound, message: "That user is not a member of this room.")
        }
        // Server roles rank above every room role (issue 16: "admin above everyone"): a server
        // admin acts on anyone in any room, owners included; room staff never act on a server
        // admin, and server admins are peers of each other.
        let actorIsServerAdmin = actor.isAdmin && actor.disabledAt == nil
        let targetIsServerAdmin = target.isAdmin && target.disabledAt == nil
        let allowed = targetIsServerAdmin ? false : (actorIsServerAdmin || RoomRules.outranks(actorRole, targetRole))
        guard allowed else {
            throw ServiceError(.cannotActOnPeer, message: "You cannot act on a member whose role is equal to or above yours.")
        }
        return Acting(room: room, actor: Self.summary(actor), actorRole: actorRole, target: Self.summary(target), targetRole: targetRole)
    }

    /// The room and the caller's role in it, at least `minimum` (`room_not_found`,
    /// `not_a_member`, `direct_room`, `not_room_moderator` / `not_room_admin`).
    func requireRole(actorID: Int64, roomID: Int64, minimum: RoomRole, on db: any SQLDatabase) async throws -> (RoomRecord, RoomRole) {
        guard let room = try await rooms.find(id: roomID, on: db) else { throw ServiceError.roomNotFound }
        // A server admin (users.server_role, issue 16) moderates any room as an owner would, member or not.
        let serverAdmin = try await UserStore().find(id: actorID, on: db).map { $0.isAdmin && $0.disabledAt == nil } ?? false
        let membershipRole = try await rooms.membership(roomID: roomID, userID: actorID, on: db)?.roomRole
        guard let actorRole = serverAdmin ? RoomRole.owner : membershipRole else { throw ServiceError.notAMember }
        guard room.roomKind != .direct else { throw ServiceError(.directRoom, message: "Direct conversations have no moderation.") }
        guard actorRole.rank >= minimum.rank else {
            if minimum.rank >= RoomRole.admin.rank {
                throw ServiceError(.notRoomAdmin, message: "Only the room's owners and admins can change roles.")
            }
            throw ServiceError(.notRoomModerator, message: "Only the room's owners, admins and moderators can do this.")
        }
        return (room, actorRole)
    }

    /// Refuses (409 `last_owner`) a change that takes `ownerID`, an owner of the room, out of
    /// ownership while they are its only owner: a demotion always (a room keeps an owner), a
    /// kick or a ban while other members remain (`unlessAlone`), as the last owner cannot leave
    /// (``RoomService/leave(userID:roomID:)``). The same rule for every actor, server admins
    /// included: they make another member owner first.
    func requireAnotherOwner(roomID: Int64, ownerID: Int64, unlessAlone: Bool, on db: any SQLDatabase) async throws {
        guard try await rooms.ownerIDs(roomID: roomID, on: db) == [ownerID] else { return }
        if unlessAlone, try await rooms.memberIDs(roomID: roomID, on: db) == [ownerID] { return }
        throw ServiceError(.lastOwner, message: "This is the room's last owner: make another member owner first.")
    }

    static func summary(_ user: UserRecord) -> UserSummary {
        UserSummary(id: user.id, username: user.username, displayName: user.displayName, guest: user.isGuest)
    }

    static func reason(_ raw: String?) throws -> String? {
        switch RoomRules.reason(raw) {
        case .success(let value): return value
        case .failure(let problem): throw ServiceError.validation(["reason": problem.message])
        }
    }

    /// Runs `body` in a transaction, appends the deltas it returns (last statement), commits and
    /// waits until this node delivered them.
    func perform<T: Sendable>(_ body: @Sendable @escaping (any SQLDatabase) async throws -> (T, [ChatDelta])) async throws -> T {
        let log = self.log
        let (value, position) = try await database.write { db -> (T, UInt64?) in
            let (value, deltas) = try await body(db)
            guard let log, !deltas.isEmpty else { return (value, nil) }
            return (value, try await log.append(deltas, on: db))
        }
        await log?.committed(through: position)
        return value
    }

    // MARK: Actions

    /// Gives a member a new role (`PUT /api/rooms/{id}/members/{userId}/role`). Owners and admins
    /// only; `owner` and `admin` only by an owner (`not_room_owner`); never `guest`, and a guest's
    /// role stays (`validation_failed`). Setting the role a member has changes nothing. The only
    /// owner is never demoted (`last_owner`). On oneself see
    /// ``stepDown(userID:roomID:role:now:on:)``.
    public func setRole(actorID: Int64, roomID: Int64, targetID: Int64, role: RoomRole) async throws -> ModerationEvent {
        let now = self.now
        if targetID == actorID {
            return try await perform { db in try await stepDown(userID: actorID, roomID: roomID, role: role, now: now, on: db) }
        }
        return try await perform { db in
            let acting = try await acting(actorID: actorID, roomID: roomID, targetID: targetID, minimum: .admin, targetMustBeMember: true, on: db)
            guard role != .guest, acting.targetRole != .guest else {
                throw ServiceError.validation(["role": "guests keep the guest role and nobody else gets it"])
            }
            guard RoomRules.mayGrant(acting.actorRole, role) else {
                throw ServiceError(.notRoomOwner, message: "Only the room's owners can make owners and admins.")
            }
            let event = ModerationEvent(roomId: roomID, user: acting.target, by: acting.actor, role: role)
            guard acting.targetRole != role else { return (event, []) }
            if acting.targetRole == .owner { try await requireAnotherOwner(roomID: roomID, ownerID: targetID, unlessAlone: false, on: db) }
            try await rooms.setRole(roomID: roomID, userID: targetID, role: role, on: db)
            try await store.audit(roomID: roomID, actorID: actorID, action: .role, targetID: targetID, role: role, reason: nil, now: now, on: db)
            return (event, [.moderation(.role, event)])
        }
    }

    /// A member lowers their own role (`PUT …/members/{me}/role`), as Discord and Slack let an
    /// owner or admin step down: any role but `guest` to a lower one but `guest`; raising it is
    /// `validation_failed` (roles are given by those above), the same role changes nothing, and
    /// the last owner cannot step down (`last_owner`): another owner must remain. Audited and
    /// announced as any role change, with the member as both actor and target.
    func stepDown(userID: Int64, roomID: Int64, role: RoomRole, now: Int64, on db: any SQLDatabase) async throws -> (ModerationEvent, [ChatDelta]) {
        guard let room = try await rooms.find(id: roomID, on: db) else { throw ServiceError.roomNotFound }
        guard let current = try await rooms.membership(roomID: roomID, userID: userID, on: db)?.roomRole else { throw ServiceError.notAMember }
        guard room.roomKind != .direct else { throw ServiceError(.directRoom, message: "Direct conversations have no moderation.") }
        guard role != .guest, current != .guest else {
            throw ServiceError.validation(["role": "guests keep the guest role and nobody else gets it"])
        }
        guard role.rank <= current.rank else { throw ServiceError.validation(["role": "you can only lower your own role"]) }
        guard let user = try await users.find(id: userID, on: db) else { throw ServiceError.userNotFound }
        let me = Self.summary(user)
        let event = ModerationEvent(roomId: roomID, user: me, by: me, role: role)
        guard role != current else { return (event, []) }
        if current == .owner { try await requireAnotherOwner(roomID: roomID, ownerID: userID, unlessAlone: false, on: db) }
        try await rooms.setRole(roomID: roomID, userID: userID, role: role, on: db)
        try await store.audit(roomID: roomID, actorID: userID, action: .role, targetID: userID, role: role, reason: nil, now: now, on: db)
        return (event, [.moderation(.role, event)])
    }

    /// Removes a member from the room (`DELETE /api/rooms/{id}/members/{userId}`); they may join
    /// again (a ban keeps them out). Moderators and up, on members below them.
    public func kick(actorID: Int64, roomID: Int64, targetID: Int64, reason rawReason: String?) async throws -> ModerationEvent {
        let reason = try Self.reason(rawReason)
        let now = self.now
        return try await perform { db in
            let acting = try await acting(actorID: actorID, roomID: roomID, targetID: targetID, minimum: .moderator, targetMustBeMember: true, on: db)
            if acting.targetRole == .owner { try await requireAnotherOwner(roomID: roomID, ownerID: targetID, unlessAlone: true, on: db) }
            // A concurrent kick or leave of the same member (PostgreSQL, READ COMMITTED) passed
            // the check above too; the DELETE decides: the one that removed nothing answers
            // `member_not_found`, as if it had come second, and neither audits nor announces anything.
            guard try await rooms.removeMember(roomID: roomID, userID: targetID, on: db) else {
                throw ServiceError(.memberNotFound, message: "That user is not a member of this room.")
            }
            try await store.audit(roomID: roomID, actorID: actorID, action: .kick, targetID: targetID, reason: reason, now: now, on: db)
            let event = ModerationEvent(roomId: roomID, user: acting.target, by: acting.actor, reason: reason)
            return (event, [.moderation(.kick, event), .memberChanged(RoomMemberEvent(roomId: roomID, change: .removed, user: acting.target, role: nil))])
        }
    }

    /// Mutes a member for `durationSeconds` (1...``RoomRules/maxMuteSeconds``), replacing an
    /// earlier mute (`POST /api/rooms/{id}/mutes`). Their sends are refused with `muted` until then.
    public func mute(actorID: Int64, roomID: Int64, targetID: Int64, durationSeconds: Int, reason rawReason: String?) async throws -> ModerationEvent {
        guard (1...RoomRules.maxMuteSeconds).contains(durationSeconds) else {
            throw ServiceError.validation(["durationSeconds": "must be 1 to \(RoomRules.maxMuteSeconds) seconds (28 days)"])
        }
        let reason = try Self.reason(rawReason)
        let now = self.now
        let expiresAt = now + Int64(durationSeconds) * 1000
        return try await perform { db in
            let acting = try await acting(actorID: actorID, roomID: roomID, targetID: targetID, minimum: .moderator, targetMustBeMember: true, on: db)
            try await store.mute(roomID: roomID, userID: targetID, by: actorID, reason: reason, now: now, expiresAt: expiresAt, on: db)
            try await store.audit(roomID: roomID, actorID: actorID, action: .mute, targetID: targetID, reason: reason, expiresAt: expiresAt, now: now, on: db)
            let event = ModerationEvent(roomId: roomID, user: acting.target, by: acting.actor, reason: reason,
                                        until: WireTime.string(millis: expiresAt), durationSeconds: durationSeconds)
            return (event, [.moderation(.mute, event)])
        }
    }

    /// Ends a mute before its time (`DELETE /api/rooms/{id}/mutes/{userId}`); `not_found` when
    /// the user is not muted.
    public func unmute(actorID: Int64, roomID: Int64, targetID: Int64) async throws -> ModerationEvent {
        let now = self.now
        return try await perform { db in
            let acting = try await acting(actorID: actorID, roomID: roomID, targetID: targetID, minimum: .moderator, targetMustBeMember: false, on: db)
            guard try await store.unmute(roomID: roomID, userID: targetID, now: now, on: db) else {
                throw ServiceError(.notFound, message: "That user is not muted in this room.")
            }
            try await store.audit(roomID: roomID, actorID: actorID, action: .unmute, targetID: targetID, reason: nil, now: now, on: db)
            let event = ModerationEvent(roomId: roomID, user: acting.target, by: acting.actor)
            return (event, [.moderation(.unmute, event)])
        }
    }

    /// Bans a user (`POST /api/rooms/{id}/bans`): a member is removed at once; nobody banned can
    /// join (by id, code or password) or be invited (`banned_from_room`). The user need not be a
    /// member. Banning someone banned already changes nothing (`created` false).
    public func ban(actorID: Int64, roomID: Int64, targetID: Int64, reason rawReason: String?) async throws -> (event: ModerationEvent, created: Bool) {
        let reason = try Self.reason(rawReason)
        let now = self.now
        return try await perform { db in
            let acting = try await acting(actorID: actorID, roomID: roomID, targetID: targetID, minimum: .moderator, targetMustBeMember: false, on: db)
            let event = ModerationEvent(roomId: roomID, user: acting.target, by: acting.actor, reason: reason)
            if acting.targetRole == .owner { try await requireAnotherOwner(roomID: roomID, ownerID: targetID, unlessAlone: true, on: db) }
            guard try await store.ban(roomID: roomID, userID: targetID, by: actorID, reason: reason, now: now, on: db) else {
                return ((event, false), [])
            }
            var deltas: [ChatDelta] = [.moderation(.ban, event)]
            // `removed` only when this ban took the membership away: a leave or kick of the
            // same member committing meanwhile (PostgreSQL) has announced their going already.
            if acting.targetRole != nil, try await rooms.removeMember(roomID: roomID, userID: targetID, on: db) {
                deltas.append(.memberChanged(RoomMemberEvent(roomId: roomID, change: .removed, user: acting.target, role: nil)))
            }
            try await store.audit(roomID: roomID, actorID: actorID, action: .ban, targetID: targetID, reason: reason, now: now, on: db)
            return ((event, true), deltas)
        }
    }

    /// Lifts a ban (`DELETE /api/rooms/{id}/bans/{userId}`); `not_found` when there is none.
    public func unban(actorID: Int64, roomID: Int64, targetID: Int64) async throws -> ModerationEvent {
        let now = self.now
        return try await perform { db in
            let acting = try await acting(actorID: actorID, roomID: roomID, targetID: targetID, minimum: .moderator, targetMustBeMember: false, on: db)
            guard try await store.unban(roomID: roomID, userID: targetID, on: db) else {
                throw ServiceError(.notFound, message: "That user is not banned from this room.")
            }
            try await store.audit(roomID: roomID, actorID: actorID, action: .unban, targetID: targetID, reason: nil, now: now, on: db)
            let event = ModerationEvent(roomId: roomID, user: acting.target, by: acting.actor)
            return (event, [.moderation(.unban, event)])
        }
    }

    // MARK: Lists

    public struct Mute: Codable, Sendable, Equatable {
        public var user: UserSummary
        public var by: UserSummary?
        public var reason: String?
        public var createdAt: String
        public var until: String
        /// Seconds left, rounded up.
        public var remainingSeconds: Int
    }

    public struct Ban: Codable, Sendable, Equatable {
        public var user: UserSummary
        public var by: UserSummary?
        public var reason: String?
        public var createdAt: String
    }

    /// The mutes in force, soonest to end first (moderators and up).
    public func mutes(actorID: Int64, roomID: Int64) async throws -> [Mute] {
        let now = self.now
        return try await database.read { db in
            _ = try await requireRole(actorID: actorID, roomID: roomID, minimum: .moderator, on: db)
            var result: [Mute] = []
            for row in try await store.activeMutes(roomID: roomID, now: now, on: db) {
                guard let user = try await users.find(id: row.userId, on: db) else { continue }
                let by = try await row.mutedBy.asyncFlatMap { try await users.find(id: $0, on: db) }
                result.append(Mute(user: Self.summary(user), by: by.map(Self.summary), reason: row.reason, createdAt: WireTime.string(millis: row.createdAt),
                                   until: WireTime.string(millis: row.expiresAt), remainingSeconds: Self.remainingSeconds(until: row.expiresAt, now: now)))
            }
            return result
        }
    }

    /// The bans, newest first (moderators and up).
    public func bans(actorID: Int64, roomID: Int64) async throws -> [Ban] {
        try await database.read { db in
            _ = try await requireRole(actorID: actorID, roomID: roomID, minimum: .moderator, on: db)
            var result: [Ban] = []
            for row in try await store.bans(roomID: roomID, on: db) {
                guard let user = try await users.find(id: row.userId, on: db) else { continue }
                let by = try await row.bannedBy.asyncFlatMap { try await users.find(id: $0, on: db) }
                result.append(Ban(user: Self.summary(user), by: by.map(Self.summary), reason: row.reason, createdAt: WireTime.string(millis: row.createdAt)))
            }
            return result
        }
    }

    /// The largest audit-log page (`limit`).
    public static let maxAuditPage = 100

    /// A page of the room's audit log, newest first (moderators and up): entries with ids below
    /// `before`; `nextBefore` is the last id of a full page, to pass as `before` for the next.
    public func auditLog(actorID: Int64, roomID: Int64, before: Int64?, limit: Int) async throws -> (entries: [AuditEntry], nextBefore: Int64?) {
        let limit = min(max(limit, 1), Self.maxAuditPage)
        let rows = try await database.read { db in
            _ = try await requireRole(actorID: actorID, roomID: roomID, minimum: .moderator, on: db)
            return try await store.auditLog(roomID: roomID, before: before, limit: limit + 1, on: db)
        }
        let page = rows.prefix(limit).map(\.wire)
        return (Array(page), rows.count > limit ? page.last?.id : nil)
    }

    /// Seconds from `now` to `until` (ms), rounded up, at least 1.
    static func remainingSeconds(until: Int64, now: Int64) -> Int {
        max(1, Int((until - now + 999) / 1000))
    }
}
