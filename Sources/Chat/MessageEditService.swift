import Accounts
import Foundation
import Models
import SQLKit

/// Editing and deleting messages (realtime `message:edit` / `message:delete`, REST `PATCH` /
/// `DELETE /api/rooms/{roomId}/messages/{messageId}`).
///
/// Each change and its delta (`message:updated`, `message:deleted`) commit in one transaction:
/// the log append is its last statement, and the answer leaves after this node delivered it.
/// Only members of the message's room may act on it; to anyone else an existing message and an
/// unknown one both answer `message_not_found`, so existence does not leak.
public struct MessageEditService: Sendable {
    let database: any Database
    let clock: AccountsClock
    let log: (any ChatEventLog)?
    /// How long after sending its author may edit a message (``MessageRules/mayEdit(createdAt:now:window:)``).
    public let editWindow: Duration
    let messages = MessageStore()
    let reactions = ReactionStore()

    public init(database: any Database, clock: AccountsClock = .system, log: (any ChatEventLog)?, editWindow: Duration = MessageRules.defaultEditWindow) {
        self.database = database
        self.clock = clock
        self.log = log
        self.editWindow = editWindow
    }

    /// Replaces a message's body (trimmed, validated as a send's: ``MessageService/validate(userID:roomID:body:clientMsgID:replyTo:)``)
    /// and sets `editedAt`. `roomID`, when given, must be the message's room.
    ///
    /// Throws `validation_failed` (`body`), `message_not_found` (unknown, another room's, or the
    /// caller is not a member), `message_deleted`, `not_message_author`, `muted` (with the seconds
    /// left as `retryAfter`, as a send: a mute stops every change of the room's content), `edit_window_passed`.
    public func edit(userID: Int64, roomID: Int64?, messageID: Int64, body rawBody: String) async throws -> MessageUpdatedEvent {
        let body = try MessageService.validBody(rawBody)
        let now = clock.now().millis
        let window = editWindow
        let (event, position) = try await database.write { db in
            let target = try await messages.target(messageID: messageID, userID: userID, roomID: roomID, on: db)
            guard target.deletedAt == nil else { throw ServiceError.messageDeleted }
            guard target.authorId == userID else { throw ServiceError.notMessageAuthor }
            try target.requireNotMuted(now: now)
            guard MessageRules.mayEdit(createdAt: target.createdAt, now: now, window: window) else { throw ServiceError.editWindowPassed }
            try await db.raw("UPDATE messages SET body = \(bind: body), edited_at = \(bind: now) WHERE id = \(bind: messageID)").run()
            // The UPDATE dropped the old mentions (a trigger of migration 0009); the new body's count from here.
            let mentioned = try await MentionStore().record(
                messageID: messageID, roomID: target.roomId, authorID: target.authorId, usernames: Mentions.usernames(in: body), on: db
            )
            let event = MessageUpdatedEvent(
                id: messageID, roomId: target.roomId, body: body, editedAt: WireTime.string(millis: now), mentions: mentioned.isEmpty ? nil : mentioned
            )
            return (event, try await log?.append([.messageChanged(.updated(event))], on: db))
        }
        await log?.committed(through: position)
        return event
    }

    /// Turns a message into a tombstone: its body is blanked and `deleted_at` set in one
    /// statement, its reactions removed; id and place stay. The author may delete their own
    /// message, the room's owners, admins and moderators anyone's (``MessageRules/mayDelete(actor:isAuthor:)``).
    /// Deleting a deleted message answers as the first delete did, changing nothing.
    ///
    /// Throws `message_not_found` (as ``edit(userID:roomID:messageID:body:)``), `not_message_author`.
    public func delete(userID: Int64, roomID: Int64?, messageID: Int64) async throws -> MessageDeletedEvent {
        let now = clock.now().millis
        let (event, position) = try await database.write { db in
            let target = try await messages.target(messageID: messageID, userID: userID, roomID: roomID, on: db)
            guard MessageRules.mayDelete(actor: target.role, isAuthor: target.authorId == userID) else { throw ServiceError.notMessageAuthor }
            if let deletedAt = target.deletedAt {
                return (MessageDeletedEvent(id: messageID, roomId: target.roomId, deletedAt: WireTime.string(millis: deletedAt)), UInt64?.none)
            }
            try await db.raw("UPDATE messages SET body = '', deleted_at = \(bind: now) WHERE id = \(bind: messageID)").run()
            try await reactions.removeAll(messageID: messageID, on: db)
            let event = MessageDeletedEvent(id: messageID, roomId: target.roomId, deletedAt: WireTime.string(millis: now))
            return (event, try await log?.append([.messageChanged(.deleted(event))], on: db))
        }
        await log?.committed(through: position)
        return event
    }
}

