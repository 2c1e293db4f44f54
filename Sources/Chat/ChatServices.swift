import Accounts
import Logging

/// The chat services built over one database, clock, verification gate, event sink and log: the
/// composition root builds them once and hands each caller the ones it uses.
public struct ChatServices: Sendable {
    public let rooms: RoomService
    public let messages: MessageService
    public let readCursors: ReadCursorService

    public init(database: any Database, hasher: PasswordHasher, clock: AccountsClock = .system, verification: EmailVerificationGate,
                events: (any ChatEventSink)?, log: (any ChatEventLog)? = nil, logger: Logger) {
        rooms = RoomService(database: database, hasher: hasher, clock: clock, verification: verification, events: events, log: log, logger: logger)
        messages = MessageService(database: database, clock: clock, verification: verification, events: events, log: log)
        readCursors = ReadCursorService(database: database, clock: clock, log: log)
    }
}
