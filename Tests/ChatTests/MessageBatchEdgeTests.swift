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

    @Test("a clientMsgId with a NUL is refused validation_failed before any batch", arguments: TestDatabases.kinds)
    func nulInClientMsgID(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann")
            let room = try await h.rooms.create(userID: ann, .init(name: "general", kind: .public, topic: nil, password: nil)).id
            let batches = h.messages.batcher.batchesWritten
            var results: [Result<MessageService.SendOutcome, any Error>] = []
            for clientMsgID in ["a\u{0}b", "tab\tin", "del\u{7F}"] {
                do { results.append(.success(try await h.messages.send(userID: ann, roomID: room, body: "x", clientMsgID: clientMsgID, replyTo: nil))) }
                catch { results.append(.failure(error)) }
            }
            // Failed before: validate checked only a clientMsgId's length. PostgreSQL refused the NUL
            // (internal_error, from the batch and the one-by-one fallback); SQLite stored it and read
            // the text back cut at the NUL (a retry answered with another clientMsgId than it sent).
            #expect(results.map(MessageBatchTests.code) == [.validationFailed, .validationFailed, .validationFailed], "got \(results)")
            #expect(h.messages.batcher.batchesWritten == batches)
            // a format character (a ZWJ of an emoji sequence) is not a control character
            let emoji = try await h.post(ann, room, "family", clientMsgID: "\u{1F469}\u{200D}\u{1F467}")
            #expect(emoji.clientMsgId == "\u{1F469}\u{200D}\u{1F467}")
            let bodies = try await h.messages.history(userID: ann, roomID: room, before: nil, after: nil, limit: 10).messages.map(\.body)
            #expect(bodies == ["family"])
        }
    }
}

/// PostgreSQL only (READ COMMITTED: a batch's reads and its INSERT are separate statements): a
/// room deleted by a transaction that commits between a batch's reads and its INSERT fails the
/// INSERT's foreign key, and each send must still get its own answer (through the one-by-one
/// fallback). SQLite's batch holds the write lock from before its reads, so nothing commits in
/// between there.
@Suite("Message sends in one batch: a room deleted between the reads and the insert")
struct MessageBatchRoomDeletedTests {
    /// Until `gate` opens, holds `DELETE FROM rooms` of `roomID` uncommitted (the batch's reads
    /// still see the room; its INSERT's foreign-key check waits for the row), then commits it.
    static func deleteRoomUncommitted(_ db: any Database, _ roomID: Int64, until gate: MessageBatchTests.Gate) async -> Task<Void, any Error> {
        let held = MessageBatchTests.Gate()
        let task = Task {
            try await db.write { sql in
                try await sql.raw("DELETE FROM rooms WHERE id = \(bind: roomID)").run()
                held.open()
                await gate.wait()
            }
        }
        await held.wait()
        return task
    }

    /// Waits until a `INSERT INTO messages` waits for a lock.
    static func insertWaiting(_ db: any Database) async throws {
        struct Row: Decodable { let n: Int64 }
        for _ in 0..<5000 {
            let n = try await db.read { sql in
                try await sql.raw("""
                    SELECT COUNT(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO messages%'
                    """).first(decoding: Row.self)?.n ?? 0
            }
            if n > 0 { return }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw TestSetupError("no INSERT INTO messages waited for a lock")
    }

    static func code(_ result: Result<MessageService.SendOutcome, any Error>) -> ErrorCode? { MessageBatchTests.code(result) }

    @Test("a lone send: room_not_found, not the foreign key's error", arguments: TestDatabases.kinds)
    func loneSend(kind: DatabaseKind) async throws {
        guard kind == .postgres else { return }
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann")
            let victim = try await h.rooms.create(userID: ann, .init(name: "victim", kind: .public, topic: nil, password: nil)).id
            let gate = MessageBatchTests.Gate()
            let deletion = await Self.deleteRoomUncommitted(h.db, victim, until: gate)
            let send = Task { () -> Result<MessageService.SendOutcome, any Error> in
                do { return .success(try await h.messages.send(userID: ann, roomID: victim, body: "into the void", clientMsgID: "v-1", replyTo: nil)) }
                catch { return .failure(error) }
            }
            try await Self.insertWaiting(h.db)
            gate.open()
            try await deletion.value
            let result = await send.value
            // Failed before: GroupCommit retried a failed savepoint-free attempt one by one only
            // for more than one item, so a lone send got the batch body's throw (PostgreSQL's
            // foreign-key error, answered as internal_error).
            #expect(Self.code(result) == .roomNotFound, "got \(result)")
        }
    }

