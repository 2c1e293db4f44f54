@testable import Accounts
import Foundation
import Models
import Testing

/// Every length limit counts Unicode scalars (what docs/openapi.yaml and PROTOCOL.md promise),
/// never grapheme clusters: a letter with thousands of combining accents is one grapheme.
@Suite("Text limits count Unicode scalars")
struct TextLimitTests {
    /// "e" followed by `marks` combining acute accents (U+0301): one grapheme, 1 + marks scalars.
    static func stacked(_ marks: Int) -> String {
        "e" + String(repeating: "\u{0301}", count: marks)
    }

    static func fieldProblem<T>(_ result: Result<T, FieldProblem>) -> String? {
        if case .failure(let problem) = result { return problem.message }
        return nil
    }

    @Test("length counts scalars, not graphemes")
    func lengthCountsScalars() {
        #expect(Self.stacked(20_000).count == 1)
        #expect(AccountValidation.length(Self.stacked(20_000)) == 20_001)
        #expect(AccountValidation.length("👍🏽") == 2)  // emoji + skin-tone modifier: one grapheme
        #expect(AccountValidation.length("né") == 2)
    }

    @Test("account fields: display name and password")
    func accountFields() {
        #expect(Self.fieldProblem(AccountValidation.displayName(Self.stacked(63))) == nil)  // 64 scalars
        #expect(Self.fieldProblem(AccountValidation.displayName(Self.stacked(64))) != nil)  // 65 scalars, 1 grapheme
        #expect(Self.fieldProblem(AccountValidation.password(Self.stacked(127))) == nil)
        #expect(Self.fieldProblem(AccountValidation.password(Self.stacked(128))) != nil)
        // eight scalars make a long-enough password even when they draw as fewer characters
        #expect(Self.fieldProblem(AccountValidation.password(Self.stacked(7))) == nil)
        #expect(Self.fieldProblem(AccountValidation.password(Self.stacked(6))) != nil)
    }

    @Test("chat fields: body, room name, topic, clientMsgId, room password", arguments: TestDatabases.kinds)
    func chatFields(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann")
            func refusedField(_ body: () async throws -> Void) async -> [String: String]? {
                do { try await body() } catch let error as APIError where error.code == "validation_failed" { return error.fields } catch { return ["unexpected": "\(error)"] }
                return nil
            }
            // room name 1–64, topic ≤ 256
            #expect(await refusedField { _ = try await h.chat.createRoom(userID: ann, .init(name: Self.stacked(64), kind: .public, topic: nil, password: nil)) }?["name"] != nil)
            #expect(await refusedField { _ = try await h.chat.createRoom(userID: ann, .init(name: "topics", kind: .public, topic: Self.stacked(256), password: nil)) }?["topic"] != nil)
            #expect(await refusedField { _ = try await h.chat.createRoom(userID: ann, .init(name: "pw", kind: .private, topic: nil, password: Self.stacked(128))) }?["password"] != nil)
            let room = try await h.chat.createRoom(userID: ann, .init(name: Self.stacked(63), kind: .public, topic: Self.stacked(255), password: nil))

            // body 1–4000: the 240 KB body of one grapheme is refused, 4000 scalars pass
            let huge = Self.stacked(20_000)
            #expect(await refusedField { _ = try await h.post(ann, room.id, huge) }?["body"] != nil)
            #expect(await refusedField { _ = try await h.post(ann, room.id, Self.stacked(ChatService.maxBodyLength)) }?["body"] != nil)
            let stored = try await h.post(ann, room.id, Self.stacked(ChatService.maxBodyLength - 1))
            #expect(stored.body.unicodeScalars.count == ChatService.maxBodyLength)

            // clientMsgId 1–64
            #expect(await refusedField { _ = try await h.post(ann, room.id, "hi", clientMsgID: Self.stacked(64)) }?["clientMsgId"] != nil)
            _ = try await h.post(ann, room.id, "hi", clientMsgID: Self.stacked(63))
        }
    }
}
