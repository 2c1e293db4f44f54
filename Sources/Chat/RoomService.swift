import Accounts
import Foundation
import Logging
import Models
import SQLKit

/// Rooms and memberships: creating, listing, discovering, joining (public, by code, by
/// invite), direct rooms, leaving, renaming, deleting, member lists; the logic behind
/// `/api/rooms` and `/api/direct`, and the room ids a socket joins.
///
/// Errors are ``ServiceError``s with catalogued codes (`room_not_found`, `not_a_member`,
/// `invite_only`, `invalid_join_code`, `not_room_admin`, `not_room_owner`, `direct_room`,
/// `room_name_taken`, `user_not_found`, `email_unverified`, `validation_failed`,
/// `too_many_attempts`). Every change appends its deltas to the ``ChatEventLog`` in its own
/// transaction (the last statement) and waits, after COMMIT, until this node delivered them.
public struct RoomService: Sendable {
    let database: any Database
    let hasher: PasswordHasher
    let clock: AccountsClock
    let verification: EmailVerificationGate
    let events: (any ChatEventSink)?
    let log: (any ChatEventLog)?
    let logger: Logger
    let rooms = RoomStore()
    let users = UserStore()
    let throttle = ThrottleStore()

    public init(database: any Database, hasher: PasswordHasher, clock: AccountsClock = .system, verification: EmailVerificationGate,
                events: (any ChatEventSink)?, log: (any ChatEventLog)? = nil, logger: Logger) {
        self.database = database
        self.hasher = hasher
        self.clock = clock
        self.verification = verification
        self.events = events
        self.log = log
        self.logger = logger
    }

    var now: Int64 { clock.now().millis }

    // MARK: Creating and listing

    public struct NewRoom: Sendable {
        public var name: String?
        public var kind: RoomKind
        public var topic: String?
        public var password: String?
        /// Whether guests may join (public rooms only; ``GuestRules``).
        public var allowGuests: Bool?
        public init(name: String?, kind: RoomKind, topic: String?, password: String?, allowGuests: Bool? = nil) {
            self.name = name
            self.kind = kind
            self.topic = topic
            self.password = password
            self.allowGuests = allowGuests
        }
    }

    /// Creates a public or private room with the caller as its owner. A private room gets a
    /// fresh join code and, if given, a password (scrypt-hashed, at most 128 scalars).
    public func create(userID: Int64, _ input: NewRoom) async throws -> RoomView {
        try GuestRules.requireAccount(try await database.read { db in try await users.find(id: userID, on: db) }, action: "create rooms")
        try await verification.requireVerified(userID: userID)
        var validator = FieldValidator()
        guard input.kind != .direct else {
            throw ServiceError.validation(["kind": "must be public or private (use POST /api/direct for direct messages)"])
        }
        let name = validator.check("name", RoomRules.name(input.name ?? ""))
        let topic = input.topic.flatMap { validator.check("topic", RoomRules.topic($0)) }
        if input.kind == .public, input.password?.isEmpty == false {
            validator.check("password", Result<String, FieldProblem>.failure("only private rooms can have a password"))
        }
        let password = input.password.flatMap { $0.isEmpty ? nil : $0 }
        if let password { _ = validator.check("password", AccountValidation.length(password) <= 128 ? .success(password) : .failure("must be at most 128 characters")) }
        _ = validator.check("allowGuests", GuestRules.check(allowGuests: input.allowGuests, kind: input.kind))
        try validator.throwIfInvalid()
        let passwordHash = try await password.asyncFlatMap { try await hasher.hash($0) }
        let now = self.now
        for _ in 0..<5 {
            let code = input.kind == .private ? RoomRules.makeJoinCode() : nil
            let (outcome, position) = try await database.write { db -> (RoomStore.CreateOutcome, UInt64?) in
                let outcome = try await rooms.create(kind: input.kind, name: name, topic: topic, passwordHash: passwordHash, joinCode: code,
                                                     directKey: nil, createdBy: userID, now: now, on: db)
                guard case .created(let room) = outcome else { return (outcome, nil) }
                if input.allowGuests == true { try await rooms.setAllowGuests(roomID: room.id, true, on: db) }
                try await rooms.addMember(roomID: room.id, userID: userID, role: .owner, now: now, on: db)
                guard let user = try await summary(userID, on: db) else { return (outcome, nil) }
                return (outcome, try await append([.memberChanged(RoomMemberEvent(roomId: room.id, change: .joined, user: user, role: .owner))], on: db))
            }
            switch outcome {
            case .nameTaken:
                throw ServiceError.roomNameTaken
            case .codeCollision, .directExists:  // (only direct rooms have a direct key)
                continue
            case .created(let room):
                logger.info("room created", metadata: ["room.id": "\(room.id)", "room.kind": "\(room.kind)"])
                await log?.committed(through: position)
                return try await roomView(userID: userID, roomID: room.id)
            }
        }
        throw ServiceError.internalError
    }

