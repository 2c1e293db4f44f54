import Accounts
import Foundation
import Logging
import Models
import SQLKit

/// A room as the member sees it in their list.
public struct RoomView: Codable, Sendable, Equatable {
    public struct LastMessage: Codable, Sendable, Equatable {
        public var id: Int64
        public var authorId: Int64
        public var body: String
        public var createdAt: String
    }
    public var id: Int64
    public var kind: RoomKind
    public var name: String
    public var topic: String?
    public var role: RoomRole?
    public var joinCode: String?
    public var hasPassword: Bool
    public var unreadCount: Int
    public var lastReadMessageId: Int64
    public var lastReadAt: String?
    public var lastMessage: LastMessage?
    public var memberCount: Int
    public var peer: UserSummary?
    public var createdAt: String
}

/// Rooms, memberships, messages and read cursors: the logic behind `/api/rooms`,
/// `/api/direct` and the realtime `message:send` / `room:read`.
public struct ChatService: Sendable {
    let database: any Database
    let hasher: PasswordHasher
    let clock: AccountsClock
    let verification: EmailVerificationGate
    let events: (any ChatEventSink)?
    let logger: Logger
    let rooms = RoomStore()
    let messages = MessageStore()
    let users = UserStore()
    let throttle = ThrottleStore()

