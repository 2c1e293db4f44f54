@testable import Accounts
@testable import Chat
import Foundation
import Models
import SQLKit
import Testing
import TestSupport

/// The batch write path (``MessageService/insertBatch(_:now:verification:messages:on:)``) against
/// inputs a client may send: each send of a batch gets the answer it would get alone.
@Suite("Message sends in one batch: edge inputs")
struct MessageBatchEdgeTests {
    @Test("clientMsgIds that are different bytes but canonically equal strings (NFC, NFD) are two sends in one batch, as they are one by one", arguments: TestDatabases.kinds)
    func canonicallyEqualClientMsgIDs(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann")
            let room = try await h.rooms.create(userID: ann, .init(name: "general", kind: .public, topic: nil, password: nil)).id
            let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
            #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8), "Swift's == is canonical equivalence")
            // one by one: two messages (the database compares bytes)
            let first = try await h.post(ann, room, "one by one, composed", clientMsgID: composed)
            let second = try await h.post(ann, room, "one by one, decomposed", clientMsgID: decomposed)
            #expect(first.id != second.id)

            let (_, results) = try await MessageBatchTests.oneBatch(h, opener: (ann, room, "opener", nil, nil), [
                (ann, room, "batch, composed", "x-" + composed, nil),
                (ann, room, "batch, decomposed", "x-" + decomposed, nil),
                (ann, room, "batch, composed again", "x-" + composed, nil),
            ])
            let a = try results[0].get(), b = try results[1].get(), c = try results[2].get()
            #expect(!a.duplicate && a.message.body == "batch, composed" && Array((a.message.clientMsgId ?? "").utf8) == Array(("x-" + composed).utf8))
            #expect(!b.duplicate && b.message.body == "batch, decomposed" && Array((b.message.clientMsgId ?? "").utf8) == Array(("x-" + decomposed).utf8))
            #expect(c.duplicate && c.message.id == a.message.id)
            let bodies = try await h.messages.history(userID: ann, roomID: room, before: nil, after: nil, limit: 10).messages.map(\.body)
            #expect(bodies == ["one by one, composed", "one by one, decomposed", "opener", "batch, composed", "batch, decomposed"])

            // retries of both, in one batch, each get its own stored message back
            let (_, retries) = try await MessageBatchTests.oneBatch(h, opener: (ann, room, "opener 2", nil, nil), [
                (ann, room, "batch, decomposed", "x-" + decomposed, nil),
                (ann, room, "batch, composed", "x-" + composed, nil),
            ])
            #expect(try retries[0].get().duplicate && (try retries[0].get().message.id) == b.message.id)
            #expect(try retries[1].get().duplicate && (try retries[1].get().message.id) == a.message.id)
        }
    }
}
