import Accounts
import Chat
import Foundation
import Logging
import Models
import Relay

/// Socket.IO room names used by the chat.
enum ChatRooms {
    static func room(_ id: Int64) -> String { "room:\(id)" }
    static func user(_ id: Int64) -> String { "user:\(id)" }
    static func session(_ id: String) -> String { "session:\(id)" }
}

/// Broadcasts new messages and closes the sockets of revoked sessions. Every other chat delta
/// (membership, room changes, read cursors, presence) goes through the event log
/// (``ChatLogWriter``, ``LogTail``).
struct RelayChatEvents: ChatEventSink, SessionRevocationObserver {
    let namespace: Namespace
    let logger: Logger
    /// The gateway's verified access tokens: a revoked session's are dropped here at once.
    var verifiedTokens = VerifiedTokenCache()

    func messageCreated(_ message: ChatMessage) async {
        // Built straight into a JSONValue (no encoder); the relay encodes the packet once for all recipients.
        await namespace.to(ChatRooms.room(message.roomId)).emit(ChatEventName.messageNew, message.jsonValue)
    }

    func sessionsRevoked(userID: Int64, sessionIDs: [String], reason: String) async {
        guard !sessionIDs.isEmpty else { return }
        verifiedTokens.forget(sessionIDs: sessionIDs)
        logger.info("closing sockets of revoked sessions", metadata: ["user.id": "\(userID)", "reason": "\(reason)", "count": "\(sessionIDs.count)"])
        // Other nodes first forget the sessions (REST refuses their tokens there too), then close
        // their sockets: both travel over the adapter, in this order (no-ops on one node).
        await namespace.serverSideEmit(Cluster.sessionsEndedEvent, arguments: sessionIDs.map(JSONValue.string))
        await namespace.in(ChatRooms.session(sessionIDs[0])).to(sessionIDs.dropFirst().map(ChatRooms.session)).disconnectSockets()
    }

    private func emit(_ target: BroadcastOperator, _ event: String, _ payload: some Encodable) async {
        do {
            try await target.emit(event, payload)
        } catch {
            logger.error("could not encode realtime event", metadata: ["event": "\(event)"])
        }
    }
}
