import Foundation

/// The wire shapes shared by REST and the realtime events. Times are ISO-8601
/// strings with milliseconds (UTC); ids are integers.

/// A chat message, as REST returns it and as `message:new` carries it.
public struct ChatMessage: Codable, Sendable, Equatable {
    public var id: Int64
    public var roomId: Int64
    public var authorId: Int64
    public var body: String
    public var createdAt: String
    public var clientMsgId: String?
    public var replyTo: Int64?
    public var editedAt: String?
    /// Display fields of the author, so a client need not look them up.
    public var author: UserSummary?
    /// Set on a deleted message (a tombstone): its `body` is then empty and it has no reactions.
    public var deletedAt: String?
    /// The message `replyTo` names, in short (present whenever `replyTo` is).
    public var replyPreview: ReplyPreview?
    /// Reactions, one entry per emoji in the order each was first used; absent when none.
    public var reactions: [ReactionCount]?
    /// The ids of the room members this message mentions (`@username`, docs/PROTOCOL.md
    /// "Mentions"), ascending; absent when none.
    public var mentions: [Int64]?

    public init(id: Int64, roomId: Int64, authorId: Int64, body: String, createdAt: String, clientMsgId: String? = nil,
                replyTo: Int64? = nil, editedAt: String? = nil, author: UserSummary? = nil, deletedAt: String? = nil,
                replyPreview: ReplyPreview? = nil, reactions: [ReactionCount]? = nil, mentions: [Int64]? = nil) {
        self.id = id
        self.roomId = roomId
        self.authorId = authorId
        self.body = body
        self.createdAt = createdAt
        self.clientMsgId = clientMsgId
        self.replyTo = replyTo
        self.editedAt = editedAt
        self.author = author
        self.deletedAt = deletedAt
        self.replyPreview = replyPreview
        self.reactions = reactions
        self.mentions = mentions
    }
}

/// Public profile of a user.
public struct UserSummary: Codable, Sendable, Equatable {
    public var id: Int64
    public var username: String
    public var displayName: String
    /// `true` for a guest (`POST /api/auth/guest`); absent for an account.
    public var guest: Bool?

    public init(id: Int64, username: String, displayName: String, guest: Bool = false) {
        self.id = id
        self.username = username
        self.displayName = displayName
        self.guest = guest ? true : nil
    }
}

public enum RoomKind: String, Codable, Sendable, CaseIterable {
    case `public`, `private`, direct
}

/// A member's role in a room, highest first: owner > admin > moderator > member > guest
/// (guests are members who signed in as guests). The rules over them are in Chat's `RoomRules`.
public enum RoomRole: String, Codable, Sendable, CaseIterable {
    case owner, admin, moderator, member, guest

    /// The role's rank: owner 4, admin 3, moderator 2, member 1, guest 0.
    public var rank: Int {
        switch self {
        case .owner: 4
        case .admin: 3
        case .moderator: 2
        case .member: 1
        case .guest: 0
        }
    }
}

/// `room:member`: someone joined, left or was removed/added.
public struct RoomMemberEvent: Codable, Sendable, Equatable {
    public enum Change: String, Codable, Sendable { case joined, left, removed }
    public var roomId: Int64
    public var change: Change
    public var user: UserSummary
    public var role: RoomRole?

    public init(roomId: Int64, change: Change, user: UserSummary, role: RoomRole?) {
        self.roomId = roomId
        self.change = change
        self.user = user
        self.role = role
    }
}

/// `read`: my last-read cursor in a room moved (sent to my own sockets).
public struct ReadEvent: Codable, Sendable, Equatable {
    public var roomId: Int64
    public var lastReadMessageId: Int64
    public var lastReadAt: String
    public var unreadCount: Int
    /// Messages after the cursor that mention me (capped like `unreadCount`).
    public var mentionCount: Int

    public init(roomId: Int64, lastReadMessageId: Int64, lastReadAt: String, unreadCount: Int, mentionCount: Int = 0) {
        self.roomId = roomId
        self.lastReadMessageId = lastReadMessageId
        self.lastReadAt = lastReadAt
        self.unreadCount = unreadCount
        self.mentionCount = mentionCount
    }
}

/// `room:updated`: name or topic changed.
public struct RoomUpdatedEvent: Codable, Sendable, Equatable {
    public var roomId: Int64
    public var name: String?
    public var topic: String?
    /// Whether guests may join (public rooms; absent for the others).
    public var allowGuests: Bool?

    public init(roomId: Int64, name: String?, topic: String?, allowGuests: Bool? = nil) {
        self.roomId = roomId
        self.name = name
        self.topic = topic
        self.allowGuests = allowGuests
    }
}

/// `room:deleted`.
public struct RoomDeletedEvent: Codable, Sendable, Equatable {
    public var roomId: Int64
    public init(roomId: Int64) { self.roomId = roomId }
}

/// `typing`: a member started or stopped typing.
public struct TypingEvent: Codable, Sendable, Equatable {
    public var roomId: Int64
    public var userId: Int64
    public var typing: Bool
    public init(roomId: Int64, userId: Int64, typing: Bool) {
        self.roomId = roomId
        self.userId = userId
        self.typing = typing
    }
}

/// `presence`: online while any connection of the user is open.
public struct PresenceEvent: Codable, Sendable, Equatable {
    public var userId: Int64
    public var online: Bool
    public var lastSeenAt: String?
    /// `true` when the user is a guest; absent for an account.
    public var guest: Bool?
    public init(userId: Int64, online: Bool, lastSeenAt: String?, guest: Bool = false) {
        self.userId = userId
        self.online = online
        self.lastSeenAt = lastSeenAt
        self.guest = guest ? true : nil
    }
}

/// `auth:token`: a fresh access token for the same session.
public struct AuthTokenEvent: Codable, Sendable, Equatable {
    public var accessToken: String
    public var expiresAt: String
    public init(accessToken: String, expiresAt: String) {
        self.accessToken = accessToken
        self.expiresAt = expiresAt
    }
}

/// Names of the realtime events, client → server and server → client.
public enum ChatEventName {
    public static let messageSend = "message:send"
    public static let roomRead = "room:read"
    public static let typing = "typing"
    public static let authRefresh = "auth:refresh"

    public static let messageNew = "message:new"
    public static let roomMember = "room:member"
    public static let roomUpdated = "room:updated"
    public static let roomDeleted = "room:deleted"
    public static let read = "read"
    public static let presence = "presence"
    public static let authToken = "auth:token"

    /// Moderation deltas (``ModerationEvent``).
    public static let memberRole = "member:role"
    public static let memberKicked = "member:kicked"
    public static let memberMuted = "member:muted"
    public static let memberUnmuted = "member:unmuted"
    public static let memberBanned = "member:banned"
    public static let memberUnbanned = "member:unbanned"
}
