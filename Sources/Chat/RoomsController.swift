import Accounts
import Foundation
import Hummingbird
import Models

/// `/api/rooms/*` and `/api/direct`.
public struct RoomsController<Context: IdentityRequestContext>: Sendable {
    let rooms: RoomService
    let messages: MessageService
    let readCursors: ReadCursorService
    let tokens: AccessTokenService
    let presence: (any PresenceDirectory)?

    public init(chat: ChatServices, tokens: AccessTokenService, presence: (any PresenceDirectory)?) {
        self.rooms = chat.rooms
        self.messages = chat.messages
        self.readCursors = chat.readCursors
        self.tokens = tokens
        self.presence = presence
    }

    public func addRoutes(to group: RouterGroup<Context>) {
        let authed = group.group().add(middleware: BearerAuthenticator<Context>(tokens: tokens))
        authed.post("rooms", use: create)
        authed.get("rooms", use: list)
        authed.get("rooms/public", use: discover)
        authed.post("rooms/join-by-code", use: joinByCode)
        authed.post("rooms/{id}/join", use: join)
        authed.post("rooms/{id}/leave", use: leave)
        authed.post("rooms/{id}/invites", use: invite)
        authed.get("rooms/{id}/members", use: members)
        authed.delete("rooms/{id}", use: delete)
        authed.patch("rooms/{id}", use: update)
        authed.get("rooms/{id}/messages", use: history)
        authed.post("rooms/{id}/messages", use: post)
        authed.post("rooms/{id}/read", use: read)
        authed.post("direct", use: direct)
    }

    // MARK: Wire types

    struct CreateRequest: Decodable {
        let name: String?
        let kind: String?
        let topic: String?
        let password: String?
        let allowGuests: Bool?
    }

    struct RoomsResponse: ResponseEncodable {
        let rooms: [RoomView]
    }

    struct DiscoverResponse: ResponseEncodable {
        let rooms: [RoomService.DiscoveredRoom]
        let nextCursor: String?
    }

    struct JoinByCodeRequest: Decodable {
        let code: String
        let password: String?
    }

    struct UserRefRequest: Decodable {
        let userId: Int64?
        let username: String?
    }

    struct InviteResponse: ResponseEncodable {
        let user: UserSummary
    }

    struct MembersResponse: ResponseEncodable {
        let members: [RoomService.Member]
    }

    struct MessagesResponse: ResponseEncodable {
        let messages: [ChatMessage]
        let hasMore: Bool
    }

    struct PostRequest: Decodable {
        let body: String
        let clientMsgId: String?
        let replyTo: Int64?
    }

    struct PostResponse: ResponseEncodable {
        let message: ChatMessage
        let duplicate: Bool
    }

    struct ReadRequest: Decodable {
        let messageId: Int64
    }

    // MARK: Handlers

