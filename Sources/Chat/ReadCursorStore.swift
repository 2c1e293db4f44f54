import Foundation
import SQLKit

/// The read cursor a membership carries (`memberships.last_read_message_id`, `last_read_at` ms)
/// and the unread count after it. Posting moves the author's cursor too, inside
/// ``MessageStore/insert(roomID:authorID:body:clientMsgID:replyTo:now:on:)``.
public struct ReadCursorStore: Sendable {
    public init() {}

    let memberships = RoomStore()

    /// Moves the read cursor forward only (an older `messageID` changes nothing); returns the
    /// membership after the move, nil when the user is not a member.
    public func markRead(roomID: Int64, userID: Int64, messageID: Int64, now: Int64, on db: any SQLDatabase) async throws -> MembershipRecord? {
        try await db.raw(
            """
            UPDATE memberships SET last_read_message_id = \(bind: messageID), last_read_at = \(bind: now)
            WHERE room_id = \(bind: roomID) AND user_id = \(bind: userID) AND last_read_message_id < \(bind: messageID)
            """
        ).run()
        return try await memberships.membership(roomID: roomID, userID: userID, on: db)
    }

    /// Messages after `messageID` in the room not written by `userID`, capped at ``unreadCountCap``.
    public func unreadCount(roomID: Int64, userID: Int64, after messageID: Int64, on db: any SQLDatabase) async throws -> Int {
        struct Row: Decodable { let n: Int64 }
        let row = try await db.raw(
            """
            SELECT COUNT(*) AS n FROM (
                SELECT 1 FROM messages WHERE room_id = \(bind: roomID) AND id > \(bind: messageID) AND author_id <> \(bind: userID)
                LIMIT \(unsafeRaw: String(unreadCountCap))) AS unread
            """
        ).first(decoding: Row.self)
        return Int(row?.n ?? 0)
    }
}