    public static let maxBodyLength = 4000
    public static let maxPageSize = 100
    static let joinCodeAlphabet = Array("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    static let joinCodeRule = ThrottleRule(limit: 10, ratePerSecond: 1.0 / 30)

    public init(database: any Database, hasher: PasswordHasher, clock: AccountsClock = .system, verification: EmailVerificationGate,
                events: (any ChatEventSink)?, logger: Logger) {
        self.database = database
        self.hasher = hasher
        self.clock = clock
        self.verification = verification
        self.events = events
        self.logger = logger
    }

    var now: Int64 { clock.now().millis }

    // MARK: Errors

    public static let notAMember = ServiceError(.notAMember, message: "You are not a member of this room.")
    static let roomNotFound = ServiceError(.roomNotFound, message: "No such room.")

    // MARK: Rooms

    public struct NewRoom: Sendable {
        public var name: String?
        public var kind: RoomKind
        public var topic: String?
        public var password: String?
        public init(name: String?, kind: RoomKind, topic: String?, password: String?) {
            self.name = name
            self.kind = kind
            self.topic = topic
            self.password = password
        }
    }

    public func createRoom(userID: Int64, _ input: NewRoom) async throws -> RoomView {
        try await verification.requireVerified(userID: userID)
        var validator = FieldValidator()
        guard input.kind != .direct else {
            throw ServiceError.validation(["kind": "must be public or private (use POST /api/direct for direct messages)"])
        }
        let name = validator.check("name", Self.validateRoomName(input.name ?? ""))
        let topic = input.topic.flatMap { validator.check("topic", Self.validateTopic($0)) }
        if input.kind == .public, input.password?.isEmpty == false {
            validator.check("password", Result<String, FieldProblem>.failure("only private rooms can have a password"))
        }
        let password = input.password.flatMap { $0.isEmpty ? nil : $0 }
        if let password { _ = validator.check("password", AccountValidation.length(password) <= 128 ? .success(password) : .failure("must be at most 128 characters")) }
        try validator.throwIfInvalid()
        let passwordHash = try await password.asyncFlatMap { try await hasher.hash($0) }
        let now = self.now
        for _ in 0..<5 {
            let code = input.kind == .private ? Self.makeJoinCode() : nil
            let outcome = try await database.write { db -> RoomStore.CreateOutcome in
                let outcome = try await rooms.create(kind: input.kind, name: name, topic: topic, passwordHash: passwordHash, joinCode: code,
                                                     directKey: nil, createdBy: userID, now: now, on: db)
                if case .created(let room) = outcome {
                    try await rooms.addMember(roomID: room.id, userID: userID, role: .owner, now: now, on: db)
                }
                return outcome
            }
            switch outcome {
            case .nameTaken:
                throw ServiceError(.roomNameTaken, message: "A public room with that name exists.", fields: ["name": "is taken"])
            case .codeCollision, .directExists:  // (only direct rooms have a direct key)
                continue
            case .created(let room):
                logger.info("room created", metadata: ["room.id": "\(room.id)", "room.kind": "\(room.kind)"])
                if let user = try await user(userID) {
                    await events?.memberChanged(RoomMemberEvent(roomId: room.id, change: .joined, user: user, role: .owner))
                }
                return try await roomView(userID: userID, roomID: room.id)
            }
        }
        throw ServiceError.internalError
    }

    public func listRooms(userID: Int64) async throws -> [RoomView] {
        let (rows, peers) = try await database.read { db in
            (try await rooms.listForUser(userID, on: db), try await directPeers(userID: userID, on: db))
        }
        return rows.map { view($0, peer: peers[$0.id]) }
    }

    /// One room of my list (after create/join/rename), without listing the others.
    func roomView(userID: Int64, roomID: Int64) async throws -> RoomView {
        let (rows, peers) = try await database.read { db in
            (try await rooms.listForUser(userID, onlyRoom: roomID, on: db), try await directPeers(userID: userID, on: db))
        }
        guard let row = rows.first else { throw Self.roomNotFound }
        return view(row, peer: peers[row.id])
    }

    public struct DiscoveredRoom: Codable, Sendable {
        public var id: Int64
        public var name: String
        public var topic: String?
        public var memberCount: Int
    }

    public func discover(query: String, cursor: String?, limit: Int) async throws -> (rooms: [DiscoveredRoom], nextCursor: String?) {
        let limit = min(max(limit, 1), 50)
        let found = try await database.read { db in
            try await rooms.searchPublic(query: String(query.prefix(64)), after: cursor, limit: limit + 1, on: db)
        }
        let page = found.prefix(limit).map { DiscoveredRoom(id: $0.0.id, name: $0.0.name ?? "", topic: $0.0.topic, memberCount: Int($0.1)) }
        return (page, found.count > limit ? page.last?.name : nil)
    }

    public func join(userID: Int64, roomID: Int64) async throws -> RoomView {
        guard let room = try await database.read({ db in try await rooms.find(id: roomID, on: db) }) else { throw Self.roomNotFound }
        guard room.roomKind == .public else {
            throw ServiceError(.inviteOnly, message: "This room is invite-only; join it with its code or an invite.")
        }
        try await addMember(room: room, userID: userID, role: .member)
        return try await roomView(userID: userID, roomID: roomID)
    }

    public func joinByCode(userID: Int64, code rawCode: String, password: String?) async throws -> RoomView {
        let code = rawCode.uppercased().filter { !$0.isWhitespace && $0 != "-" }
        let key = "joincode:user:\(userID)"
        let now = self.now
        if let wait = try await database.read({ db in try await throttle.blockedFor(key: key, rule: Self.joinCodeRule, now: now, on: db) }) {
            throw ServiceError.tooManyRequests(retryAfter: wait)
        }
        let room = try await database.read { db in try await rooms.find(joinCode: code, on: db) }
        var ok = room != nil
        if let room, let hash = room.passwordHash {
            ok = try await hasher.verify(password ?? "", against: hash).matches
        }
        guard ok, let room else {
            _ = try await database.write { db in try await throttle.hit(key: key, rule: Self.joinCodeRule, now: now, on: db) }
            throw ServiceError(.invalidJoinCode, message: "The code or the room password is wrong.")
        }
        try await addMember(room: room, userID: userID, role: .member)
        return try await roomView(userID: userID, roomID: room.id)
    }

    func addMember(room: RoomRecord, userID: Int64, role: RoomRole) async throws {
        let now = self.now
        let added = try await database.write { db in try await rooms.addMember(roomID: room.id, userID: userID, role: role, now: now, on: db) }
        if added, let user = try await user(userID) {
            await events?.memberChanged(RoomMemberEvent(roomId: room.id, change: .joined, user: user, role: role))
        }
    }

    /// Leaves a room. An owner who leaves hands the room to the longest-standing member;
    /// the last member out deletes it.
    public func leave(userID: Int64, roomID: Int64) async throws {
        enum Outcome: Sendable { case left(newOwner: Int64?), deleted }
        let outcome: Outcome = try await database.write { db in
            guard let membership = try await rooms.membership(roomID: roomID, userID: userID, on: db) else { throw Self.notAMember }
            try await rooms.removeMember(roomID: roomID, userID: userID, on: db)
            let remaining = try await rooms.memberIDs(roomID: roomID, on: db)
            if remaining.isEmpty {
                try await rooms.delete(id: roomID, on: db)
                return .deleted
            }
            if membership.roomRole == .owner {
                try await rooms.setRole(roomID: roomID, userID: remaining[0], role: .owner, on: db)
                return .left(newOwner: remaining[0])
            }
            return .left(newOwner: nil)
        }
        guard let user = try await user(userID) else { return }
        switch outcome {
        case .deleted:
            await events?.roomDeleted(RoomDeletedEvent(roomId: roomID), memberIDs: [userID])
        case .left(let newOwner):
            await events?.memberChanged(RoomMemberEvent(roomId: roomID, change: .left, user: user, role: nil))
            if let newOwner, let owner = try await self.user(newOwner) {
                await events?.memberChanged(RoomMemberEvent(roomId: roomID, change: .joined, user: owner, role: .owner))
            }
        }
    }

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
        guard let room else { throw Self.roomNotFound }
        guard let membership else { throw Self.notAMember }
        guard room.roomKind != .direct else { throw ServiceError(.directRoom, message: "Direct conversations have exactly two people.") }
        if room.roomKind == .private && membership.roomRole == .member {
            throw ServiceError(.notRoomAdmin, message: "Only the room's owner and admins can invite to a private room.")
        }
        guard let invitee, invitee.disabledAt == nil else { throw ServiceError(.userNotFound, message: "No such user.") }
        try await addMember(room: room, userID: invitee.id, role: .member)
        return UserSummary(id: invitee.id, username: invitee.username, displayName: invitee.displayName)
    }