    /// My rooms, most recently active first.
    public func list(userID: Int64) async throws -> [RoomView] {
        let (rows, peers) = try await database.read { db in
            (try await rooms.listForUser(userID, on: db), try await rooms.directPeers(userID: userID, on: db))
        }
        return rows.map { RoomView($0, peer: peers[$0.id]) }
    }

    /// One room of my list (after create/join/rename), without listing the others.
    func roomView(userID: Int64, roomID: Int64) async throws -> RoomView {
        let (rows, peers) = try await database.read { db in
            (try await rooms.listForUser(userID, onlyRoom: roomID, on: db), try await rooms.directPeers(userID: userID, on: db))
        }
        guard let row = rows.first else { throw ServiceError.roomNotFound }
        return RoomView(row, peer: peers[row.id])
    }

    public struct DiscoveredRoom: Codable, Sendable {
        public var id: Int64
        public var name: String
        public var topic: String?
        public var memberCount: Int
        /// Whether guests may join.
        public var allowGuests: Bool
    }

    /// Public rooms whose name contains `query` (its first 64 characters), by name; `limit` is
    /// clamped to 1...50 and `nextCursor` is the last name of a full page.
    /// A guest (`userID`) sees only the rooms that allow guests.
    public func discover(query: String, cursor: String?, limit: Int, userID: Int64? = nil) async throws -> (rooms: [DiscoveredRoom], nextCursor: String?) {
        let limit = min(max(limit, 1), 50)
        let (found, allowing) = try await database.read { db in
            let guest = try await userID.asyncFlatMap { try await users.find(id: $0, on: db) }?.isGuest ?? false
            let found = try await rooms.searchPublic(query: String(query.prefix(64)), after: cursor, limit: limit + 1, onlyAllowingGuests: guest, on: db)
            return (found, try await rooms.roomsAllowingGuests(found.map(\.0.id), on: db))
        }
        let page = found.prefix(limit).map {
            DiscoveredRoom(id: $0.0.id, name: $0.0.name ?? "", topic: $0.0.topic, memberCount: Int($0.1), allowGuests: allowing.contains($0.0.id))
        }
        return (page, found.count > limit ? page.last?.name : nil)
    }

    // MARK: Joining

    /// Joins a public room (`invite_only` for the others).
    public func join(userID: Int64, roomID: Int64) async throws -> RoomView {
        guard let room = try await database.read({ db in try await rooms.find(id: roomID, on: db) }) else { throw ServiceError.roomNotFound }
        guard room.roomKind == .public else {
            throw ServiceError(.inviteOnly, message: "This room is invite-only; join it with its code or an invite.")
        }
        let (user, allowsGuests) = try await database.read { db in
            (try await users.find(id: userID, on: db), try await rooms.allowsGuests(roomID: roomID, on: db))
        }
        if user?.isGuest == true {
            guard allowsGuests else { throw GuestRules.refuse("This room does not allow guests.") }
            try await addMember(room: room, userID: userID, role: .guest)
            return try await roomView(userID: userID, roomID: roomID)
        }
        try await addMember(room: room, userID: userID, role: .member)
        return try await roomView(userID: userID, roomID: roomID)
    }

