import Accounts
import Chat
import Foundation
import Hummingbird
import Logging
import Models
import Relay

/// `/api/admin/...` (issue 16): server administration for users whose server role is `admin`
/// (`switchboard admin create` / `promote`). Every route answers 401 without a live session
/// and 403 `admin_required` for anyone else.
///
/// - `GET admin/users?q=&cursor=&limit=`: users by id; `q` (≤ 64 scalars) keeps those whose
///   username, email or display name starts with it (letter case ignored); `cursor` is the
///   `nextCursor` of the previous page; `limit` 1–100 (default 50).
/// - `POST admin/users/{id}/disable`: disables the account, revokes every session and closes
///   its sockets at once on every node (``AuthService/notifyRevoked(userID:sessionIDs:reason:)``);
///   an admin cannot disable themself (422). `POST admin/users/{id}/enable` lifts it.
/// - `GET admin/users/{id}/messages?before=&limit=`: the user's messages, newest first.
/// - `GET admin/rooms?cursor=&limit=`: rooms by last activity with member and online counts.
/// - `GET admin/rooms/{id}/members`: the members of any room, with presence.
/// - `GET admin/stats`: server-wide counts and the sockets online on every node.
struct AdminController<Context: IdentityRequestContext>: Sendable {
    let database: any Database
    let auth: AuthService
    let rooms: RoomService
    let presence: any PresenceDirectory
    let namespace: Namespace
    let clock: AccountsClock
    let logger: Logger
    let store = AdminStore()

    func addRoutes(to group: RouterGroup<Context>) {
        let admin = group.group("admin")
            .add(middleware: BearerAuthenticator<Context>(tokens: auth.tokens))
            .add(middleware: AdminOnly<Context>(database: database))
        admin.get("users", use: listUsers)
        admin.post("users/{userId}/disable", use: disable)
        admin.post("users/{userId}/enable", use: enable)
        admin.get("users/{userId}/messages", use: userMessages)
        admin.get("rooms", use: listRooms)
        admin.get("rooms/{id}/members", use: roomMembers)
        admin.get("stats", use: stats)
    }

    // MARK: Wire types

    struct AdminUser: ResponseEncodable, Sendable {
        let id: Int64
        let username: String
        let displayName: String
        /// Absent for guests (whose placeholder is never shown).
        let email: String?
        let emailVerified: Bool
        let guest: Bool?
        let serverRole: String
        let disabled: Bool
        let disabledAt: String?
        let createdAt: String
        let lastSeenAt: String?
        let online: Bool
    }

    struct UsersResponse: ResponseEncodable {
        let users: [AdminUser]
        let nextCursor: String?
    }

    struct AdminMessage: ResponseEncodable {
        let id: Int64
        let roomId: Int64
        let roomName: String?
        let roomKind: String
        let body: String
        let createdAt: String
        let editedAt: String?
    }

    struct MessagesResponse: ResponseEncodable {
        let messages: [AdminMessage]
        let hasMore: Bool
    }

    struct AdminRoom: ResponseEncodable {
        let id: Int64
        let kind: String
        let name: String?
        let allowGuests: Bool
        let memberCount: Int64
        /// Members with at least one socket in the room, on every node.
        let onlineCount: Int
        let lastMessageAt: String?
        let createdAt: String
    }

    struct RoomsResponse: ResponseEncodable {
        let rooms: [AdminRoom]
        let nextCursor: String?
    }

    struct AdminMember: ResponseEncodable {
        let user: UserSummary
        let role: String
        let online: Bool
        let lastSeenAt: String?
        let joinedAt: String
    }

    struct MembersResponse: ResponseEncodable {
        let members: [AdminMember]
    }