    /// The direct conversation between two users, created on first use.
    public func direct(userID: Int64, with target: UserRef) async throws -> RoomView {
        try await verification.requireVerified(userID: userID)
        guard let peer = try await database.read({ db in try await resolve(target, on: db) }), peer.disabledAt == nil else {
            throw ServiceError(.userNotFound, message: "No such user.")
        }
        guard peer.id != userID else { throw ServiceError.validation(["userId": "cannot start a conversation with yourself"]) }
        let key = "\(min(userID, peer.id)):\(max(userID, peer.id))"
        let now = self.now
        let (room, addedMe, addedPeer) = try await database.write { db -> (RoomRecord, Bool, Bool) in
            var room = try await rooms.find(directKey: key, on: db)
            if room == nil, case .created(let created) = try await rooms.create(
                kind: .direct, name: nil, topic: nil, passwordHash: nil, joinCode: nil, directKey: key, createdBy: userID, now: now, on: db) {
                room = created
            }
            // a concurrent request of either peer created the conversation first
            if room == nil { room = try await rooms.find(directKey: key, on: db) }
            guard let room else { throw ServiceError.internalError }
            let me = try await rooms.addMember(roomID: room.id, userID: userID, role: .member, now: now, on: db)
            let other = try await rooms.addMember(roomID: room.id, userID: peer.id, role: .member, now: now, on: db)
            return (room, me, other)
        }
        for (added, id) in [(addedMe, userID), (addedPeer, peer.id)] where added {
            if let user = try await user(id) {
                await events?.memberChanged(RoomMemberEvent(roomId: room.id, change: .joined, user: user, role: .member))
            }
        }
        return try await roomView(userID: userID, roomID: room.id)
    }

    public struct Member: Codable, Sendable {
        public var user: UserSummary
        public var role: RoomRole
        public var online: Bool
        public var lastSeenAt: String?
        public var joinedAt: String
    }