    @Sendable func create(_ request: Request, context: Context) async throws -> EditedResponse<RoomView> {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(CreateRequest.self, context: context)
        guard let kind = RoomKind(rawValue: body.kind ?? "public") else {
            throw ServiceError.validation(["kind": "must be public or private"])
        }
        let room = try await rooms.create(userID: identity.userID, .init(name: body.name, kind: kind, topic: body.topic, password: body.password, allowGuests: body.allowGuests))
        return EditedResponse(status: .created, response: room)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> RoomsResponse {
        RoomsResponse(rooms: try await rooms.list(userID: try context.requireIdentity().userID))
    }

    @Sendable func discover(_ request: Request, context: Context) async throws -> DiscoverResponse {
        let identity = try context.requireIdentity()
        let query = request.uri.queryParameters
        var problems: [String: String] = [:]
        let limit = Self.pageSize(query, max: 50, default: 20, problems: &problems)
        let q = query.get("q") ?? ""
        if q.unicodeScalars.count > 64 { problems["q"] = "must be at most 64 characters" }
        if !problems.isEmpty { throw ServiceError.validation(problems) }
        let result = try await rooms.discover(query: q, cursor: query.get("cursor"), limit: limit, userID: identity.userID)
        return DiscoverResponse(rooms: result.rooms, nextCursor: result.nextCursor)
    }

    @Sendable func join(_ request: Request, context: Context) async throws -> RoomView {
        try await rooms.join(userID: try context.requireIdentity().userID, roomID: try roomID(context))
    }

    @Sendable func joinByCode(_ request: Request, context: Context) async throws -> RoomView {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(JoinByCodeRequest.self, context: context)
        guard (1...32).contains(AccountValidation.length(body.code)), AccountValidation.length(body.password ?? "") <= 128 else {
            throw ServiceError(.invalidJoinCode, message: "The code or the room password is wrong.")
        }
        return try await rooms.joinByCode(userID: identity.userID, code: body.code, password: body.password)
    }

    @Sendable func leave(_ request: Request, context: Context) async throws -> Response {
        try await rooms.leave(userID: try context.requireIdentity().userID, roomID: try roomID(context))
        return Response(status: .noContent)
    }

    @Sendable func invite(_ request: Request, context: Context) async throws -> EditedResponse<InviteResponse> {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(UserRefRequest.self, context: context)
        let user = try await rooms.invite(actorID: identity.userID, roomID: try roomID(context), target: try userRef(body))
        return EditedResponse(status: .created, response: InviteResponse(user: user))
    }

    @Sendable func members(_ request: Request, context: Context) async throws -> MembersResponse {
        let identity = try context.requireIdentity()
        return MembersResponse(members: try await rooms.members(userID: identity.userID, roomID: try roomID(context), presence: presence))
    }

    struct UpdateRequest: Decodable {
        let name: String?
        let topic: String?
        let allowGuests: Bool?
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> RoomView {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(UpdateRequest.self, context: context)
        return try await rooms.update(userID: identity.userID, roomID: try roomID(context), name: body.name, topic: body.topic, allowGuests: body.allowGuests)
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        try await rooms.delete(userID: try context.requireIdentity().userID, roomID: try roomID(context))
        return Response(status: .noContent)
    }

    @Sendable func history(_ request: Request, context: Context) async throws -> MessagesResponse {
        let identity = try context.requireIdentity()
        let query = request.uri.queryParameters
        var problems: [String: String] = [:]
        func id(_ name: String) -> Int64? {
            guard let raw = query.get(name) else { return nil }
            guard let value = Int64(raw), value >= 0 else { problems[name] = "must be a message id"; return nil }
            return value
        }
        let before = id("before"), after = id("after")
        let limit = Self.pageSize(query, max: MessageService.maxPageSize, default: 50, problems: &problems)
        if before != nil && after != nil { problems["before"] = "use before or after, not both" }
        if !problems.isEmpty { throw ServiceError.validation(problems) }
        let page = try await messages.history(userID: identity.userID, roomID: try roomID(context), before: before, after: after, limit: limit)
        return MessagesResponse(messages: page.messages, hasMore: page.hasMore)
    }

    @Sendable func post(_ request: Request, context: Context) async throws -> EditedResponse<PostResponse> {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(PostRequest.self, context: context)
        let outcome = try await messages.send(userID: identity.userID, roomID: try roomID(context), body: body.body, clientMsgID: body.clientMsgId, replyTo: body.replyTo)
        return EditedResponse(status: outcome.duplicate ? .ok : .created, response: PostResponse(message: outcome.message, duplicate: outcome.duplicate))
    }

    @Sendable func read(_ request: Request, context: Context) async throws -> ReadEvent {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(ReadRequest.self, context: context)
        return try await readCursors.markRead(userID: identity.userID, roomID: try roomID(context), messageID: body.messageId)
    }

    @Sendable func direct(_ request: Request, context: Context) async throws -> RoomView {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(UserRefRequest.self, context: context)
        return try await rooms.direct(userID: identity.userID, with: try userRef(body))
    }

    /// The `limit` query parameter of a paged list: an integer in 1...`max`, `default` when
    /// absent. Anything else is recorded in `problems` (422 `validation_failed`), never
    /// clamped, as docs/openapi.yaml states for every `limit`.
    static func pageSize(_ query: Parameters, max: Int, default: Int, problems: inout [String: String]) -> Int {
        guard let raw = query.get("limit") else { return `default` }
        guard let value = Int(raw), (1...max).contains(value) else {
            problems["limit"] = "must be 1 to \(max)"
            return `default`
        }
        return value
    }

    func roomID(_ context: Context) throws -> Int64 {
        guard let raw = context.parameters.get("id"), let id = Int64(raw), id > 0 else { throw ServiceError.roomNotFound }
        return id
    }

    func userRef(_ body: UserRefRequest) throws -> RoomService.UserRef {
        if let id = body.userId { return .id(id) }
        if let name = body.username, (1...32).contains(name.unicodeScalars.count) { return .username(name) }
        throw ServiceError.validation(["userId": "userId or username is required"])
    }
}

extension ReadEvent: ResponseEncodable {}
extension RoomView: ResponseEncodable {}
