import Accounts
import Foundation
import Hummingbird
import Models

/// `/api/rooms/{id}/messages/{messageId}`: the REST side of editing, deleting and the list of
/// who reacted (the realtime events are the main surface; these answer the same, through the
/// same services).
public struct MessageChangesController<Context: IdentityRequestContext>: Sendable {
    let edits: MessageEditService
    let reactions: ReactionService
    let tokens: AccessTokenService

    public init(edits: MessageEditService, reactions: ReactionService, tokens: AccessTokenService) {
        self.edits = edits
        self.reactions = reactions
        self.tokens = tokens
    }

    public func addRoutes(to group: RouterGroup<Context>) {
        let authed = group.group().add(middleware: BearerAuthenticator<Context>(tokens: tokens))
        authed.patch("rooms/{id}/messages/{messageId}", use: edit)
        authed.delete("rooms/{id}/messages/{messageId}", use: delete)
        authed.get("rooms/{id}/messages/{messageId}/reactions", use: reactors)
    }

    struct EditRequest: Decodable { let body: String }
    struct ReactionsResponse: ResponseEncodable { let reactions: [ReactionUsers] }

    /// `PATCH`: `{body}` → 200 `message:updated`'s payload.
    @Sendable func edit(_ request: Request, context: Context) async throws -> MessageUpdatedEvent {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(EditRequest.self, context: context)
        return try await edits.edit(userID: identity.userID, roomID: try roomID(context), messageID: try messageID(context), body: body.body)
    }

    /// `DELETE` → 204 (also for a message deleted before).
    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        _ = try await edits.delete(userID: identity.userID, roomID: try roomID(context), messageID: try messageID(context))
        return Response(status: .noContent)
    }

    /// `GET …/reactions?emoji=&limit=` → `{reactions: [{emoji, count, users, hasMore}]}`.
    @Sendable func reactors(_ request: Request, context: Context) async throws -> ReactionsResponse {
        let identity = try context.requireIdentity()
        let query = request.uri.queryParameters
        var problems: [String: String] = [:]
        let limit = RoomsController<Context>.pageSize(query, max: ReactionService.maxUsersPerEmoji, default: 50, problems: &problems)
        var emoji: String?
        if let raw = query.get("emoji") {
            switch MessageRules.emoji(raw) {
            case .success(let value): emoji = value
            case .failure(let problem): problems["emoji"] = problem.message
            }
        }
        if !problems.isEmpty { throw ServiceError.validation(problems) }
        let groups = try await reactions.users(userID: identity.userID, roomID: try roomID(context), messageID: try messageID(context), emoji: emoji, limit: limit)
        return ReactionsResponse(reactions: groups)
    }

    func roomID(_ context: Context) throws -> Int64 {
        guard let raw = context.parameters.get("id"), let id = Int64(raw), id > 0 else { throw ServiceError.roomNotFound }
        return id
    }

    func messageID(_ context: Context) throws -> Int64 {
        guard let raw = context.parameters.get("messageId"), let id = Int64(raw), id > 0 else { throw ServiceError.messageNotFound }
        return id
    }
}

extension MessageUpdatedEvent: ResponseEncodable {}