    public func members(userID: Int64, roomID: Int64, presence: (any PresenceDirectory)?) async throws -> [Member] {
        let (room, membership, rows) = try await database.read { db in
            (try await rooms.find(id: roomID, on: db), try await rooms.membership(roomID: roomID, userID: userID, on: db), try await rooms.members(roomID: roomID, on: db))
        }
        guard let room else { throw Self.roomNotFound }
        if room.roomKind != .public && membership == nil { throw Self.notAMember }
        var result: [Member] = []
        for row in rows {
            let online = await presence?.isOnline(userID: row.userId) ?? false
            result.append(Member(
                user: UserSummary(id: row.userId, username: row.username, displayName: row.displayName),
                role: RoomRole(rawValue: row.role) ?? .member, online: online,
                lastSeenAt: row.lastSeenAt.map { WireTime.string(millis: $0) }, joinedAt: WireTime.string(millis: row.joinedAt)
            ))
        }
        return result
    }

    /// Renames a room or changes its topic (owners and admins; not direct rooms).
    public func updateRoom(userID: Int64, roomID: Int64, name rawName: String?, topic rawTopic: String?) async throws -> RoomView {
        var validator = FieldValidator()
        let name = rawName.flatMap { validator.check("name", Self.validateRoomName($0)) }
        let topic = rawTopic.flatMap { validator.check("topic", Self.validateTopic($0)) }
        try validator.throwIfInvalid()
        let now = self.now
        try await database.write { db in
            guard let room = try await rooms.find(id: roomID, on: db) else { throw Self.roomNotFound }
            guard let membership = try await rooms.membership(roomID: roomID, userID: userID, on: db) else { throw Self.notAMember }
            guard room.roomKind != .direct else { throw ServiceError(.directRoom, message: "Direct conversations have no name or topic.") }
            guard membership.roomRole != .member else { throw ServiceError(.notRoomAdmin, message: "Only the room's owner and admins can change it.") }
            if let name, room.roomKind == .public, name.lowercased() != room.name?.lowercased(),
               try await db.raw("SELECT id FROM rooms WHERE kind = 'public' AND name_key = \(bind: name.lowercased())").first() != nil {
                throw ServiceError(.roomNameTaken, message: "A public room with that name exists.", fields: ["name": "is taken"])
            }
            try await db.raw(
                """
                UPDATE rooms SET name = COALESCE(\(bind: name), name), name_key = COALESCE(\(bind: name?.lowercased()), name_key),
                                 topic = COALESCE(\(bind: topic), topic), updated_at = \(bind: now)
                WHERE id = \(bind: roomID)
                """
            ).run()
        }
        let view = try await roomView(userID: userID, roomID: roomID)
        await events?.roomUpdated(RoomUpdatedEvent(roomId: roomID, name: view.name, topic: view.topic))
        return view
    }

    public func deleteRoom(userID: Int64, roomID: Int64) async throws {
        let memberIDs = try await database.write { db -> [Int64] in
            guard try await rooms.find(id: roomID, on: db) != nil else { throw Self.roomNotFound }
            guard let membership = try await rooms.membership(roomID: roomID, userID: userID, on: db) else { throw Self.notAMember }
            guard membership.roomRole == .owner else { throw ServiceError(.notRoomOwner, message: "Only the room's owner can delete it.") }
            let ids = try await rooms.memberIDs(roomID: roomID, on: db)
            try await rooms.delete(id: roomID, on: db)
            return ids
        }
        logger.info("room deleted", metadata: ["room.id": "\(roomID)"])
        await events?.roomDeleted(RoomDeletedEvent(roomId: roomID), memberIDs: memberIDs)
    }

    // MARK: Messages

