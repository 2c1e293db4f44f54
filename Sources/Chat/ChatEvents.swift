import Accounts
import Models
import SQLKit

/// Where ``MessageService`` reports a new message after it committed (the realtime side
/// broadcasts it). Every other change is appended to the ``ChatEventLog`` in its transaction.
public protocol ChatEventSink: Sendable {
    func messageCreated(_ message: ChatMessage) async
}

/// A committed chat change that clients hear about as a realtime delta (docs/PROTOCOL.md).
public enum ChatDelta: Sendable, Equatable {
    case messageCreated(ChatMessage)
    /// `.joined`: the user's connections are subscribed to the room before the event reaches
    /// them; `.left` / `.removed`: the user hears it too, then is unsubscribed.
    case memberChanged(RoomMemberEvent)
    case roomUpdated(RoomUpdatedEvent)
    /// The room's members (given, as the memberships are gone) hear it; every connection leaves the room.
    case roomDeleted(RoomDeletedEvent, memberIDs: [Int64])
    /// The user's read cursor moved: for that user's connections only.
    case readMoved(userID: Int64, ReadEvent)
    /// The user went online or offline: for the rooms they are in.
    case presence(PresenceEvent, roomIDs: [Int64])
    /// A message was edited, deleted or reacted to: for its room.
    case messageChanged(MessageChange)
    /// A moderation action (`member:role`, `member:kicked`, …): for the room and, for a kick or
    /// a ban, the target's own connections too (a kick or ban of a member is followed by
    /// `memberChanged(.removed)`, which takes their connections out of the room).
    case moderation(ModerationAction, ModerationEvent)
}

/// The durable event log as the chat sees it (implemented in Server over its `event_log`), so
/// that a change and the event reporting it commit together: a client that reconnects gets
/// every event it missed, and an acknowledged change is never missing from the log.
///
/// Use: inside the change's `database.write`, `let position = try await log.append(deltas, on: db)`
/// as the LAST statement (on PostgreSQL it takes a lock every appender waits for until COMMIT);
/// after the commit, `await log.committed(through: position)`.
public protocol ChatEventLog: Sendable {
    /// Appends `deltas` in the caller's transaction; returns the log position of the last one
    /// (nil when nothing was appended).
    func append(_ deltas: [ChatDelta], on db: any SQLDatabase) async throws -> UInt64?
    /// Called after COMMIT: returns once this node delivered the log through `position` to its
    /// connections, so the caller's answer leaves after its own event.
    func committed(through position: UInt64?) async
    /// Called first in a transaction that assigns ids whose order its events must keep (a batch
    /// of messages): from here to COMMIT no other appender can commit, so ids assigned in this
    /// transaction come after every committed one's, on every node. PostgreSQL: takes the
    /// appenders' lock early (``append(_:on:)`` takes it again, which is a no-op); SQLite's
    /// one writer already orders them.
    func reserveOrder(on db: any SQLDatabase) async throws
}

extension ChatEventLog {
    public func reserveOrder(on db: any SQLDatabase) async throws {}
}

/// Who is connected right now (the relay's in-memory map), for member lists.
public protocol PresenceDirectory: Sendable {
    func isOnline(userID: Int64) async -> Bool
}