    /// Joins the room of a join code (any letter case, spaces and dashes ignored) and, if it has
    /// one, its password. Wrong answers are throttled per user (``RoomRules/joinCodeRule``).
    public func joinByCode(userID: Int64, code rawCode: String, password: String?) async throws -> RoomView {
        try GuestRules.requireAccount(try await database.read { db in try await users.find(id: userID, on: db) }, action: "join rooms by code")
        let code = RoomRules.normalizedJoinCode(rawCode)
        let key = "joincode:user:\(userID)"
        let now = self.now
        if let wait = try await database.read({ db in try await throttle.blockedFor(key: key, rule: RoomRules.joinCodeRule, now: now, on: db) }) {
            throw ServiceError.tooManyRequests(retryAfter: wait)
        }
        let room = try await database.read { db in try await rooms.find(joinCode: code, on: db) }
        var ok = room != nil
        if let room, let hash = room.passwordHash {
            ok = try await hasher.verify(password ?? "", against: hash).matches
        }
        guard ok, let room else {
            _ = try await database.write { db in try await throttle.hit(key: key, rule: RoomRules.joinCodeRule, now: now, on: db) }
            throw ServiceError(.invalidJoinCode, message: "The code or the room password is wrong.")
        }
        try await addMember(room: room, userID: userID, role: .member)
        return try await roomView(userID: userID, roomID: room.id)
    }

    /// Adds a member unless banned from the room (`banned_from_room`, checked in the same
    /// transaction as the insert, so a concurrent ban cannot be slipped past).
    func addMember(room: RoomRecord, userID: Int64, role: RoomRole) async throws {
        let now = self.now
        let position = try await database.write { db -> UInt64? in
            if try await ModerationStore().isBanned(roomID: room.id, userID: userID, on: db) {
                throw ServiceError(.bannedFromRoom, message: "That account is banned from this room.")
            }
            guard try await rooms.addMember(roomID: room.id, userID: userID, role: role, now: now, on: db),
                  let user = try await summary(userID, on: db) else { return nil }
            return try await append([.memberChanged(RoomMemberEvent(roomId: room.id, change: .joined, user: user, role: role))], on: db)
        }
        await log?.committed(through: position)
    }

    /// Leaves a room; the last member out deletes it. The last owner cannot leave while other
    /// accounts remain (409 `last_owner`): they make someone else owner first (as Discord and
    /// Slack require; the room used to pass silently to the longest-standing member). Guests
    /// cannot be made owners, so when only guests remain the last owner's leaving closes the
    /// room: it is deleted as ``delete(userID:roomID:)`` does (`room:deleted` to every member,
    /// the guests included), as Discord offers an owner who cannot hand over only deleting the
    /// server, here without a dead end.
    public func leave(userID: Int64, roomID: Int64) async throws {
        let position = try await database.write { db -> UInt64? in
            guard let membership = try await rooms.membership(roomID: roomID, userID: userID, on: db) else { throw ServiceError.notAMember }
            // The membership row's DELETE comes first, before any rule is checked (a refusal
            // rolls it back): two leaves of one user at once (two tabs) both passed the read
            // above on PostgreSQL (READ COMMITTED), and meet here. The second waits for the
            // first's COMMIT and removes nothing: it is `not_a_member` and logs nothing (no
            // second `member:left` or `room:deleted`). Each read below then starts after that
            // COMMIT, so it never mixes the room as it was with the room as it is now.
            guard try await rooms.removeMember(roomID: roomID, userID: userID, on: db) else { throw ServiceError.notAMember }
            let ownersLeft = try await rooms.ownerIDs(roomID: roomID, on: db)
            let lastOwner = membership.roomRole == .owner && ownersLeft.isEmpty
            if lastOwner, !(try await rooms.accountMemberIDs(roomID: roomID, on: db)).isEmpty {
                throw ServiceError(.lastOwner, message: "You are the room's last owner: make another member owner before you leave.")
            }
            let remaining = try await rooms.memberIDs(roomID: roomID, on: db)
            if lastOwner, !remaining.isEmpty {
                // Only guests remain: nobody can own the room after me, so it closes.
                try await rooms.delete(id: roomID, on: db)
                logger.info("room closed: its last owner left, only guests remained", metadata: ["room.id": "\(roomID)"])
                return try await append([.roomDeleted(RoomDeletedEvent(roomId: roomID), memberIDs: remaining + [userID])], on: db)
            }
            if remaining.isEmpty {
                try await rooms.delete(id: roomID, on: db)
                return try await append([.roomDeleted(RoomDeletedEvent(roomId: roomID), memberIDs: [userID])], on: db)
            }
            var deltas: [ChatDelta] = []
            if let user = try await summary(userID, on: db) {
                deltas.append(.memberChanged(RoomMemberEvent(roomId: roomID, change: .left, user: user, role: nil)))
            }
            return try await append(deltas, on: db)
        }
        await log?.committed(through: position)
    }

