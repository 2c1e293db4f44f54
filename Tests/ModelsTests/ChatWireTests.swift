import Foundation
import Models
import Testing

@Suite("Wire shapes")
struct ChatWireTests {
    @Test("a message encodes with the documented keys and omits absent optionals")
    func messageKeys() throws {
        let message = ChatMessage(id: 5, roomId: 2, authorId: 9, body: "hi", createdAt: "2026-11-21T10:00:00.000Z", clientMsgId: "c1")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(message), as: UTF8.self)
        #expect(json == #"{"authorId":9,"body":"hi","clientMsgId":"c1","createdAt":"2026-11-21T10:00:00.000Z","id":5,"roomId":2}"#)
        #expect(try JSONDecoder().decode(ChatMessage.self, from: Data(json.utf8)) == message)
    }

    @Test("room kinds and member changes use their documented strings")
    func enums() throws {
        #expect(RoomKind.allCases.map(\.rawValue) == ["public", "private", "direct"])
        let event = RoomMemberEvent(roomId: 1, change: .joined, user: .init(id: 2, username: "bo", displayName: "Bo"), role: .member)
        let json = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
        #expect(json.contains(#""change":"joined""#) && json.contains(#""role":"member""#))
    }
}
