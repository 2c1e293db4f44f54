import Accounts
import Foundation
import Hummingbird
import HummingbirdTesting
import Relay
import Testing
import TestSupport
@testable import Server

/// Issue 14: with sends group-committed, a room's order is the order of commit, and every
/// member hears the room's messages in that same order.
@Suite("Realtime message order under concurrent sends")
struct MessageOrderTests {
    /// Lets a test hand one `ChatSocket` (used by one task at a time) to the task that drives it.
    struct Handed: @unchecked Sendable { let socket: ChatSocket }

    @Test("three members sending at once: every member gets every message:new once, all in the same order, which is id (commit) order and the history's", arguments: TestApp.databaseKinds)
    func sameOrderForAll(kind: DatabaseKind) async throws {
        try await RealtimeGatewayTests.withChat(kind) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let cat = try await ChatREST.user(client, "cat")
            try await ChatREST.join(client, cat.token, room: room)
            let sockets = [
                try await ChatSocket.connect(port: port, token: ann.token),
                try await ChatSocket.connect(port: port, token: bob.token),
                try await ChatSocket.connect(port: port, token: cat.token),
            ]
            defer { for socket in sockets { socket.close() } }
            let perSender = 15
            let total = perSender * sockets.count
            let handedSockets = sockets.map(Handed.init)
            // each socket sends its messages one after another; the three run at once
            let heard = try await withThrowingTaskGroup(of: (Int, [Int64]).self) { group in
                for (index, handed) in handedSockets.enumerated() {
                    group.addTask {
                        let socket = handed.socket
                        for i in 0..<perSender {
                            let ack = try await socket.call("message:send", RealtimeGatewayTests.send(room, "m\(index)-\(i)", "c\(index)-\(i)"))
                            #expect(ack["ok"] == true, "\(ack)")
                        }
                        var ids: [Int64] = []
                        while ids.count < total {
                            let event = try await socket.next()
                            if event.name == "message:new", let id = event.payload["id"]?.intValue { ids.append(Int64(id)) }
                        }
                        return (index, ids)
                    }
                }
                var heard: [Int: [Int64]] = [:]
                for try await (index, ids) in group { heard[index] = ids }
                return heard
            }
            let first = try #require(heard[0])
            #expect(Set(first).count == total, "every message once")
            #expect(first == first.sorted(), "id (commit) order")
            #expect(heard[1] == first && heard[2] == first, "the same order for every member")
            let history = try await client.execute(
                uri: "/api/rooms/\(room)/messages?limit=100", method: .get, headers: SessionRevocationHTTPTests.bearer(ann.token)
            )
            let stored = try #require(history.json["messages"] as? [[String: Any]]).compactMap { ($0["id"] as? Int).map(Int64.init) }
            #expect(stored == first, "the history's order")
        }
    }
}
