import Accounts
import Foundation
import Models
import Relay
import Synchronization

/// The hot events' payloads read straight out of the relay's ``JSONValue`` and their answers
/// built straight into one, without the round trip through bytes and `JSONDecoder` /
/// `JSONEncoder` that `JSONValue.decode(as:)` and `JSONValue(encoding:)` take (profiling a
/// `message:send` showed that round trip, twice per message, among its larger costs).
///
/// The rules are those of the synthesized `Decodable` conformance the payload structs also
/// have: an integer field takes a JSON number with no fractional part (Int64 range), a string
/// field a JSON string, an optional field may be missing or `null`; anything else is malformed.
/// Unknown keys are ignored.
protocol JSONPayload: Decodable {
    init?(json: JSONValue)
}

enum PayloadField {
    /// A required integer, or nil when missing, null, fractional, out of range or not a number.
    static func int64(_ value: JSONValue?) -> Int64? {
        guard case .number(let n)? = value, n.rounded(.towardZero) == n, n >= -9.223372036854775808e18, n < 9.223372036854775808e18 else {
            return nil
        }
        return Int64(n)
    }

    /// An optional integer: `.some(nil)` when missing or null, nil when malformed.
    static func optionalInt64(_ value: JSONValue?) -> Int64?? {
        switch value {
        case nil, .null?: return .some(nil)
        default: return int64(value).map { .some($0) }
        }
    }

    static func string(_ value: JSONValue?) -> String? {
        if case .string(let s)? = value { return s }
        return nil
    }

    /// An optional string: `.some(nil)` when missing or null, nil when malformed.
    static func optionalString(_ value: JSONValue?) -> String?? {
        switch value {
        case nil, .null?: return .some(nil)
        case .string(let s)?: return .some(s)
        default: return nil
        }
    }

    static func bool(_ value: JSONValue?) -> Bool? {
        if case .bool(let b)? = value { return b }
        return nil
    }
}

extension ChatGateway.SendRequest: JSONPayload {
    init?(json: JSONValue) {
        guard case .object(let o) = json,
              let roomId = PayloadField.int64(o["roomId"]),
              let body = PayloadField.string(o["body"]),
              let clientMsgId = PayloadField.optionalString(o["clientMsgId"]),
              let replyTo = PayloadField.optionalInt64(o["replyTo"]) else { return nil }
        self.init(roomId: roomId, body: body, clientMsgId: clientMsgId, replyTo: replyTo)
    }
}

extension ChatGateway.ReadRequest: JSONPayload {
    init?(json: JSONValue) {
        guard case .object(let o) = json, let roomId = PayloadField.int64(o["roomId"]), let messageId = PayloadField.int64(o["messageId"]) else {
            return nil
        }
        self.init(roomId: roomId, messageId: messageId)
    }
}

extension ChatGateway.TypingRequest: JSONPayload {
    init?(json: JSONValue) {
        guard case .object(let o) = json, let roomId = PayloadField.int64(o["roomId"]), let typing = PayloadField.bool(o["typing"]) else {
            return nil
        }
        self.init(roomId: roomId, typing: typing)
    }
}

extension ChatMessage {
    /// This message as the relay sends it: the same object its `Encodable` conformance gives
    /// (optional fields left out when nil), built without an encoder.
    var jsonValue: JSONValue {
        var object: [String: JSONValue] = [
            "id": .number(Double(id)), "roomId": .number(Double(roomId)), "authorId": .number(Double(authorId)),
            "body": .string(body), "createdAt": .string(createdAt),
        ]
        if let clientMsgId { object["clientMsgId"] = .string(clientMsgId) }
        if let replyTo { object["replyTo"] = .number(Double(replyTo)) }
        if let editedAt { object["editedAt"] = .string(editedAt) }
        if let deletedAt { object["deletedAt"] = .string(deletedAt) }
        if let replyPreview { object["replyPreview"] = replyPreview.jsonValue }
        if let mentions { object["mentions"] = .array(mentions.map { .number(Double($0)) }) }
        if let reactions {
            object["reactions"] = .array(reactions.map {
                .object(["emoji": .string($0.emoji), "count": .number(Double($0.count)), "me": .bool($0.me)])
            })
        }
        if let author {
            var summary: [String: JSONValue] = [
                "id": .number(Double(author.id)), "username": .string(author.username), "displayName": .string(author.displayName),
            ]
            if author.guest == true { summary["guest"] = .bool(true) }
            object["author"] = .object(summary)
        }
        return .object(object)
    }
}

/// Access tokens whose signature and claims were verified, kept until they expire, so a
/// token presented again (a reconnect, a page reload, several tabs) costs a dictionary
/// lookup instead of a JWT parse and an HMAC. Only the token's own verdict is cached: the
/// session's liveness is still asked of ``SessionLiveness`` on every use, and the entries of
/// a revoked session are dropped at once (``forget(sessionIDs:)``, from the revocation observer).
///
/// Bounded: past `maxEntries` the expired entries are swept, and if that is not enough the
/// cache starts over (dropping an entry only costs one verification).
final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[String: AccessIdentity]>([:])
    let maxEntries: Int

    init(maxEntries: Int = 50_000) { self.maxEntries = maxEntries }

    /// The identity of a token verified before and not yet expired at `now`.
    func identity(for token: String, now: Date) -> AccessIdentity? {
        entries.withLock { entries in
            guard let identity = entries[token] else { return nil }
            guard identity.expiresAt > now else {
                entries[token] = nil
                return nil
            }
            return identity
        }
    }

    func remember(_ token: String, _ identity: AccessIdentity, now: Date) {
        entries.withLock { entries in
            if entries.count >= maxEntries {
                entries = entries.filter { $0.value.expiresAt > now }
                if entries.count >= maxEntries * 3 / 4 { entries = [:] }
            }
            entries[token] = identity
        }
    }

    /// Drops every token of these sessions (they were revoked).
    func forget(sessionIDs: some Sequence<String>) {
        let ended = Set(sessionIDs)
        guard !ended.isEmpty else { return }
        entries.withLock { entries in entries = entries.filter { !ended.contains($0.value.sessionID) } }
    }

    var count: Int { entries.withLock { $0.count } }
}
