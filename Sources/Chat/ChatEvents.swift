import Accounts
import Models

/// Where the chat logic reports what changed, so the realtime side can push small
/// deltas. Called after the change has committed.
public protocol ChatEventSink: Sendable {
    func messageCreated(_ message: ChatMessage) async
    /// For `.joined`, the sink first subscribes the user's live connections to the room.
    /// For `.left`/`.removed`, it unsubscribes them after telling the room.
    func memberChanged(_ event: RoomMemberEvent) async
    func roomUpdated(_ event: RoomUpdatedEvent) async
    func roomDeleted(_ event: RoomDeletedEvent, memberIDs: [Int64]) async
    /// The user's read cursor moved: tell that user's other connections.
    func readMoved(userID: Int64, _ event: ReadEvent) async
}

/// Who is connected right now (the relay's in-memory map), for member lists.
public protocol PresenceDirectory: Sendable {
    func isOnline(userID: Int64) async -> Bool
}
