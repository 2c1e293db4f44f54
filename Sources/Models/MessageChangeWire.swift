/// Wire types of rich messages (issue 15, docs/PROTOCOL.md): reply previews, reaction counts and
/// the deltas of edits, deletes and reactions.

/// The parent of a reply, in short: enough to quote it above the reply.
public struct ReplyPreview: Codable, Sendable, Equatable {
    public var id: Int64
    public var authorId: Int64
    public var username: String
    public var displayName: String
    /// The parent's first 100 characters (grapheme clusters, so an emoji is never cut), runs of
    /// white space folded to one space; absent when the parent is deleted.
    public var excerpt: String?
    /// True when the parent was deleted (then there is no excerpt).
    public var deleted: Bool?

    public init(id: Int64, authorId: Int64, username: String, displayName: String, excerpt: String?, deleted: Bool?) {
        self.id = id
        self.authorId = authorId
        self.username = username
        self.displayName = displayName
        self.excerpt = excerpt
        self.deleted = deleted
    }
}

/// One emoji's reactions on a message as the viewer sees them.
public struct ReactionCount: Codable, Sendable, Equatable {
    public var emoji: String
    public var count: Int
    /// Whether the viewer is among them (false in the `message:new` delta, which has no reactions).
    public var me: Bool

    public init(emoji: String, count: Int, me: Bool) {
        self.emoji = emoji
        self.count = count
        self.me = me
    }
}

/// `message:updated`: a message's body was edited.
public struct MessageUpdatedEvent: Codable, Sendable, Equatable {
    public var id: Int64
    public var roomId: Int64
    public var body: String
    public var editedAt: String
    /// The members the new body mentions (docs/PROTOCOL.md "Mentions"), ascending; absent when none.
    public var mentions: [Int64]?

    public init(id: Int64, roomId: Int64, body: String, editedAt: String, mentions: [Int64]? = nil) {
        self.id = id
        self.roomId = roomId
        self.body = body
        self.editedAt = editedAt
        self.mentions = mentions
    }
}

/// `message:deleted`: a message became a tombstone.
public struct MessageDeletedEvent: Codable, Sendable, Equatable {
    public var id: Int64
    public var roomId: Int64
    public var deletedAt: String

    public init(id: Int64, roomId: Int64, deletedAt: String) {
        self.id = id
        self.roomId = roomId
        self.deletedAt = deletedAt
    }
}

/// `reaction`: a user added or removed one emoji reaction.
public struct ReactionEvent: Codable, Sendable, Equatable {
    public var messageId: Int64
    public var roomId: Int64
    public var emoji: String
    public var userId: Int64
    public var added: Bool

    public init(messageId: Int64, roomId: Int64, emoji: String, userId: Int64, added: Bool) {
        self.messageId = messageId
        self.roomId = roomId
        self.emoji = emoji
        self.userId = userId
        self.added = added
    }
}

/// One emoji's reactors (`GET /api/rooms/{roomId}/messages/{messageId}/reactions`).
public struct ReactionUsers: Codable, Sendable, Equatable {
    public var emoji: String
    /// How many reacted with it.
    public var count: Int
    /// The first of them by reaction time (at most the request's `limit`).
    public var users: [UserSummary]
    /// Whether more users reacted than `users` lists.
    public var hasMore: Bool

    public init(emoji: String, count: Int, users: [UserSummary], hasMore: Bool) {
        self.emoji = emoji
        self.count = count
        self.users = users
        self.hasMore = hasMore
    }
}

extension ChatEventName {
    public static let messageEdit = "message:edit"
    public static let messageDelete = "message:delete"
    public static let reactionAdd = "reaction:add"
    public static let reactionRemove = "reaction:remove"

    public static let messageUpdated = "message:updated"
    public static let messageDeleted = "message:deleted"
    public static let reaction = "reaction"
}
