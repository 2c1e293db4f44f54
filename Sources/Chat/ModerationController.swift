import Accounts
import Foundation
import Hummingbird
import Models

/// Room moderation over REST (docs/openapi.yaml, tag `moderation`): role changes, kicks,
/// mutes, bans, their lists and the audit log, all under `/api/rooms/{id}/`. The rules are
/// ``RoomRules``; the work is ``ModerationService``.
public struct ModerationController<Context: IdentityRequestContext>: Sendable {
    let moderation: ModerationService
    let tokens: AccessTokenService

    public init(moderation: ModerationService, tokens: AccessTokenService) {
        self.moderation = moderation
        self.tokens = tokens
    }

    public func addRoutes(to group: RouterGroup<Context>) {
        let authed = group.group().add(middleware: BearerAuthenticator<Context>(tokens: tokens))
        authed.put("rooms/{id}/members/{userId}/role", use: setRole)
        authed.delete("rooms/{id}/members/{userId}", use: kick)
        authed.get("rooms/{id}/mutes", use: mutes)
        authed.post("rooms/{id}/mutes", use: mute)
        authed.delete("rooms/{id}/mutes/{userId}", use: unmute)
        authed.get("rooms/{id}/bans", use: bans)
        authed.post("rooms/{id}/bans", use: ban)
        authed.delete("rooms/{id}/bans/{userId}", use: unban)
        authed.get("rooms/{id}/audit-log", use: auditLog)
    }

    // MARK: Wire types

    struct RoleRequest: Decodable {
        let role: String
    }

    /// The body of a kick (optional: `DELETE` may carry none).
    struct KickRequest: Decodable {
        let reason: String?
    }

    struct MuteRequest: Decodable {
        let userId: Int64
        let durationSeconds: Int
        let reason: String?
    }

    struct BanRequest: Decodable {
        let userId: Int64
        let reason: String?
    }

    struct EventResponse: ResponseEncodable {
        let event: ModerationEvent
    }

    struct MutesResponse: ResponseEncodable {
        let mutes: [ModerationService.Mute]
    }

    struct BansResponse: ResponseEncodable {
        let bans: [ModerationService.Ban]
    }

    struct AuditLogResponse: ResponseEncodable {
        let entries: [AuditEntry]
        let nextBefore: Int64?
    }

    // MARK: Handlers

    @Sendable func setRole(_ request: Request, context: Context) async throws -> EventResponse {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(RoleRequest.self, context: context)
        guard let role = RoomRole(rawValue: body.role) else {
            throw ServiceError.validation(["role": "must be owner, admin, moderator or member"])
        }
        let event = try await moderation.setRole(actorID: identity.userID, roomID: try roomID(context), targetID: try userID(context), role: role)
        return EventResponse(event: event)
    }

    /// `DELETE /api/rooms/{id}/members/{userId}`: the reason comes as `?reason=` or a JSON body `{reason}`.
    @Sendable func kick(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        let (roomID, targetID) = (try roomID(context), try userID(context))
        var reason = request.uri.queryParameters.get("reason")
        if reason == nil, request.headers[.contentType]?.hasPrefix("application/json") == true {
            var request = request
            reason = try await request.decodeJSON(KickRequest.self, context: context).reason
        }
        _ = try await moderation.kick(actorID: identity.userID, roomID: roomID, targetID: targetID, reason: reason)
        return Response(status: .noContent)
    }

    @Sendable func mutes(_ request: Request, context: Context) async throws -> MutesResponse {
        MutesResponse(mutes: try await moderation.mutes(actorID: try context.requireIdentity().userID, roomID: try roomID(context)))
    }

    @Sendable func mute(_ request: Request, context: Context) async throws -> EditedResponse<EventResponse> {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(MuteRequest.self, context: context)
        let event = try await moderation.mute(actorID: identity.userID, roomID: try roomID(context), targetID: body.userId,
                                              durationSeconds: body.durationSeconds, reason: body.reason)
        return EditedResponse(status: .created, response: EventResponse(event: event))
    }

    @Sendable func unmute(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        _ = try await moderation.unmute(actorID: identity.userID, roomID: try roomID(context), targetID: try userID(context))
        return Response(status: .noContent)
    }

    @Sendable func bans(_ request: Request, context: Context) async throws -> BansResponse {
        BansResponse(bans: try await moderation.bans(actorID: try context.requireIdentity().userID, roomID: try roomID(context)))
    }

    @Sendable func ban(_ request: Request, context: Context) async throws -> EditedResponse<EventResponse> {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(BanRequest.self, context: context)
        let outcome = try await moderation.ban(actorID: identity.userID, roomID: try roomID(context), targetID: body.userId, reason: body.reason)
        return EditedResponse(status: outcome.created ? .created : .ok, response: EventResponse(event: outcome.event))
    }

    @Sendable func unban(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        _ = try await moderation.unban(actorID: identity.userID, roomID: try roomID(context), targetID: try userID(context))
        return Response(status: .noContent)
    }

    @Sendable func auditLog(_ request: Request, context: Context) async throws -> AuditLogResponse {
        let identity = try context.requireIdentity()
        let query = request.uri.queryParameters
        var problems: [String: String] = [:]
        var before: Int64?
        if let raw = query.get("before") {
            if let value = Int64(raw), value > 0 { before = value } else { problems["before"] = "must be an audit entry id" }
        }
        let limit = RoomsController<Context>.pageSize(query, max: ModerationService.maxAuditPage, default: 50, problems: &problems)
        if !problems.isEmpty { throw ServiceError.validation(problems) }
        let page = try await moderation.auditLog(actorID: identity.userID, roomID: try roomID(context), before: before, limit: limit)
        return AuditLogResponse(entries: page.entries, nextBefore: page.nextBefore)
    }

    func roomID(_ context: Context) throws -> Int64 {
        guard let raw = context.parameters.get("id"), let id = Int64(raw), id > 0 else { throw ServiceError.roomNotFound }
        return id
    }

    func userID(_ context: Context) throws -> Int64 {
        guard let raw = context.parameters.get("userId"), let id = Int64(raw), id > 0 else { throw ServiceError.userNotFound }
        return id
    }
}
