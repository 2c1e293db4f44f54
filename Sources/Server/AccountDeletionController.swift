import Accounts
import Chat
import Hummingbird
import Models

/// `DELETE /api/me`: the caller deletes their own account (issue 18, settings).
///
/// Order: the password is checked (``AccountDeletion/confirm(userID:password:)``); a room the
/// caller is the last owner of, with other members, stops it with 409 `last_owner` naming the
/// rooms in `fields` (hand them over first, as Discord and Slack ask); the caller then leaves
/// every room (each a `room:member` `left` delta; a room left empty is deleted, as on leave);
/// last, ``AccountDeletion/erase(_:)`` overwrites the account and revokes its sessions, which
/// closes its sockets on every node. A failure after the rooms were left leaves the account
/// signed in and out of those rooms; repeating the request finishes it.
struct AccountDeletionController<Context: IdentityRequestContext>: Sendable {
    let deletion: AccountDeletion
    let rooms: RoomService
    let tokens: AccessTokenService

    func addRoutes(to group: RouterGroup<Context>) {
        group.group().add(middleware: BearerAuthenticator<Context>(tokens: tokens)).delete("me", use: delete)
    }

    struct DeleteRequest: Decodable {
        /// The account's password; omitted for an account without one (made by a sign-in
        /// provider, or a guest).
        let password: String?
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(DeleteRequest.self, context: context)
        guard (body.password.map { AccountValidation.length($0) } ?? 0) <= 1024 else {
            throw ServiceError.validation(["password": "must be at most 1024 characters"])
        }
        let user = try await deletion.confirm(userID: identity.userID, password: body.password)
        let blocking = try await rooms.roomsAwaitingHandOver(userID: user.id)
        guard blocking.isEmpty else {
            var fields: [String: String] = [:]
            for (id, name) in blocking { fields["room:\(id)"] = "you are the last owner of \(name): make another member owner first" }
            throw ServiceError(.lastOwner, message: "Hand over the rooms you are the last owner of before deleting your account.", fields: fields)
        }
        for roomID in try await rooms.roomIDs(userID: user.id) {
            do { try await rooms.leave(userID: user.id, roomID: roomID) } catch let error as ServiceError where error.code == .notAMember {}
        }
        try await deletion.erase(user)
        return Response(status: .noContent)
    }
}
