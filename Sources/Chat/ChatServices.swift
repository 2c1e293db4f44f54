import Accounts
import Logging

/// The chat services built over one database, clock, verification gate, event sink and log: the
/// composition root builds them once and hands each caller the ones it uses.
public struct ChatServices: Sendable {
    public let rooms: RoomService
    public let messages: MessageService
    public let readCursors: ReadCursorService
    /// Edits and deletes (``MessageEditService``).
    public let edits: MessageEditService
    /// Emoji reactions (``ReactionService``).
    public let reactions: ReactionService
    public let moderation: ModerationService

    public init(database: any Database, hasher: PasswordHasher, clock: AccountsClock = .system, verification: EmailVerificationGate,
                events: (any ChatEventSink)?, log: (any ChatEventLog)? = nil, editWindow: Duration = MessageRules.defaultEditWindow, logger: Logger) {
        rooms = RoomService(database: database, hasher: hasher, clock: clock, verification: verification, events: events, log: log, logger: logger)
        messages = MessageService(database: database, clock: clock, verification: verification, events: events, log: log)
        readCursors = ReadCursorService(database: database, clock: clock, log: log)
        edits = MessageEditService(database: database, clock: clock, log: log, editWindow: editWindow)
        reactions = ReactionService(database: database, clock: clock, log: log)
        moderation = ModerationService(database: database, clock: clock, log: log, logger: logger)
    }
}
