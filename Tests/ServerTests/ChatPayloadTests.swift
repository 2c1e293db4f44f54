import Accounts
import Foundation
import Models
import Relay
import Testing

@testable import Server

/// Issue 14: the hot events' payloads are read straight from the relay's JSONValue and the
/// message built straight into one; both must say exactly what the Codable path says.
@Suite("Chat payloads without a JSON round trip")
struct ChatPayloadTests {
    static let sendPayloads: [String] = [
        #"{"roomId":1,"body":"hi"}"#,
        #"{"roomId":12,"body":"hi","clientMsgId":"c-1","replyTo":7}"#,
        #"{"roomId":12,"body":"hi","clientMsgId":null,"replyTo":null}"#,
        #"{"roomId":12,"body":"hi","extra":[1,2]}"#,
        #"{"roomId":-3,"body":""}"#,
        #"{"roomId":9007199254740991,"body":"x"}"#,
        #"{"roomId":1.5,"body":"hi"}"#,
        #"{"roomId":"1","body":"hi"}"#,
        #"{"roomId":1,"body":5}"#,
        #"{"roomId":1}"#,
        #"{"body":"hi"}"#,
        #"{"roomId":1,"body":"hi","clientMsgId":5}"#,
        #"{"roomId":1,"body":"hi","replyTo":"2"}"#,
        #"{"roomId":1,"body":"hi","replyTo":2.25}"#,
        #"{"roomId":1e300,"body":"hi"}"#,
        #"[1,2]"#,
        #""text""#,
        #"null"#,
    ]

    struct SendFields: Equatable { let roomId: Int64; let body: String; let clientMsgId: String?; let replyTo: Int64? }

    @Test("message:send payloads: accepted and refused exactly as by JSONDecoder", arguments: sendPayloads)
    func sendParity(text: String) throws {
        let value = try JSONValue(parsing: text)
        let direct = ChatGateway.SendRequest(json: value).map { SendFields(roomId: $0.roomId, body: $0.body, clientMsgId: $0.clientMsgId, replyTo: $0.replyTo) }
        let decoded = (try? value.decode(as: ChatGateway.SendRequest.self)).map {
            SendFields(roomId: $0.roomId, body: $0.body, clientMsgId: $0.clientMsgId, replyTo: $0.replyTo)
        }
        #expect(direct == decoded)
    }

    @Test("room:read and typing payloads: the same verdicts as JSONDecoder", arguments: [
        #"{"roomId":1,"messageId":2}"#, #"{"roomId":1,"messageId":2.5}"#, #"{"roomId":1}"#, #"{"roomId":1,"typing":true}"#,
        #"{"roomId":1,"typing":"yes"}"#, #"{"roomId":1,"typing":1}"#, #"{"typing":false}"#,
    ])
    func otherParity(text: String) throws {
        let value = try JSONValue(parsing: text)
        let read = ChatGateway.ReadRequest(json: value).map { [$0.roomId, $0.messageId] }
        let readDecoded = (try? value.decode(as: ChatGateway.ReadRequest.self)).map { [$0.roomId, $0.messageId] }
        #expect(read == readDecoded)
        let typing = ChatGateway.TypingRequest(json: value).map { "\($0.roomId) \($0.typing)" }
        let typingDecoded = (try? value.decode(as: ChatGateway.TypingRequest.self)).map { "\($0.roomId) \($0.typing)" }
        #expect(typing == typingDecoded)
    }

    @Test("a message as JSONValue is what its Encodable conformance gives")
    func messageParity() throws {
        let messages = [
            ChatMessage(id: 1, roomId: 2, authorId: 3, body: "hi \"there\"\n", createdAt: "2026-11-29T16:00:00.000Z"),
            ChatMessage(id: 9_007_199_254_740_991, roomId: 2, authorId: 3, body: "é", createdAt: "2026-11-29T16:00:00.000Z",
                        clientMsgId: "c-1", replyTo: 4, editedAt: "2026-11-29T16:00:01.000Z",
                        author: UserSummary(id: 3, username: "ann", displayName: "Ann")),
            ChatMessage(id: 5, roomId: 2, authorId: 3, body: "@bob @cat", createdAt: "2026-11-29T16:00:00.000Z", mentions: [4, 6]),
        ]
        for message in messages {
            #expect(message.jsonValue == (try JSONValue(encoding: message)))
        }
    }

    @Test("a message with every field set: JSONValue and Encodable agree (message:new's log row and the ack use the JSONValue)")
    func messageParityEveryField() throws {
        let message = ChatMessage(
            id: 12, roomId: 2, authorId: 3, body: "", createdAt: "2026-11-29T16:00:00.000Z", clientMsgId: "c-2", replyTo: 4,
            editedAt: "2026-11-29T16:00:01.000Z", author: UserSummary(id: 3, username: "ann", displayName: "Ann", guest: true),
            deletedAt: "2026-11-29T16:00:02.000Z",
            replyPreview: ReplyPreview(id: 4, authorId: 5, username: "bo", displayName: "Bo", excerpt: "earlier", deleted: true),
            reactions: [ReactionCount(emoji: "👍", count: 2, me: true)], mentions: [5, 7]
        )
        // A field added to ChatMessage must be set here (and then be in `jsonValue`): every optional is non-nil.
        for child in Mirror(reflecting: message).children {
            if let optional = child.value as? any OptionalProtocolForTest { #expect(optional.isSome, "\(child.label ?? "?") is nil") }
        }
        #expect(message.jsonValue == (try JSONValue(encoding: message)))
    }

    @Test("verified tokens: kept until expiry, dropped when their session is revoked")
    func tokenCache() {
        let cache = VerifiedTokenCache(maxEntries: 4)
        let now = Date(timeIntervalSince1970: 1_000)
        let a = AccessIdentity(userID: 1, sessionID: "s1", expiresAt: now.addingTimeInterval(60))
        let b = AccessIdentity(userID: 1, sessionID: "s2", expiresAt: now.addingTimeInterval(60))
        cache.remember("ta", a, now: now)
        cache.remember("tb", b, now: now)
        #expect(cache.identity(for: "ta", now: now) == a)
        #expect(cache.identity(for: "ta", now: now.addingTimeInterval(60)) == nil, "expired")
        cache.forget(sessionIDs: ["s2"])
        #expect(cache.identity(for: "tb", now: now) == nil, "revoked")
        for i in 0..<10 { cache.remember("t\(i)", a, now: now) }
        #expect(cache.count <= 4)
    }
}

protocol OptionalProtocolForTest { var isSome: Bool { get } }
extension Optional: OptionalProtocolForTest { var isSome: Bool { self != nil } }
