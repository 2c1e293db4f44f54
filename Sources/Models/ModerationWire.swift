/// The wire shapes of room moderation (issue 16): the deltas a room hears and the audit log's
/// entries. Times are ISO-8601 strings with milliseconds (UTC).

/// One moderation action, as the audit log names it and as its delta is called.
public enum ModerationAction: String, Codable, Sendable, CaseIterable {
    case role, kick, mute, unmute, ban, unban

    /// The realtime event announcing the action (``ChatEventName``).
    public var eventName: String {
        switch self {
        case .role: ChatEventName.memberRole
        case .kick: ChatEventName.memberKicked
        case .mute: ChatEventName.memberMuted
        case .unmute: ChatEventName.memberUnmuted
        case .ban: ChatEventName.memberBanned
        case .unban: ChatEventName.memberUnbanned
        }
    }
}

/// `member:role`, `member:kicked`, `member:muted`, `member:unmuted`, `member:banned`,
/// `member:unbanned`: `by` did the action to `user` in `roomId`. `role` (the new role) only on
/// `member:role`; `until` (when the mute ends) and `durationSeconds` only on `member:muted`;
/// `reason` when one was given (kick, mute, ban).
public struct ModerationEvent: Codable, Sendable, Equatable {
    public var roomId: Int64
    public var user: UserSummary
    public var by: UserSummary
    public var role: RoomRole?
    public var reason: String?
    public var until: String?
    public var durationSeconds: Int?

    public init(roomId: Int64, user: UserSummary, by: UserSummary, role: RoomRole? = nil, reason: String? = nil, until: String? = nil,
                durationSeconds: Int? = nil) {
        self.roomId = roomId
        self.user = user
        self.by = by
        self.role = role
        self.reason = reason
        self.until = until
        self.durationSeconds = durationSeconds
    }
}

/// One entry of a room's audit log (`GET /api/rooms/{id}/audit-log`): who (`actor`) did what
/// (`action`) to whom (`target`), why (`reason`) and when (`createdAt`); `role` is the new role of
/// a `role` action, `until` the end of a `mute`. `actor` / `target` are nil when that account is gone.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var id: Int64
    public var action: ModerationAction
    public var actor: UserSummary?
    public var target: UserSummary?
    public var role: RoomRole?
    public var reason: String?
    public var until: String?
    public var createdAt: String

    public init(id: Int64, action: ModerationAction, actor: UserSummary?, target: UserSummary?, role: RoomRole?, reason: String?,
                until: String?, createdAt: String) {
        self.id = id
        self.action = action
        self.actor = actor
        self.target = target
        self.role = role
        self.reason = reason
        self.until = until
        self.createdAt = createdAt
    }
}
