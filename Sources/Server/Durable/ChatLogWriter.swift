import Chat
import Models
import Relay
import SQLKit

/// The chat's ``ChatEventLog`` over this node's ``EventLogStore`` and ``LogTail``: turns each
/// ``ChatDelta`` into a log row addressed to Socket.IO rooms (`room:<id>`, `user:<id>`, names in
/// ``ChatRooms``) of the default namespace, with the membership effect the delta implies, and
/// after the commit waits until the tail delivered it on this node.
///
/// Addressing (docs/PROTOCOL.md lists the events):
/// - `message:new`, `message:updated`, `message:deleted`, `reaction`, `room:updated`, `presence`: the room(s).
/// - `room:member` joined: the room, after the user's sockets joined it (join effect).
/// - `room:member` left / removed: the room and `user:<id>` (so the user's own sockets get it even
///   after they left, and a recovering socket, which is filtered by its current rooms, still
///   gets its own removal), then the user's sockets leave the room (leave effect).
/// - `room:deleted`: the room and each former member's `user:<id>`; then every socket leaves the room.
/// - `read`: `user:<id>` (the reader's own sockets).
/// - `member:role`, `member:muted`, `member:unmuted`, `member:unbanned`: the room.
/// - `member:kicked`, `member:banned`: the room and `user:<id>` (the target hears why; the
///   `room:member` removal that follows takes their sockets out of the room on every node).
struct ChatLogWriter: ChatEventLog {
    let log: EventLogStore
    let tail: LogTail

    func append(_ deltas: [ChatDelta], on db: any SQLDatabase) async throws -> UInt64? {
        let entries = try deltas.compactMap(Self.entry)
        guard !entries.isEmpty else { return nil }
        for delta in deltas { try await redactEarlierRows(for: delta, on: db) }
        let records = try await log.appendRecords(entries, on: db)
        // Kept for the tail until `committed(through:)`: delivered from memory, not read back.
        tail.keep(records)
        return records.last?.seq
    }

    func committed(through position: UInt64?) async {
        guard let position else { return }
        await tail.delivered(through: position)
    }

    func reserveOrder(on db: any SQLDatabase) async throws {
        try await log.lockAppenders(on: db)
    }

    /// A delete erases the message's body from its earlier `message:new` / `message:updated`
    /// rows (body "", `deletedAt` set, no `mentions`); an edit puts the new body (and its
    /// `editedAt`, `mentions`) into them, so the pre-edit body is gone too. docs/PROTOCOL.md:
    /// a deleted message's body is erased from storage, and the log is storage.
    private func redactEarlierRows(for delta: ChatDelta, on db: any SQLDatabase) async throws {
        guard case .messageChanged(let change) = delta else { return }
        let earlier = [ChatEventName.messageNew, ChatEventName.messageUpdated]
        switch change {
        case .deleted(let event):
            try await log.redact(messageID: event.id, events: earlier, on: db) { payload in
                payload["body"] = .string("")
                payload["deletedAt"] = .string(event.deletedAt)
                payload["mentions"] = nil
            }
        case .updated(let event):
            try await log.redact(messageID: event.id, events: earlier, on: db) { payload in
                payload["body"] = .string(event.body)
                payload["editedAt"] = .string(event.editedAt)
                payload["mentions"] = event.mentions.map { .array($0.map { .number(Double($0)) }) }
            }
        case .reaction:
            return
        }
    }

    /// The log row of one delta (nil for a presence change of a user in no room).
    static func entry(_ delta: ChatDelta) throws -> EventLogEntry? {
        var entry = try baseEntry(delta)
        switch delta {
        case .messageCreated(let message): entry?.messageID = message.id
        case .messageChanged(.updated(let event)): entry?.messageID = event.id
        case .messageChanged(.deleted(let event)): entry?.messageID = event.id
        default: break
        }
        return entry
    }

    private static func baseEntry(_ delta: ChatDelta) throws -> EventLogEntry? {
        switch delta {
        case .messageCreated(let message):
            // The hand-built JSONValue the ack also sends (ChatPayloads; its test holds it equal to
            // the Encodable form for a message with every field set): the hottest row, no coder.
            return EventLogEntry(event: ChatEventName.messageNew, arguments: [message.jsonValue], rooms: [ChatRooms.room(message.roomId)])
        case .memberChanged(let event):
            let room = ChatRooms.room(event.roomId), user = ChatRooms.user(event.user.id)
            switch event.change {
            case .joined:
                return try EventLogEntry(event: ChatEventName.roomMember, payload: event, rooms: [room], effect: .join(subjectRoom: user, rooms: [room]))
            case .left, .removed:
                return try EventLogEntry(event: ChatEventName.roomMember, payload: event, rooms: [room, user], effect: .leave(subjectRoom: user, rooms: [room]))
            }
        case .roomUpdated(let event):
            return try EventLogEntry(event: ChatEventName.roomUpdated, payload: event, rooms: [ChatRooms.room(event.roomId)])
        case .roomDeleted(let event, let memberIDs):
            let room = ChatRooms.room(event.roomId)
            return try EventLogEntry(
                event: ChatEventName.roomDeleted, payload: event, rooms: [room] + memberIDs.map(ChatRooms.user),
                effect: .leave(subjectRoom: room, rooms: [room])
            )
        case .readMoved(let userID, let event):
            return try EventLogEntry(event: ChatEventName.read, payload: event, rooms: [ChatRooms.user(userID)])
        case .presence(let event, let roomIDs):
            guard !roomIDs.isEmpty else { return nil }
            return try EventLogEntry(event: ChatEventName.presence, payload: event, rooms: roomIDs.map(ChatRooms.room))
        case .messageChanged(let change):
            let room = [ChatRooms.room(change.roomID)]
            switch change {
            case .updated(let event): return try EventLogEntry(event: ChatEventName.messageUpdated, payload: event, rooms: room)
            case .deleted(let event): return try EventLogEntry(event: ChatEventName.messageDeleted, payload: event, rooms: room)
            case .reaction(let event): return try EventLogEntry(event: ChatEventName.reaction, payload: event, rooms: room)
            }
        case .moderation(let action, let event):
            let room = ChatRooms.room(event.roomId)
            let rooms = action == .kick || action == .ban ? [room, ChatRooms.user(event.user.id)] : [room]
            return try EventLogEntry(event: action.eventName, payload: event, rooms: rooms)
        }
    }
}