    struct StatsResponse: ResponseEncodable {
        let users: Int64
        let guests: Int64
        let admins: Int64
        let disabledUsers: Int64
        let rooms: Int64
        let messages: Int64
        let socketsOnline: Int
        let usersOnline: Int
        /// Present (true) only when some node did not answer, or the count failed: the online
        /// numbers are then a lower bound.
        let partial: Bool?
        /// How many nodes did not answer in time (with `partial`; nil when the count itself failed).
        let missingNodes: Int?
    }

    // MARK: Handlers

    @Sendable func listUsers(_ request: Request, context: Context) async throws -> UsersResponse {
        let query = request.uri.queryParameters
        var problems: [String: String] = [:]
        let limit = Self.pageSize(query, max: 100, default: 50, problems: &problems)
        let q = query.get("q")?.trimmingCharacters(in: .whitespaces)
        if let q, q.unicodeScalars.count > 64 { problems["q"] = "must be at most 64 characters" }
        var after: Int64 = 0
        if let raw = query.get("cursor") {
            if let value = Int64(raw), value >= 0 { after = value } else { problems["cursor"] = "must be a cursor from a previous page" }
        }
        if !problems.isEmpty { throw ServiceError.validation(problems) }
        let afterID = after
        let rows = try await database.read { db in try await store.users(prefix: q, afterID: afterID, limit: limit + 1, on: db) }
        var users: [AdminUser] = []
        for row in rows.prefix(limit) { users.append(await adminUser(row)) }
        return UsersResponse(users: users, nextCursor: rows.count > limit ? users.last.map { String($0.id) } : nil)
    }

    @Sendable func disable(_ request: Request, context: Context) async throws -> AdminUser {
        try await setDisabled(true, context: context)
    }

    @Sendable func enable(_ request: Request, context: Context) async throws -> AdminUser {
        try await setDisabled(false, context: context)
    }

    /// Disables (`disabled`) or enables the account of the `userId` path parameter and answers it
    /// as it is now. Disabling revokes every session of the account in the same transaction, then
    /// makes its tokens fail and its sockets close at once on every node (the one revocation
    /// path); an admin cannot disable themself (422). `user_not_found` for an unknown or a
    /// deleted account (``AdminStore/setDisabled(userID:at:now:on:)``).
    func setDisabled(_ disabled: Bool, context: Context) async throws -> AdminUser {
        let identity = try context.requireIdentity()
        let id = try userID(context)
        if disabled, id == identity.userID { throw ServiceError.validation(["id": "you cannot disable your own account"]) }
        let now = clock.now().millis
        let revoked = try await database.write { db -> [String] in
            guard try await store.setDisabled(userID: id, at: disabled ? now : nil, now: now, on: db) else { throw Self.userNotFound }
            return disabled ? try await auth.revokeAll(userID: id, keeping: nil, reason: "account_disabled", on: db) : []
        }
        if disabled { await auth.notifyRevoked(userID: id, sessionIDs: revoked, reason: "account_disabled") }
        logger.notice(disabled ? "account disabled by an admin" : "account enabled by an admin", metadata: ["user.id": "\(id)", "admin.id": "\(identity.userID)"])
        return try await loadUser(id)
    }

    @Sendable func userMessages(_ request: Request, context: Context) async throws -> MessagesResponse {
        let id = try userID(context)
        let query = request.uri.queryParameters
        var problems: [String: String] = [:]
        let limit = Self.pageSize(query, max: 100, default: 50, problems: &problems)
        var before: Int64?
        if let raw = query.get("before") {
            if let value = Int64(raw), value >= 0 { before = value } else { problems["before"] = "must be a message id" }
        }
        if !problems.isEmpty { throw ServiceError.validation(problems) }
        let beforeID = before
        let rows = try await database.read { db -> [AdminStore.MessageRow] in
            guard try await store.user(id: id, on: db) != nil else { throw Self.userNotFound }
            return try await store.messages(authorID: id, beforeID: beforeID, limit: limit + 1, on: db)
        }
        return MessagesResponse(
            messages: rows.prefix(limit).map {
                AdminMessage(
                    id: $0.id, roomId: $0.roomId, roomName: $0.roomName, roomKind: $0.roomKind, body: $0.body,
                    createdAt: WireTime.string(millis: $0.createdAt), editedAt: $0.editedAt.map { WireTime.string(millis: $0) }
                )
            },
            hasMore: rows.count > limit
        )
    }

