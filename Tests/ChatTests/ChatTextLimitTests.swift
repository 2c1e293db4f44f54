@testable import Accounts
@testable import Chat
import Foundation
import Models
import Testing
import TestSupport

/// Chat's length limits count Unicode scalars, as docs/openapi.yaml and PROTOCOL.md say:
/// never grapheme clusters (a letter with thousands of combining accents is one grapheme).
@Suite("Chat text limits count Unicode scalars")
struct ChatTextLimitTests {
    /// "e" followed by `marks` combining acute accents (U+0301): one grapheme, 1 + marks scalars.
    static func stacked(_ marks: Int) -> String {
        "e" + String(repeating: "\u{0301}", count: marks)
    }

    @Test("chat fields: body, room name, topic, clientMsgId, room password", arguments: TestDatabases.kinds)
    func chatFields(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann")
            func refusedField(_ body: () async throws -> Void) async -> [String: String]? {
                do { try await body() } catch let error as ServiceError where error.code.rawValue == "validation_failed" { return error.fields } catch { return ["unexpected": "\(error)"] }
                return nil
            }
            // room name 1–64, topic ≤ 256
            #expect(await refusedField { _ = try await h.rooms.create(userID: ann, .init(name: Self.stacked(64), kind: .public, topic: nil, password: nil)) }?["name"] != nil)
            #expect(await refusedField { _ = try await h.rooms.create(userID: ann, .init(name: "topics", kind: .public, topic: Self.stacked(256), password: nil)) }?["topic"] != nil)
            #expect(await refusedField { _ = try await h.rooms.create(userID: ann, .init(name: "pw", kind: .private, topic: nil, password: Self.stacked(128))) }?["password"] != nil)
            let room = try await h.rooms.create(userID: ann, .init(name: Self.stacked(63), kind: .public, topic: Self.stacked(255), password: nil))

            // body 1–4000: the 240 KB body of one grapheme is refused, 4000 scalars pass
            let huge = Self.stacked(20_000)
            #expect(await refusedField { _ = try await h.post(ann, room.id, huge) }?["body"] != nil)
            #expect(await refusedField { _ = try await h.post(ann, room.id, Self.stacked(MessageService.maxBodyLength)) }?["body"] != nil)
            let stored = try await h.post(ann, room.id, Self.stacked(MessageService.maxBodyLength - 1))
            #expect(stored.body.unicodeScalars.count == MessageService.maxBodyLength)

            // clientMsgId 1–64
            #expect(await refusedField { _ = try await h.post(ann, room.id, "hi", clientMsgID: Self.stacked(64)) }?["clientMsgId"] != nil)
            _ = try await h.post(ann, room.id, "hi", clientMsgID: Self.stacked(63))
        }
    }
}