    /// A user named by id or by username (any letter case).
    public enum UserRef: Sendable {
        case id(Int64)
        case username(String)
    }

    func resolve(_ ref: UserRef, on db: any SQLDatabase) async throws -> UserRecord? {
        switch ref {
        case .id(let id): try await users.find(id: id, on: db)
        case .username(let name): try await users.findByUsername(name.lowercased(), on: db)
        }
    }

    /// Adds someone to a room. Private rooms: owners and admins only; public: any member.
    public func invite(actorID: Int64, roomID: Int64, target: UserRef) async throws -> UserSummary {
        let (room, membership, invitee) = try await database.read { db in
            (try await rooms.find(id: roomID, on: db), try await rooms.membership(roomID: roomID, userID: actorID, on: db), try await resolve(target, on: db))
        }
        guard let room else { throw ServiceError.roomNotFound }
        guard let membership else { throw ServiceError.notAMember }
        guard room.roomKind != .direct else { throw ServiceError(.directRoom, message: "Direct conversations have exactly two people.") }
        if room.roomKind == .private && !RoomRules.mayManageRoom(membership.roomRole) {
            throw ServiceError(.notRoomAdmin, message: "Only the room's owner and admins can invite to a private room.")
        }
        try GuestRules.requireAccount(try await database.read { db in try await users.find(id: actorID, on: db) }, action: "invite")
        guard let invitee, invitee.disabledAt == nil else { throw ServiceError.userNotFound }
        guard !invitee.isGuest else { throw GuestRules.refuse("Guests join public rooms that allow guests themselves; they cannot be invited.") }
        try await addMember(room: room, userID: invitee.id, role: .member)
        return UserSummary(id: invitee.id, username: invitee.username, displayName: invitee.displayName)
    }

    /// The direct conversation between two users (one per pair, keyed `min:max` user id),
    /// created on first use; both are members.
    public func direct(userID: Int64, with target: UserRef) async throws -> RoomView {
        try GuestRules.requireAccount(try await database.read { db in try await users.find(id: userID, on: db) }, action: "message people directly")
        try await verification.requireVerified(userID: userID)
        guard let peer = try await database.read({ db in try await resolve(target, on: db) }), peer.disabledAt == nil else {
            throw ServiceError.userNotFound
        }
        guard !peer.isGuest else { throw GuestRules.refuse("Guests cannot be messaged directly.") }
        guard peer.id != userID else { throw ServiceError.validation(["userId": "cannot start a conversation with yourself"]) }
        let key = "\(min(userID, peer.id)):\(max(userID, peer.id))"
        let now = self.now
        let (room, position) = try await database.write { db -> (RoomRecord, UInt64?) in
            var room = try await rooms.find(directKey: key, on: db)
            if room == nil, case .created(let created) = try await rooms.create(
                kind: .direct, name: nil, topic: nil, passwordHash: nil, joinCode: nil, directKey: key, createdBy: userID, now: now, on: db) {
                room = created
            }
            // a concurrent request of either peer created the conversation first
            if room == nil { room = try await rooms.find(directKey: key, on: db) }
            guard let room else { throw ServiceError.internalError }
            var deltas: [ChatDelta] = []
            for id in [userID, peer.id] where try await rooms.addMember(roomID: room.id, userID: id, role: .member, now: now, on: db) {
                if let user = try await summary(id, on: db) {
                    deltas.append(.memberChanged(RoomMemberEvent(roomId: room.id, change: .joined, user: user, role: .member)))
                }
            }
            return (room, try await append(deltas, on: db))
        }
        await log?.committed(through: position)
        return try await roomView(userID: userID, roomID: room.id)
    }