    @Sendable func listRooms(_ request: Request, context: Context) async throws -> RoomsResponse {
        let query = request.uri.queryParameters
        var problems: [String: String] = [:]
        let limit = Self.pageSize(query, max: 100, default: 50, problems: &problems)
        var cursor: (activity: Int64, id: Int64)?
        if let raw = query.get("cursor") {
            let parts = raw.split(separator: ".")
            if parts.count == 2, let activity = Int64(parts[0]), let id = Int64(parts[1]) { cursor = (activity, id) } else {
                problems["cursor"] = "must be a cursor from a previous page"
            }
        }
        if !problems.isEmpty { throw ServiceError.validation(problems) }
        let start = cursor
        let rows = try await database.read { db in try await store.rooms(after: start, limit: limit + 1, on: db) }
        let online = await onlineByRoom()
        let page = rows.prefix(limit)
        return RoomsResponse(
            rooms: page.map {
                AdminRoom(
                    id: $0.id, kind: $0.kind, name: $0.name, allowGuests: $0.allowGuests == 1, memberCount: $0.memberCount,
                    onlineCount: online.rooms[$0.id]?.count ?? 0, lastMessageAt: $0.lastMessageAt.map { WireTime.string(millis: $0) },
                    createdAt: WireTime.string(millis: $0.createdAt)
                )
            },
            nextCursor: rows.count > limit ? page.last.map { "\($0.activity).\($0.id)" } : nil
        )
    }

    @Sendable func roomMembers(_ request: Request, context: Context) async throws -> MembersResponse {
        guard let raw = context.parameters.get("id"), let roomID = Int64(raw), roomID > 0 else { throw ServiceError.roomNotFound }
        let rows = try await database.read { db -> [MemberRow] in
            guard try await store.roomExists(roomID, on: db) else { throw ServiceError.roomNotFound }
            return try await RoomStore().members(roomID: roomID, on: db)
        }
        var members: [AdminMember] = []
        for row in rows {
            members.append(AdminMember(
                user: UserSummary(id: row.userId, username: row.username, displayName: row.displayName, guest: row.guestExpiresAt != nil),
                role: row.role, online: await presence.isOnline(userID: row.userId),
                lastSeenAt: row.lastSeenAt.map { WireTime.string(millis: $0) }, joinedAt: WireTime.string(millis: row.joinedAt)
            ))
        }
        return MembersResponse(members: members)
    }

    @Sendable func stats(_ request: Request, context: Context) async throws -> StatsResponse {
        let now = clock.now().millis
        let counts = try await database.read { db in try await store.counts(now: now, on: db) }
        let online = await onlineByRoom()
        return StatsResponse(
            users: counts.users, guests: counts.guests, admins: counts.admins, disabledUsers: counts.disabledUsers, rooms: counts.rooms,
            messages: counts.messages, socketsOnline: online.sockets, usersOnline: online.users.count,
            partial: online.partial ? true : nil, missingNodes: online.partial ? online.missingNodes : nil
        )
    }

    // MARK: Helpers

    static var userNotFound: ServiceError { ServiceError(.userNotFound, message: "No such user.") }

    /// `limit`: an integer in 1...`max`, `default` when absent; anything else is a problem (422), never clamped.
    static func pageSize(_ query: Parameters, max: Int, default: Int, problems: inout [String: String]) -> Int {
        guard let raw = query.get("limit") else { return `default` }
        guard let value = Int(raw), (1...max).contains(value) else {
            problems["limit"] = "must be 1 to \(max)"
            return `default`
        }
        return value
    }

