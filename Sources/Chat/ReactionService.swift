import Accounts
import Models
import SQLKit

/// Emoji reactions (realtime `reaction:add` / `reaction:remove`, REST
/// `GET /api/rooms/{roomId}/messages/{messageId}/reactions`).
///
/// One reaction per user per emoji per message (the table's primary key); at most
/// ``MessageRules/maxEmojiPerMessage`` different emoji per message; the emoji rule is
/// ``MessageRules/emoji(_:)``. Each change and its `reaction` delta commit in one transaction.
/// Adding a reaction one already has, or removing one one has not, changes nothing, sends
/// nothing and answers `changed: false`.
public struct ReactionService: Sendable {
    let database: any Database
    let clock: AccountsClock
    let log: (any ChatEventLog)?
    let messages = MessageStore()
    let rooms = RoomStore()
    let reactions = ReactionStore()

    /// The largest `limit` of ``users(userID:roomID:messageID:emoji:limit:)``.
    public static let maxUsersPerEmoji = 100

    public init(database: any Database, clock: AccountsClock = .system, log: (any ChatEventLog)?) {
        self.database = database
        self.clock = clock
        self.log = log
    }

    /// Adds (`added: true`) or removes one reaction of `userID`. `roomID`, when given, must be
    /// the message's room.
    ///
    /// Throws `validation_failed` (`emoji`: not one emoji, or a 21st different emoji),
    /// `message_not_found` (unknown, another room's, or the caller is not a member),
    /// `message_deleted`, `muted` (adding only, with the seconds left as `retryAfter`, as a
    /// send; a muted member may still take a reaction back).
    public func react(userID: Int64, roomID: Int64?, messageID: Int64, emoji raw: String, added: Bool) async throws -> (event: ReactionEvent, changed: Bool) {
        let emoji: String
        switch MessageRules.emoji(raw) {
        case .success(let value): emoji = value
        case .failure(let problem): throw ServiceError.validation(["emoji": problem.message])
        }
        let now = clock.now().millis
        let (event, changed, position) = try await database.write { db in
            let target = try await messages.target(messageID: messageID, userID: userID, roomID: roomID, on: db)
            guard target.deletedAt == nil else { throw ServiceError.messageDeleted }
            let changed: Bool
            if added {
                try target.requireNotMuted(now: now)
                let present = try await reactions.emoji(messageID: messageID, on: db)
                if !present.contains(emoji), present.count >= MessageRules.maxEmojiPerMessage {
                    throw ServiceError.validation(["emoji": "a message takes at most \(MessageRules.maxEmojiPerMessage) different emoji"])
                }
                changed = try await reactions.add(messageID: messageID, emoji: emoji, userID: userID, now: now, on: db)
            } else {
                changed = try await reactions.remove(messageID: messageID, emoji: emoji, userID: userID, on: db)
            }
            let event = ReactionEvent(messageId: messageID, roomId: target.roomId, emoji: emoji, userId: userID, added: added)
            return (event, changed, changed ? try await log?.append([.messageChanged(.reaction(event))], on: db) : nil)
        }
        await log?.committed(through: position)
        return (event, changed)
    }

    /// Who reacted to a message of `roomID` (``ReactionStore/users(messageID:emoji:limit:on:)``):
    /// readable by whoever may read the room's history (``GuestRules/requireReadable(_:userID:on:)``:
    /// a public room's by anyone but a guest where guests are not allowed, others' by members).
    /// `limit` (users per emoji) defaults to 50, clamped to 1...``maxUsersPerEmoji``.
    ///
    /// Throws `room_not_found`, `not_a_member`, `guest_not_allowed`, `message_not_found` (not a
    /// message of this room).
    public func users(userID: Int64, roomID: Int64, messageID: Int64, emoji: String?, limit: Int?) async throws -> [ReactionUsers] {
        let limit = min(max(limit ?? 50, 1), Self.maxUsersPerEmoji)
        return try await database.read { db in
            guard let room = try await rooms.find(id: roomID, on: db) else { throw ServiceError.roomNotFound }
            try await GuestRules.requireReadable(room, userID: userID, on: db)
            guard let message = try await messages.find(id: messageID, on: db), message.roomId == roomID else { throw ServiceError.messageNotFound }
            return try await reactions.users(messageID: messageID, emoji: emoji, limit: limit, on: db)
        }
    }
}
