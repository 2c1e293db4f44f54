import Accounts
import Chat
import Hummingbird
import Models
import Relay
import SQLKit

/// `DELETE /api/me`: the caller deletes their own account (issue 18, settings).
///
/// Order: the password is checked (``AccountDeletion/confirm(userID:password:)``); a room the
/// caller is the last owner of, with other members, stops it with 409 `last_owner` naming the
/// rooms in `fields` (`room:<id>`: the room's name; hand them over first, as Discord and Slack
/// ask); ``AccountDeletion/begin(_:sessionID:)`` then revokes every session of the account
/// (its sockets close on every node) and decides which of two simultaneous requests (two tabs)
/// runs: the other answers 401 `session_revoked`; the caller leaves every room (each a
/// `room:member` `left` delta; a room left empty is deleted, as on leave); last,
/// ``AccountDeletion/erase(_:redact:)`` overwrites the account and rewrites its old names in the
/// event log (``EventLogNameRedaction``). A failure after ``AccountDeletion/begin(_:sessionID:)``
/// leaves the account signed out, maybe out of some rooms, not deleted: logging in again and
/// repeating the request finishes it.
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
        guard blocking.isEmpty else { throw Self.lastOwner(blocking) }
        try await deletion.begin(user, sessionID: identity.sessionID)
        for roomID in try await rooms.roomIDs(userID: user.id) {
            do { try await rooms.leave(userID: user.id, roomID: roomID) } catch let error as ServiceError where error.code == .notAMember {}
        }
        try await deletion.erase(user, redact: EventLogNameRedaction.redact)
        return Response(status: .noContent)
    }

    /// 409 `last_owner` naming the rooms to hand over: `fields` has one entry per room, key
    /// `room:<id>`, value the room's name (`#<id>` for a room without one); the message lists
    /// the names, by room id (docs/openapi.yaml, `DELETE /api/me`).
    static func lastOwner(_ rooms: [Int64: String]) -> ServiceError {
        let sorted = rooms.sorted { $0.key < $1.key }
        let fields = Dictionary(uniqueKeysWithValues: sorted.map { ("room:\($0.key)", $0.value) })
        let names = sorted.map(\.value).joined(separator: ", ")
        return ServiceError(
            .lastOwner,
            message: sorted.count == 1
                ? "You are the last owner of a room with other members: \(names). Make another member owner first."
                : "You are the last owner of rooms with other members: \(names). Make another member owner of each first.",
            fields: fields
        )
    }
}

/// Takes a deleted account's old names out of the durable event log (`event_log`), in the
/// deletion's transaction (``AccountDeletion/erase(_:redact:)``): every user object of a row's
/// payload that is the account (`id` or `authorId` equal to its id, with `username` and
/// `displayName`: a message's `author`, a reply preview, a `room:member` or moderation event's
/// `user` / `by`, a reaction's `users`) gets its new `username` (`deleted-<id>`) and
/// `displayName` ("Deleted user"), as its messages show from then on. Rows already delivered stay
/// delivered; what stays stored until pruning and what a recovering session is replayed
/// (docs/PROTOCOL.md, connection state recovery) no longer names the person.
///
/// Candidate rows are those whose JSON text holds the old username (a username is
/// `[a-z0-9_.-]`, written unescaped); which objects change is decided by id on the parsed JSON,
/// never by text. It scans the log (which pruning keeps to about `RECOVERY_WINDOW`) once per
/// deletion; no row is appended, so the appenders' advisory lock (``EventLogStore``) and the
/// order of seqs are untouched.
enum EventLogNameRedaction {
    @Sendable static func redact(before: UserRecord, after: UserRecord, on db: any SQLDatabase) async throws {
        struct Found: Decodable { let seq: Int64; let data: String }
        let pattern = "%" + UserDirectory.likeEscaped(before.username) + "%"
        let rows = try await db.raw("SELECT seq, data FROM event_log WHERE data LIKE \(bind: pattern) ESCAPE '\\'").all(decoding: Found.self)
        for row in rows {
            var changed = false
            let rewritten = renamed(try JSONValue(parsing: row.data), userID: after.id, username: after.username, displayName: after.displayName, changed: &changed)
            guard changed else { continue }
            try await db.raw("UPDATE event_log SET data = \(bind: rewritten.jsonString) WHERE seq = \(bind: row.seq)").run()
        }
    }

    /// `value` with every user object of `userID` renamed; `changed` set when one was.
    static func renamed(_ value: JSONValue, userID: Int64, username: String, displayName: String, changed: inout Bool) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.map { renamed($0, userID: userID, username: username, displayName: displayName, changed: &changed) })
        case .object(var object):
            for (key, item) in object {
                object[key] = renamed(item, userID: userID, username: username, displayName: displayName, changed: &changed)
            }
            let isUser = object["username"] != nil && object["displayName"] != nil
                && (object["id"]?.intValue == Int(userID) || object["authorId"]?.intValue == Int(userID))
            if isUser {
                object["username"] = .string(username)
                object["displayName"] = .string(displayName)
                changed = true
            }
            return .object(object)
        default:
            return value
        }
    }
}