    @Test("a reply whose parent's delete is in progress as the batch reads it is refused, not stored with the deleted body as its excerpt", arguments: TestDatabases.kinds)
    func replyToParentBeingDeleted(kind: DatabaseKind) async throws {
        guard kind == .postgres else { return }
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let room = try await h.rooms.create(userID: ann, .init(name: "general", kind: .public, topic: nil, password: nil)).id
            _ = try await h.rooms.join(userID: bob, roomID: room)
            let parent = try await h.post(ann, room, "oops, my password is hunter2")
            // the parent's delete (as MessageEditService.delete writes it) is in progress, uncommitted
            let gate = MessageBatchTests.Gate(), held = MessageBatchTests.Gate()
            let deletion = Task {
                try await h.db.write { sql in
                    try await sql.raw("UPDATE messages SET body = '', deleted_at = 7 WHERE id = \(bind: parent.id)").run()
                    held.open()
                    await gate.wait()
                }
            }
            await held.wait()
            let done = Flag()
            let reply = Task { () -> Result<MessageService.SendOutcome, any Error> in
                defer { done.set() }
                do { return .success(try await h.messages.send(userID: bob, roomID: room, body: "what?", clientMsgID: "r-1", replyTo: parent.id)) }
                catch { return .failure(error) }
            }
            // with the reply targets read under a lock, the batch waits for the delete; without
            // it, it read the parent as last committed and stored the reply at once
            try await Self.statementWaiting(h.db, startingWith: "SELECT p.id", unless: done)
            gate.open()
            try await deletion.value
            let answer = await reply.value
            // Failed before: the reply was stored, its ack (and message:new) with the deleted body as the excerpt.
            #expect(MessageBatchTests.code(answer) == .validationFailed, "got \(answer)")
            let stored = try await h.messages.history(userID: ann, roomID: room, before: nil, after: nil, limit: 5).messages
            #expect(stored.map(\.id) == [parent.id] && stored[0].body.isEmpty)
        }
    }

    /// Set once, read from anywhere.
    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }

    /// Waits until a statement starting with `prefix` waits for a lock, or `unless` is set.
    static func statementWaiting(_ db: any Database, startingWith prefix: String, unless: Flag) async throws {
        struct Row: Decodable { let n: Int64 }
        for _ in 0..<5000 {
            if unless.isSet { return }
            let n = try await db.read { sql in
                try await sql.raw("""
                    SELECT COUNT(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE \(bind: prefix + "%")
                    """).first(decoding: Row.self)?.n ?? 0
            }
            if n > 0 { return }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw TestSetupError("no \(prefix)… waited for a lock")
    }

    @Test("a batch of sends to it and to another room: room_not_found for each of its sends, the others stored", arguments: TestDatabases.kinds)
    func batchOfSends(kind: DatabaseKind) async throws {
        guard kind == .postgres else { return }
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let victim = try await h.rooms.create(userID: ann, .init(name: "victim", kind: .public, topic: nil, password: nil)).id
            let stays = try await h.rooms.create(userID: ann, .init(name: "stays", kind: .public, topic: nil, password: nil)).id
            let blocker = try await h.rooms.create(userID: ann, .init(name: "blocker", kind: .public, topic: nil, password: nil)).id
            for room in [victim, stays] { _ = try await h.rooms.join(userID: bob, roomID: room) }
            let batcher = h.messages.batcher

            // batch 1, the opener, waits on a row lock of its room; the sends queue behind it
            let openerGate = MessageBatchTests.Gate(), openerHeld = MessageBatchTests.Gate()
            let blocking = Task {
                try await h.db.write { sql in
                    try await sql.raw("SELECT id FROM rooms WHERE id = \(bind: blocker) FOR UPDATE").run()
                    openerHeld.open()
                    await openerGate.wait()
                }
            }
            await openerHeld.wait()
            let before = batcher.batchesWritten
            let opener = Task { try await h.post(ann, blocker, "opener") }
            try await Self.insertWaiting(h.db)
            let sends: [MessageBatchTests.Send] = [
                (ann, victim, "to the victim", "v-1", nil),
                (bob, stays, "to the room that stays", nil, nil),
                (bob, victim, "to the victim, no clientMsgId", nil, nil),
                (ann, stays, "to the room that stays, with a clientMsgId", "s-1", nil),
            ]
            var tasks: [Task<Result<MessageService.SendOutcome, any Error>, Never>] = []
            for (index, send) in sends.enumerated() {
                tasks.append(Task {
                    do { return .success(try await h.messages.send(userID: send.user, roomID: send.room, body: send.body, clientMsgID: send.clientMsgID, replyTo: nil)) }
                    catch { return .failure(error) }
                })
                while batcher.pendingCount < index + 1 { try await Task.sleep(for: .milliseconds(1)) }
            }
            // the victim's deletion is uncommitted while batch 2 reads; its INSERT then waits for it
            let deletionGate = MessageBatchTests.Gate()
            let deletion = await Self.deleteRoomUncommitted(h.db, victim, until: deletionGate)
            openerGate.open()
            try await blocking.value
            _ = try await opener.value
            try await Self.insertWaiting(h.db)
            deletionGate.open()
            try await deletion.value
            var results: [Result<MessageService.SendOutcome, any Error>] = []
            for task in tasks { results.append(await task.value) }
            #expect(batcher.batchesWritten == before + 2)
            #expect(Self.code(results[0]) == .roomNotFound, "got \(results[0])")
            #expect(Self.code(results[2]) == .roomNotFound, "got \(results[2])")
            let one = try results[1].get(), two = try results[3].get()
            #expect(one.message.body == "to the room that stays" && two.message.body == "to the room that stays, with a clientMsgId" && one.message.id < two.message.id)
            let history = try await h.messages.history(userID: ann, roomID: stays, before: nil, after: nil, limit: 10).messages
            #expect(history.map(\.id) == [one.message.id, two.message.id])
        }
    }
}