    /// Who is online where, from every node's sockets (``OnlineCensus``; 2 s for the nodes to answer).
    func onlineByRoom() async -> OnlineCensus {
        await OnlineCensus.take(namespace, timeout: .seconds(2), logger: logger)
    }

    func userID(_ context: Context) throws -> Int64 {
        guard let raw = context.parameters.get("userId"), let id = Int64(raw), id > 0 else { throw Self.userNotFound }
        return id
    }

    func loadUser(_ id: Int64) async throws -> AdminUser {
        guard let row = try await database.read({ db in try await store.user(id: id, on: db) }) else { throw Self.userNotFound }
        return await adminUser(row)
    }

    func adminUser(_ row: AdminStore.UserRow) async -> AdminUser {
        AdminUser(
            id: row.id, username: row.username, displayName: row.displayName, email: row.guestExpiresAt == nil ? row.email : nil,
            emailVerified: row.guestExpiresAt == nil && row.emailVerifiedAt != nil, guest: row.guestExpiresAt != nil ? true : nil,
            serverRole: row.serverRole, disabled: row.disabledAt != nil, disabledAt: row.disabledAt.map { WireTime.string(millis: $0) },
            createdAt: WireTime.string(millis: row.createdAt), lastSeenAt: row.lastSeenAt.map { WireTime.string(millis: $0) },
            online: await presence.isOnline(userID: row.id)
        )
    }
}

/// Lets only server admins through (403 `admin_required`); runs after ``BearerAuthenticator``.
/// The role is read from the database on every request, so a demotion or a disable takes
/// effect at once.
struct AdminOnly<Context: IdentityRequestContext>: RouterMiddleware {
    let database: any Database

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let identity = try context.requireIdentity()
        let user = try await database.read { db in try await UserStore().find(id: identity.userID, on: db) }
        guard let user, user.isAdmin, user.disabledAt == nil else {
            throw APIError(.adminRequired, message: "Only server administrators can do this.")
        }
        return try await next(request, context)
    }
}

/// Who is online where, from every node's sockets (`fetchSockets`): sockets, distinct users
/// (their `user:<id>` room), and per room (`room:<id>`) the users there.
///
/// Never silently short: a node that does not answer within `timeout` is left out and counted in
/// `missingNodes`; any other failure is logged and gives empty numbers with `missingNodes` nil.
/// Either way `partial` is true and the numbers are a lower bound.
struct OnlineCensus: Sendable {
    var sockets = 0
    var users = Set<Int64>()
    var rooms: [Int64: Set<Int64>] = [:]
    var partial = false
    /// Nodes that did not answer in time (nil when the count failed another way).
    var missingNodes: Int? = 0

    static func take(_ namespace: Namespace, timeout: Duration, logger: Logger) async -> OnlineCensus {
        var census = OnlineCensus()
        let sockets: [SocketSummary]
        do { sockets = try await namespace.fetchSockets(timeout: timeout) } catch let timedOut as FetchSocketsTimeout {
            logger.warning("admin: online counts partial, nodes did not answer", metadata: ["cluster.missing_nodes": "\(timedOut.missingNodes)"])
            sockets = timedOut.partial
            census.partial = true
            census.missingNodes = timedOut.missingNodes
        } catch {
            logger.error("admin: could not count who is online", metadata: ["error": "\(String(reflecting: error))"])
            sockets = []
            census.partial = true
            census.missingNodes = nil
        }
        census.sockets = sockets.count
        for socket in sockets {
            guard let user = socket.rooms.lazy.compactMap({ $0.hasPrefix("user:") ? Int64($0.dropFirst(5)) : nil }).first else { continue }
            census.users.insert(user)
            for room in socket.rooms where room.hasPrefix("room:") {
                if let id = Int64(room.dropFirst(5)) { census.rooms[id, default: []].insert(user) }
            }
        }
        return census
    }
}