    // MARK: Members

    public struct Member: Codable, Sendable {
        public var user: UserSummary
        public var role: RoomRole
        public var online: Bool
        public var lastSeenAt: String?
        public var joinedAt: String
    }

    /// A room's members by role (owners, admins, moderators, members, guests), then by username; `online` from `presence`.
    /// Readable as the room's history (``GuestRules/requireReadable(_:userID:on:)``): a public
    /// room's by anyone but a guest where guests are not allowed (`guest_not_allowed`); other
    /// rooms', members only (`not_a_member`).
    public func members(userID: Int64, roomID: Int64, presence: (any PresenceDirectory)?) async throws -> [Member] {
        let rows = try await database.read { db in
            guard let room = try await rooms.find(id: roomID, on: db) else { throw ServiceError.roomNotFound }
            try await GuestRules.requireReadable(room, userID: userID, on: db)
            return try await rooms.members(roomID: roomID, on: db)
        }
        var result: [Member] = []
        for row in rows {
            let online = await presence?.isOnline(userID: row.userId) ?? false
            result.append(Member(
                user: UserSummary(id: row.userId, username: row.username, displayName: row.displayName, guest: row.guestExpiresAt != nil),
                role: RoomRole(rawValue: row.role) ?? .member, online: online,
                lastSeenAt: row.lastSeenAt.map { WireTime.string(millis: $0) }, joinedAt: WireTime.string(millis: row.joinedAt)
            ))
        }
        return result
    }

    /// The room ids a user belongs to (a socket joins them at connect).
    public func roomIDs(userID: Int64) async throws -> [Int64] {
        try await database.read { db in try await rooms.roomIDs(userID: userID, on: db) }
    }

    /// The rooms `userID` is the last owner of while other accounts remain, by id: they must
    /// hand the room over before leaving it (``leave(userID:roomID:)`` refuses with
    /// `last_owner`), so also before deleting their account. A room where only guests remain
    /// is not listed: leaving closes it. Values are the rooms' names.
    public func roomsAwaitingHandOver(userID: Int64) async throws -> [Int64: String] {
        try await database.read { db in
            var found: [Int64: String] = [:]
            for roomID in try await rooms.roomIDs(userID: userID, on: db) {
                guard try await rooms.ownerIDs(roomID: roomID, on: db) == [userID],
                      try await rooms.accountMemberIDs(roomID: roomID, on: db) != [userID],
                      let room = try await rooms.find(id: roomID, on: db) else { continue }
                found[roomID] = room.name ?? "#\(roomID)"
            }
            return found
        }
    }

    public func isMember(userID: Int64, roomID: Int64) async throws -> Bool {
        try await database.read { db in try await rooms.membership(roomID: roomID, userID: userID, on: db) != nil }
    }

    /// Users who share at least one room with `userID`.
    public func contacts(of userID: Int64) async throws -> [Int64] {
        try await database.read { db in try await rooms.contacts(of: userID, on: db) }
    }

    /// Announces that the user came online, or went offline, in every room they are in: one
    /// `presence` delta appended to the log; going offline stores "last seen now" (a member's
    /// `lastSeenAt`) in the same transaction.
    public func presenceChanged(userID: Int64, online: Bool) async throws {
        let now = self.now
        let position = try await database.write { db -> UInt64? in
            if !online { try await users.recordLastSeen(id: userID, at: now, on: db) }
            let roomIDs = try await rooms.roomIDs(userID: userID, on: db)
            guard !roomIDs.isEmpty else { return nil }
            let guest = try await users.find(id: userID, on: db)?.isGuest ?? false
            let event = PresenceEvent(userId: userID, online: online, lastSeenAt: online ? nil : WireTime.string(millis: now), guest: guest)
            return try await append([.presence(event, roomIDs: roomIDs)], on: db)
        }
        await log?.committed(through: position)
    }

