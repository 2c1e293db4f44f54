import Accounts
import Foundation
import Models

/// A room as the member sees it in their list (`GET /api/rooms`, and the answer to create,
/// join, update and direct). Times are ISO-8601 with milliseconds (``WireTime``).
public struct RoomView: Codable, Sendable, Equatable {
    public struct LastMessage: Codable, Sendable, Equatable {
        public var id: Int64
        public var authorId: Int64
        /// The first 140 characters of the body.
        public var body: String
        public var createdAt: String
    }
    public var id: Int64
    public var kind: RoomKind
    /// A direct room's name is the peer's display name.
    public var name: String
    public var topic: String?
    public var role: RoomRole?
    /// Shown to owners and admins of private rooms only.
    public var joinCode: String?
    public var hasPassword: Bool
    /// Messages after my read cursor not written by me, capped at ``unreadCountCap``.
    public var unreadCount: Int
    /// Messages after my read cursor that mention me (``MentionStore``), capped like ``unreadCount``.
    public var mentionCount: Int
    /// Whether guests may join (public rooms; `POST /api/rooms`, `PATCH /api/rooms/{id}`).
    public var allowGuests: Bool
    public var lastReadMessageId: Int64
    public var lastReadAt: String?
    public var lastMessage: LastMessage?
    public var memberCount: Int
    /// The other person of a direct room; nil for other kinds.
    public var peer: UserSummary?
    public var createdAt: String
}

extension RoomView {
    /// One row of ``RoomStore/listForUser(_:onlyRoom:on:)`` with the peer of a direct room.
    init(_ row: RoomListRow, peer: UserSummary?) {
        let kind = RoomKind(rawValue: row.kind) ?? .private
        self.init(
            id: row.id, kind: kind, name: kind == .direct ? (peer?.displayName ?? "Direct message") : (row.name ?? ""),
            topic: row.topic, role: RoomRole(rawValue: row.role), joinCode: row.joinCode, hasPassword: row.hasPassword != 0,
            unreadCount: Int(row.unreadCount), mentionCount: Int(row.mentionCount), allowGuests: row.allowGuests == 1, lastReadMessageId: row.lastReadMessageId,
            lastReadAt: row.lastReadAt.map { WireTime.string(millis: $0) },
            lastMessage: row.lastMessageId.map {
                LastMessage(id: $0, authorId: row.lastMessageAuthorId ?? 0, body: row.lastMessageBody ?? "",
                            createdAt: WireTime.string(millis: row.lastMessageCreatedAt ?? 0))
            },
            memberCount: Int(row.memberCount), peer: kind == .direct ? peer : nil, createdAt: WireTime.string(millis: row.createdAt)
        )
    }
}
