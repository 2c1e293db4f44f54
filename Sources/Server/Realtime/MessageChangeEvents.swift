import Accounts
import Chat
import Models
import Relay

/// The realtime events that change an existing message (docs/PROTOCOL.md): `message:edit`,
/// `message:delete`, `reaction:add`, `reaction:remove`. Each runs through ``ChatGateway/handle(_:_:_:_:_:)``
/// (token check, payload, ack); the deltas reach the room through the event log.
extension ChatGateway {
    struct EditRequest: Decodable { let roomId: Int64?; let messageId: Int64; let body: String }
    struct DeleteRequest: Decodable { let roomId: Int64?; let messageId: Int64 }
    struct ReactionRequest: Decodable { let roomId: Int64?; let messageId: Int64; let emoji: String }

    func installMessageChanges(_ socket: Socket, _ socketAuth: SocketAuth) {
        socket.on(ChatEventName.messageEdit) { args, ack in
            await handle(socket, socketAuth, args, ack) { (request: EditRequest, identity) in
                let event = try await edits.edit(userID: identity.userID, roomID: request.roomId, messageID: request.messageId, body: request.body)
                return .object(["ok": true, "message": try JSONValue(encoding: event)])
            }
        }
        socket.on(ChatEventName.messageDelete) { args, ack in
            await handle(socket, socketAuth, args, ack) { (request: DeleteRequest, identity) in
                let event = try await edits.delete(userID: identity.userID, roomID: request.roomId, messageID: request.messageId)
                return .object(["ok": true, "message": try JSONValue(encoding: event)])
            }
        }
        for (name, added) in [(ChatEventName.reactionAdd, true), (ChatEventName.reactionRemove, false)] {
            socket.on(name) { args, ack in
                await handle(socket, socketAuth, args, ack) { (request: ReactionRequest, identity) in
                    let outcome = try await reactions.react(
                        userID: identity.userID, roomID: request.roomId, messageID: request.messageId, emoji: request.emoji, added: added
                    )
                    return .object(["ok": true, "reaction": try JSONValue(encoding: outcome.event), "changed": .bool(outcome.changed)])
                }
            }
        }
    }
}

extension ChatGateway.EditRequest: JSONPayload {
    init?(json: JSONValue) {
        guard case .object(let o) = json, let roomId = PayloadField.optionalInt64(o["roomId"]),
              let messageId = PayloadField.int64(o["messageId"]), let body = PayloadField.string(o["body"]) else { return nil }
        self.init(roomId: roomId, messageId: messageId, body: body)
    }
}

extension ChatGateway.DeleteRequest: JSONPayload {
    init?(json: JSONValue) {
        guard case .object(let o) = json, let roomId = PayloadField.optionalInt64(o["roomId"]),
              let messageId = PayloadField.int64(o["messageId"]) else { return nil }
        self.init(roomId: roomId, messageId: messageId)
    }
}

extension ChatGateway.ReactionRequest: JSONPayload {
    init?(json: JSONValue) {
        guard case .object(let o) = json, let roomId = PayloadField.optionalInt64(o["roomId"]),
              let messageId = PayloadField.int64(o["messageId"]), let emoji = PayloadField.string(o["emoji"]) else { return nil }
        self.init(roomId: roomId, messageId: messageId, emoji: emoji)
    }
}

extension ReplyPreview {
    /// As its `Encodable` conformance gives it (nil fields left out), built without an encoder.
    var jsonValue: JSONValue {
        var object: [String: JSONValue] = [
            "id": .number(Double(id)), "authorId": .number(Double(authorId)), "username": .string(username), "displayName": .string(displayName),
        ]
        if let excerpt { object["excerpt"] = .string(excerpt) }
        if let deleted { object["deleted"] = .bool(deleted) }
        return .object(object)
    }
}