extension MessageService {
    /// A body as a send and an edit take it: trimmed, 1...``maxBodyLength`` scalars of
    /// multi-line free text (``AccountValidation/freeText(_:multiline:)``). Throws `validation_failed` (`body`).
    static func validBody(_ raw: String) throws -> String {
        let body = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...maxBodyLength).contains(AccountValidation.length(body)) else {
            throw ServiceError.validation(["body": "must be 1 to \(maxBodyLength) characters"])
        }
        if case .failure(let problem) = AccountValidation.freeText(body, multiline: true) { throw ServiceError.validation(["body": problem.message]) }
        return body
    }
}

/// A message as a change to it needs it, with the acting user's role in its room.
struct MessageTarget: Decodable, Sendable {
    let id: Int64
    let roomId: Int64
    let authorId: Int64
    let createdAt: Int64
    let deletedAt: Int64?
    let memberRole: String
    /// The acting user's mute in the room (`room_mutes.expires_at`, ms), if any, lapsed or not.
    let mutedUntil: Int64?

    var role: RoomRole { RoomRole(rawValue: memberRole) ?? .member }

    /// Throws `muted` (with the seconds left as `retryAfter`, as a send does) while the acting
    /// user's mute lasts at `now`: a muted member may not edit or react either.
    func requireNotMuted(now: Int64) throws {
        if let until = mutedUntil, until > now {
            let seconds = ModerationService.remainingSeconds(until: until, now: now)
            throw ServiceError(.muted, message: "You are muted in this room for \(seconds) more seconds.", retryAfter: seconds)
        }
    }
}

extension MessageStore {
    /// The message `messageID` if `userID` is a member of its room (and it is in `roomID`, when
    /// given), else `message_not_found`. On PostgreSQL the message row is locked until the
    /// transaction ends (`FOR UPDATE OF m`), so a concurrent delete and reaction or edit take
    /// turns and none acts on a message another just deleted; SQLite has one writer.
    func target(messageID: Int64, userID: Int64, roomID: Int64?, on db: any SQLDatabase) async throws -> MessageTarget {
        var query: SQLQueryString = """
            SELECT m.id, m.room_id, m.author_id, m.created_at, m.deleted_at, ms.role AS member_role,
                   (SELECT expires_at FROM room_mutes WHERE room_id = m.room_id AND user_id = \(bind: userID)) AS muted_until
            FROM messages m JOIN memberships ms ON ms.room_id = m.room_id AND ms.user_id = \(bind: userID)
            WHERE m.id = \(bind: messageID)
            """
        if db.dialect.name == "postgresql" { query += " FOR UPDATE OF m" }
        guard let target = try await db.raw(query).first(decoding: MessageTarget.self, keyDecodingStrategy: .snakeCaseColumns),
              roomID == nil || roomID == target.roomId else {
            throw ServiceError.messageNotFound
        }
        return target
    }
}

extension ServiceError {
    /// 404 `message_not_found`: unknown, or in a room the caller is not a member of.
    public static let messageNotFound = ServiceError(.messageNotFound, message: "No such message.")
    /// 409 `message_deleted`.
    public static let messageDeleted = ServiceError(.messageDeleted, message: "This message was deleted.")
    /// 403 `not_message_author`.
    public static let notMessageAuthor = ServiceError(.notMessageAuthor, message: "Only the author (or, to delete, a room owner or admin) may change this message.")
    /// 403 `edit_window_passed`.
    public static let editWindowPassed = ServiceError(.editWindowPassed, message: "This message can no longer be edited.")
}
