import Accounts
import Foundation
import Models

/// Read cursors: `POST /api/rooms/{id}/read` and the realtime `room:read`. A cursor only moves
/// forward; unread counts are capped at ``unreadCountCap``.
public struct ReadCursorService: Sendable {
    let database: any Database
    let clock: AccountsClock
    let log: (any ChatEventLog)?
    let rooms = RoomStore()
    let messages = MessageStore()
    let cursors = ReadCursorStore()

    public init(database: any Database, clock: AccountsClock = .system, log: (any ChatEventLog)?) {
        self.database = database
        self.clock = clock
        self.log = log
    }

    /// Moves my read cursor forward to `messageID` (never back) and tells my other connections.
    /// Returns the cursor after the move with my unread and mention counts after it.
    ///
    /// Throws `not_a_member`, `validation_failed` (`messageId` not in this room).
    public func markRead(userID: Int64, roomID: Int64, messageID: Int64) async throws -> ReadEvent {
        let now = clock.now().millis
        let (event, position) = try await database.write { db -> (ReadEvent, UInt64?) in
            guard try await rooms.membership(roomID: roomID, userID: userID, on: db) != nil else { throw ServiceError.notAMember }
            guard let message = try await messages.find(id: messageID, on: db), message.roomId == roomID else {
                throw ServiceError.validation(["messageId": "must be a message in this room"])
            }
            guard let membership = try await cursors.markRead(roomID: roomID, userID: userID, messageID: messageID, now: now, on: db) else {
                throw ServiceError.notAMember
            }
            let unread = try await cursors.unreadCount(roomID: roomID, userID: userID, after: membership.lastReadMessageId, on: db)
            let mentioned = try await MentionStore().count(roomID: roomID, userID: userID, after: membership.lastReadMessageId, on: db)
            let event = ReadEvent(
                roomId: roomID, lastReadMessageId: membership.lastReadMessageId,
                lastReadAt: WireTime.string(millis: membership.lastReadAt ?? now), unreadCount: unread, mentionCount: mentioned
            )
            return (event, try await log?.append([.readMoved(userID: userID, event)], on: db))
        }
        await log?.committed(through: position)
        return event
    }
}