    public func history(userID: Int64, roomID: Int64, before: Int64?, after: Int64?, limit: Int?) async throws -> (messages: [ChatMessage], hasMore: Bool) {
        let limit = min(max(limit ?? 50, 1), Self.maxPageSize)
        return try await database.read { db in
            guard let room = try await rooms.find(id: roomID, on: db) else { throw Self.roomNotFound }
            if room.roomKind != .public, try await rooms.membership(roomID: roomID, userID: userID, on: db) == nil { throw Self.notAMember }
            let page = try await messages.page(roomID: roomID, before: before, after: after, limit: limit, on: db)
            return (page.messages.map(\.wire), page.hasMore)
        }
    }

    public struct PostOutcome: Sendable {
        public let message: ChatMessage
        /// The same clientMsgId was stored before: nothing new was written or broadcast.
        public let duplicate: Bool
    }

    public func postMessage(userID: Int64, roomID: Int64, body rawBody: String, clientMsgID: String?, replyTo: Int64?) async throws -> PostOutcome {
        let body = rawBody.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...Self.maxBodyLength).contains(AccountValidation.length(body)) else {
            throw ServiceError.validation(["body": "must be 1 to \(Self.maxBodyLength) characters"])
        }
        if case .failure(let problem) = AccountValidation.freeText(body, multiline: true) { throw ServiceError.validation(["body": problem.message]) }
        if let clientMsgID, !(1...64).contains(AccountValidation.length(clientMsgID)) {
            throw ServiceError.validation(["clientMsgId": "must be 1 to 64 characters"])
        }
        let now = self.now
        let requireVerified = verification.isRequired
        let outcome = try await database.write { db -> PostOutcome in
            struct Gate: Decodable { let role: String?; let emailVerifiedAt: Int64?; let roomExists: Int64? }
            let gate = try await db.raw(
                """
                SELECT m.role, u.email_verified_at, (SELECT 1 FROM rooms WHERE id = \(bind: roomID)) AS room_exists
                FROM users u LEFT JOIN memberships m ON m.user_id = u.id AND m.room_id = \(bind: roomID)
                WHERE u.id = \(bind: userID)
                """
            ).first(decoding: Gate.self, keyDecodingStrategy: .snakeCaseColumns)
            guard let gate, gate.roomExists != nil else { throw Self.roomNotFound }
            guard gate.role != nil else { throw Self.notAMember }
            if requireVerified && gate.emailVerifiedAt == nil { throw ServiceError.emailUnverified }
            if let clientMsgID, let existing = try await messages.find(roomID: roomID, authorID: userID, clientMsgID: clientMsgID, on: db) {
                return PostOutcome(message: existing.wire, duplicate: true)
            }
            if let replyTo {
                guard let target = try await messages.find(id: replyTo, on: db), target.roomId == roomID else {
                    throw ServiceError.validation(["replyTo": "must be a message in this room"])
                }
            }
            guard let message = try await messages.insert(roomID: roomID, authorID: userID, body: body, clientMsgID: clientMsgID, replyTo: replyTo, now: now, on: db) else {
                // a concurrent send with the same clientMsgId committed first: this one is its retry
                guard let clientMsgID, let existing = try await messages.find(roomID: roomID, authorID: userID, clientMsgID: clientMsgID, on: db) else {
                    throw StoreError.noRowReturned
                }
                return PostOutcome(message: existing.wire, duplicate: true)
            }
            return PostOutcome(message: message.wire, duplicate: false)
        }
        if !outcome.duplicate {
            await events?.messageCreated(outcome.message)
        }
        return outcome
    }

    /// Moves my read cursor forward to `messageID` (never back) and tells my other connections.
    public func markRead(userID: Int64, roomID: Int64, messageID: Int64) async throws -> ReadEvent {
        let now = self.now
        let event = try await database.write { db -> ReadEvent in
            guard try await rooms.membership(roomID: roomID, userID: userID, on: db) != nil else { throw Self.notAMember }
            guard let message = try await messages.find(id: messageID, on: db), message.roomId == roomID else {
                throw ServiceError.validation(["messageId": "must be a message in this room"])
            }
            guard let membership = try await rooms.markRead(roomID: roomID, userID: userID, messageID: messageID, now: now, on: db) else { throw Self.notAMember }
            let unread = try await rooms.unreadCount(roomID: roomID, userID: userID, after: membership.lastReadMessageId, on: db)
            return ReadEvent(
                roomId: roomID, lastReadMessageId: membership.lastReadMessageId,
                lastReadAt: WireTime.string(millis: membership.lastReadAt ?? now), unreadCount: unread
            )
        }
        await events?.readMoved(userID: userID, event)
        return event
    }

    /// The room ids a user belongs to (the relay joins them at connect).
    public func roomIDs(userID: Int64) async throws -> [Int64] {
        try await database.read { db in try await rooms.roomIDs(userID: userID, on: db) }
    }

    public func isMember(userID: Int64, roomID: Int64) async throws -> Bool {
        try await database.read { db in try await rooms.membership(roomID: roomID, userID: userID, on: db) != nil }
    }

    public func contacts(of userID: Int64) async throws -> [Int64] {
        try await database.read { db in try await rooms.contacts(of: userID, on: db) }
    }

    public func recordLastSeen(userID: Int64) async throws -> Int64 {
        let now = self.now
        try await database.write { db in try await db.raw("UPDATE users SET last_seen_at = \(bind: now) WHERE id = \(bind: userID)").run() }
        return now
    }

    // MARK: Helpers

    func user(_ id: Int64) async throws -> UserSummary? {
        try await database.read { db in try await users.find(id: id, on: db) }.map {
            UserSummary(id: $0.id, username: $0.username, displayName: $0.displayName)
        }
    }

    func directPeers(userID: Int64, on db: any SQLDatabase) async throws -> [Int64: UserSummary] {
        struct Row: Decodable { let roomId: Int64; let id: Int64; let username: String; let displayName: String }
        let rows = try await db.raw(
            """
            SELECT o.room_id, u.id, u.username, u.display_name
            FROM memberships mine
            JOIN rooms r ON r.id = mine.room_id AND r.kind = 'direct'
            JOIN memberships o ON o.room_id = r.id AND o.user_id <> mine.user_id
            JOIN users u ON u.id = o.user_id
            WHERE mine.user_id = \(bind: userID)
            """
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        return Dictionary(rows.map { ($0.roomId, UserSummary(id: $0.id, username: $0.username, displayName: $0.displayName)) }, uniquingKeysWith: { a, _ in a })
    }

    func view(_ row: RoomListRow, peer: UserSummary?) -> RoomView {
        let kind = RoomKind(rawValue: row.kind) ?? .private
        return RoomView(
            id: row.id, kind: kind, name: kind == .direct ? (peer?.displayName ?? "Direct message") : (row.name ?? ""),
            topic: row.topic, role: RoomRole(rawValue: row.role), joinCode: row.joinCode, hasPassword: row.hasPassword != 0,
            unreadCount: Int(row.unreadCount), lastReadMessageId: row.lastReadMessageId,
            lastReadAt: row.lastReadAt.map { WireTime.string(millis: $0) },
            lastMessage: row.lastMessageId.map {
                RoomView.LastMessage(id: $0, authorId: row.lastMessageAuthorId ?? 0, body: row.lastMessageBody ?? "",
                                     createdAt: WireTime.string(millis: row.lastMessageCreatedAt ?? 0))
            },
            memberCount: Int(row.memberCount), peer: kind == .direct ? peer : nil, createdAt: WireTime.string(millis: row.createdAt)
        )
    }

    static func validateRoomName(_ raw: String) -> Result<String, FieldProblem> {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...64).contains(AccountValidation.length(value)) else { return .failure("must be 1 to 64 characters") }
        guard !value.unicodeScalars.contains(where: AccountValidation.isControlOrFormat) else {
            return .failure("must not contain control characters")
        }
        return .success(value)
    }

    static func validateTopic(_ raw: String) -> Result<String, FieldProblem> {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard AccountValidation.length(value) <= 256 else { return .failure("must be at most 256 characters") }
        return AccountValidation.freeText(value)
    }

    static func makeJoinCode() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<8).map { _ in joinCodeAlphabet.randomElement(using: &generator)! })
    }
}