    /// Stores "last seen now" for a user whose last connection ended (shown as a member's
    /// `lastSeenAt`); returns that time, ms since the epoch.
    public func recordLastSeen(userID: Int64) async throws -> Int64 {
        let now = self.now
        try await database.write { db in try await users.recordLastSeen(id: userID, at: now, on: db) }
        return now
    }

    // MARK: Changing and deleting

    /// Renames a room or changes its topic (owners and admins; not direct rooms).
    /// `allowGuests` (nil: unchanged) applies to public rooms only (`validation_failed` otherwise).
    public func update(userID: Int64, roomID: Int64, name rawName: String?, topic rawTopic: String?, allowGuests: Bool? = nil) async throws -> RoomView {
        var validator = FieldValidator()
        let name = rawName.flatMap { validator.check("name", RoomRules.name($0)) }
        let topic = rawTopic.flatMap { validator.check("topic", RoomRules.topic($0)) }
        try validator.throwIfInvalid()
        let now = self.now
        let position = try await database.write { db -> UInt64? in
            guard let room = try await rooms.find(id: roomID, on: db) else { throw ServiceError.roomNotFound }
            guard let membership = try await rooms.membership(roomID: roomID, userID: userID, on: db) else { throw ServiceError.notAMember }
            guard room.roomKind != .direct else { throw ServiceError(.directRoom, message: "Direct conversations have no name or topic.") }
            guard RoomRules.mayManageRoom(membership.roomRole) else { throw ServiceError(.notRoomAdmin, message: "Only the room's owner and admins can change it.") }
            if let name, room.roomKind == .public, name.lowercased() != room.name?.lowercased(), try await rooms.publicNameTaken(name, on: db) {
                throw ServiceError.roomNameTaken
            }
            if let allowGuests {
                if allowGuests, room.roomKind != .public { throw ServiceError.validation(["allowGuests": "only public rooms can allow guests"]) }
                try await rooms.setAllowGuests(roomID: roomID, allowGuests, on: db)
            }
            try await rooms.update(id: roomID, name: name, topic: topic, now: now, on: db)
            guard let updated = try await rooms.find(id: roomID, on: db) else { throw ServiceError.roomNotFound }
            let guests: Bool? = updated.roomKind == .public ? try await rooms.allowsGuests(roomID: roomID, on: db) : nil
            return try await append([.roomUpdated(RoomUpdatedEvent(roomId: roomID, name: updated.name ?? "", topic: updated.topic, allowGuests: guests))], on: db)
        }
        await log?.committed(through: position)
        return try await roomView(userID: userID, roomID: roomID)
    }

    /// Deletes a room with its messages and memberships (the owner only).
    public func delete(userID: Int64, roomID: Int64) async throws {
        let position = try await database.write { db -> UInt64? in
            guard try await rooms.find(id: roomID, on: db) != nil else { throw ServiceError.roomNotFound }
            guard let membership = try await rooms.membership(roomID: roomID, userID: userID, on: db) else { throw ServiceError.notAMember }
            guard membership.roomRole == .owner else { throw ServiceError(.notRoomOwner, message: "Only the room's owner can delete it.") }
            let ids = try await rooms.memberIDs(roomID: roomID, on: db)
            try await rooms.delete(id: roomID, on: db)
            return try await append([.roomDeleted(RoomDeletedEvent(roomId: roomID), memberIDs: ids)], on: db)
        }
        logger.info("room deleted", metadata: ["room.id": "\(roomID)"])
        await log?.committed(through: position)
    }

    // MARK: Helpers

    /// Appends `deltas` to the log in the caller's transaction (its last statement).
    func append(_ deltas: [ChatDelta], on db: any SQLDatabase) async throws -> UInt64? {
        guard let log, !deltas.isEmpty else { return nil }
        return try await log.append(deltas, on: db)
    }

    func summary(_ id: Int64, on db: any SQLDatabase) async throws -> UserSummary? {
        try await users.find(id: id, on: db).map { UserSummary(id: $0.id, username: $0.username, displayName: $0.displayName, guest: $0.isGuest) }
    }
}
