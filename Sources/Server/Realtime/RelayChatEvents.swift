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

/// Turns committed chat changes and session revocations into small Socket.IO deltas.
struct RelayChatEvents: ChatEventSink, SessionRevocationObserver {
    let namespace: Namespace
    let logger: Logger

    func messageCreated(_ message: ChatMessage) async {
        await emit(namespace.to(ChatRooms.room(message.roomId)), ChatEventName.messageNew, message)
    }

    func memberChanged(_ event: RoomMemberEvent) async {
        let room = ChatRooms.room(event.roomId)
        switch event.change {
        case .joined:
            await namespace.in(ChatRooms.user(event.user.id)).socketsJoin(room)
            await emit(namespace.to(room), ChatEventName.roomMember, event)
        case .left, .removed:
            await emit(namespace.to(room), ChatEventName.roomMember, event)
            await namespace.in(ChatRooms.user(event.user.id)).socketsLeave(room)
        }
    }

    func roomUpdated(_ event: RoomUpdatedEvent) async {
        await emit(namespace.to(ChatRooms.room(event.roomId)), ChatEventName.roomUpdated, event)
    }

    func roomDeleted(_ event: RoomDeletedEvent, memberIDs: [Int64]) async {
        let room = ChatRooms.room(event.roomId)
        await emit(namespace.to(room).to(memberIDs.map(ChatRooms.user)), ChatEventName.roomDeleted, event)
        await namespace.in(room).socketsLeave(room)
    }

    func readMoved(userID: Int64, _ event: ReadEvent) async {
        await emit(namespace.to(ChatRooms.user(userID)), ChatEventName.read, event)
    }

    func sessionsRevoked(userID: Int64, sessionIDs: [String], reason: String) async {
        guard !sessionIDs.isEmpty else { return }
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
