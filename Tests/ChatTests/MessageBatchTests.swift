@testable import Accounts
@testable import Chat
import Foundation
import Models
import SQLKit
import Testing
import TestSupport

/// Issue 14: message sends are group-committed. These tests hold the database's writes so that
/// several sends are written as one batch, then check each send's own outcome.
@Suite("Message sends in one batch")
struct MessageBatchTests {
    /// A one-shot gate a test opens by hand.
    final class Gate: Sendable {
        private let stream: AsyncStream<Void>
        private let continuation: AsyncStream<Void>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream(of: Void.self) }
        func open() { continuation.yield(); continuation.finish() }
        func wait() async { for await _ in stream { break } }
    }

    /// Holds the messages table against writers until `gate` opens: SQLite's one writer is
    /// busy; on PostgreSQL an EXCLUSIVE lock makes the batch's first INSERT wait.
    static func holdWrites(_ db: any Database, until gate: Gate) async -> Task<Void, any Error> {
        let held = Gate()
        let task = Task {
            try await db.write { sql in
                if db.kind == .postgres { try await sql.raw("LOCK TABLE messages IN EXCLUSIVE MODE").run() }
                held.open()
                await gate.wait()
            }
        }
        await held.wait()
        return task
    }

    typealias Send = (user: Int64, room: Int64, body: String, clientMsgID: String?, replyTo: Int64?)

    /// Sends `opener` (its batch blocks on the held writes), then `sends` one after another into
    /// the next batch, releases the writes, and returns the opener's and each send's outcome.
    static func oneBatch(_ h: ChatHarness, opener: Send, _ sends: [Send]) async throws
        -> (opener: MessageService.SendOutcome, results: [Result<MessageService.SendOutcome, any Error>]) {
        let gate = Gate()
        let hold = await holdWrites(h.db, until: gate)
        let batcher = h.messages.batcher
        let before = batcher.batchesWritten
        let first = Task { try await h.messages.send(userID: opener.user, roomID: opener.room, body: opener.body, clientMsgID: opener.clientMsgID, replyTo: opener.replyTo) }
        while batcher.batchesWritten == before { try await Task.sleep(for: .milliseconds(1)) }
        var tasks: [Task<Result<MessageService.SendOutcome, any Error>, Never>] = []
        for (index, send) in sends.enumerated() {
            tasks.append(Task {
                do {
                    return .success(try await h.messages.send(userID: send.user, roomID: send.room, body: send.body, clientMsgID: send.clientMsgID, replyTo: send.replyTo))
                } catch {
                    return .failure(error)
                }
            })
            while batcher.pendingCount < index + 1 { try await Task.sleep(for: .milliseconds(1)) }
        }
        gate.open()
        try await hold.value
        let openerOutcome = try await first.value
        var results: [Result<MessageService.SendOutcome, any Error>] = []
        for task in tasks { results.append(await task.value) }
        #expect(batcher.batchesWritten == before + 2, "the opener's batch, then one batch of all the others")
        return (openerOutcome, results)
    }

    static func code(_ result: Result<MessageService.SendOutcome, any Error>) -> ErrorCode? {
        if case .failure(let error as ServiceError) = result { return error.code }
        return nil
    }

    @Test("one batch: invalid sends get their own errors, the others are stored; a clientMsgId repeated in the batch is one message", arguments: TestDatabases.kinds)
    func mixedBatch(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let room = try await h.rooms.create(userID: ann, .init(name: "general", kind: .public, topic: nil, password: nil)).id
            let other = try await h.rooms.create(userID: ann, .init(name: "other", kind: .public, topic: nil, password: nil)).id
            _ = try await h.rooms.join(userID: bob, roomID: room)
            let elsewhere = try await h.post(ann, other, "elsewhere")

            let (opener, results) = try await Self.oneBatch(h, opener: (ann, room, "opener", nil, nil), [
                (ann, room, "one", "c-1", nil),
                (bob, other, "not a member there", "b-0", nil),
                (ann, room, "a reply to another room", nil, elsewhere.id),
                (ann, room, "one, sent again", "c-1", nil),
                (bob, room, "two", "b-1", nil),
                (ann, 999_999, "no such room", nil, nil),
            ])
            let one = try results[0].get()
            #expect(!one.duplicate && one.message.body == "one" && one.message.author?.username == "ann")
            #expect(Self.code(results[1]) == .notAMember)
            #expect(Self.code(results[2]) == .validationFailed)
            let again = try results[3].get()
            #expect(again.duplicate && again.message.id == one.message.id && again.message.body == "one")
            let two = try results[4].get()
            #expect(!two.duplicate && two.message.id > one.message.id)
            #expect(Self.code(results[5]) == .roomNotFound)

            let history = try await h.messages.history(userID: ann, roomID: room, before: nil, after: nil, limit: 10).messages
            #expect(history.map(\.body) == ["opener", "one", "two"])
            #expect(history.map(\.id) == [opener.message.id, one.message.id, two.message.id])
            #expect(try await h.messages.history(userID: ann, roomID: other, before: nil, after: nil, limit: 10).messages.map(\.body) == ["elsewhere"])
            // new messages reported once each, in commit order
            #expect(h.events.entries.filter { $0.hasPrefix("message:") } == ["message:\(other):elsewhere", "message:\(room):opener", "message:\(room):one", "message:\(room):two"])
            // the batch moved the room's last message and each author's read cursor
            let annRoom = try #require(try await h.rooms.list(userID: ann).first { $0.id == room })
            #expect(annRoom.lastMessage?.body == "two" && annRoom.lastReadMessageId == one.message.id && annRoom.unreadCount == 1)
            let bobRoom = try #require(try await h.rooms.list(userID: bob).first { $0.id == room })
            #expect(bobRoom.lastReadMessageId == two.message.id && bobRoom.unreadCount == 0)
        }
    }

    @Test("a retry after a restart between commit and ack gets the stored message, never a second copy", arguments: TestDatabases.kinds)
    func retryAfterRestart(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let room = try await h.rooms.create(userID: ann, .init(name: "general", kind: .public, topic: nil, password: nil)).id
            _ = try await h.rooms.join(userID: bob, roomID: room)
            // committed; the ack never reached the client (the process died)
            let stored = try await h.messages.send(userID: ann, roomID: room, body: "hello", clientMsgID: "retry-1", replyTo: nil)
            // a new process over the same database: its own batcher, no memory of the send
            let restarted = ChatServices(
                database: h.db, hasher: PasswordHasher(parameters: .testing), verification: EmailVerificationGate(database: h.db, isRequired: true),
                events: nil, logger: TestDatabases.logger
            )
            let retry = try await restarted.messages.send(userID: ann, roomID: room, body: "hello", clientMsgID: "retry-1", replyTo: nil)
            #expect(retry.duplicate && retry.message == stored.message)
            // and a retry in a batch with other sends
            let (_, results) = try await Self.oneBatch(h, opener: (bob, room, "meanwhile", nil, nil), [
                (ann, room, "hello", "retry-1", nil), (bob, room, "after", nil, nil),
            ])
            #expect(try results[0].get().duplicate && (try results[0].get().message.id) == stored.message.id)
            let bodies = try await h.messages.history(userID: ann, roomID: room, before: nil, after: nil, limit: 10).messages.map(\.body)
            #expect(bodies == ["hello", "meanwhile", "after"])
        }
    }

    @Test("one batch, every refusal and every kind of send: mutes, a direct room whose other person left, replies, mentions, sends without a clientMsgId matched back in order", arguments: TestDatabases.kinds)
    func everyKindInOneBatch(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob"), carl = try await h.user("carl")
            let room = try await h.rooms.create(userID: ann, .init(name: "general", kind: .public, topic: nil, password: nil)).id
            _ = try await h.rooms.join(userID: bob, roomID: room)
            _ = try await h.rooms.join(userID: carl, roomID: room)
            let stored = try await h.messages.send(userID: bob, roomID: room, body: "stored before the mute", clientMsgID: "s-1", replyTo: nil)
            let gone = try await h.post(carl, room, "soon deleted")
            _ = try await h.chat.edits.delete(userID: carl, roomID: room, messageID: gone.id)
            _ = try await h.chat.moderation.mute(actorID: ann, roomID: room, targetID: bob, durationSeconds: 600, reason: nil)
            let dm = try await h.rooms.direct(userID: ann, with: .id(carl)).id
            let dmWithBob = try await h.rooms.direct(userID: ann, with: .id(bob)).id
            try await h.rooms.leave(userID: bob, roomID: dmWithBob)

            let (opener, results) = try await Self.oneBatch(h, opener: (ann, room, "opener", nil, nil), [
                (ann, room, "plain 1", nil, nil),
                (bob, room, "muted", "m-1", nil),
                (bob, room, "stored before the mute", "s-1", nil),
                (ann, dmWithBob, "to someone who left", nil, nil),
                (ann, room, "plain 2", nil, nil),
                (carl, room, "a reply to @ann", "c-1", stored.message.id),
                (carl, room, "a reply to a deleted message", nil, gone.id),
                (ann, dm, "plain 3, direct", nil, nil),
                (ann, room, "plain 4", nil, nil),
            ])
            let plain1 = try results[0].get(), plain2 = try results[4].get(), reply = try results[5].get()
            let plain3 = try results[7].get(), plain4 = try results[8].get()
            #expect(Self.code(results[1]) == .muted)
            if case .failure(let error as ServiceError) = results[1] { #expect((1...600).contains(error.retryAfter ?? 0)) }
            let repeated = try results[2].get()
            #expect(repeated.duplicate && repeated.message == stored.message, "a muted member's retry of a stored send gets it back")
            #expect(Self.code(results[3]) == .directRoom)
            #expect(Self.code(results[6]) == .validationFailed)
            // ids follow the batch's order; each send got its own row back
            let ids = [opener, plain1, plain2, reply, plain3, plain4].map(\.message.id)
            #expect(ids == ids.sorted() && Set(ids).count == 6)
            #expect([plain1, plain2, plain3, plain4].map(\.message.body) == ["plain 1", "plain 2", "plain 3, direct", "plain 4"])
            #expect(plain3.message.roomId == dm && plain1.message.author?.username == "ann")
            #expect(reply.message.replyPreview?.authorId == bob && reply.message.replyPreview?.excerpt == "stored before the mute")
            #expect(reply.message.mentions == [ann] && reply.message.author?.displayName == "Carl")
            let history = try await h.messages.history(userID: ann, roomID: room, before: nil, after: nil, limit: 20).messages
            #expect(history.map(\.id).suffix(5) == [opener, plain1, plain2, reply, plain4].map(\.message.id))
            #expect(history.last(where: { $0.id == reply.message.id }) == reply.message, "what the ack said is what was stored")
            #expect(try await h.messages.history(userID: ann, roomID: dmWithBob, before: nil, after: nil, limit: 5).messages.isEmpty)
        }
    }

    @Test("a direct room whose other person left refuses sends on the one-by-one path too", arguments: TestDatabases.kinds)
    func directRoomFallback(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann"), bob = try await h.user("bob")
            let dm = try await h.rooms.direct(userID: ann, with: .id(bob)).id
            let new = try h.messages.validate(userID: ann, roomID: dm, body: "still there?", clientMsgID: nil, replyTo: nil)
            let gate = EmailVerificationGate(database: h.db, isRequired: true)
            _ = try await h.db.write { db in
                try await MessageService.insertBatched(new, now: 5, verification: gate, requireVerified: true, messages: MessageStore(), rooms: RoomStore(), on: db)
            }
            try await h.rooms.leave(userID: bob, roomID: dm)
            do {
                _ = try await h.db.write { db in
                    try await MessageService.insertBatched(new, now: 6, verification: gate, requireVerified: true, messages: MessageStore(), rooms: RoomStore(), on: db)
                }
                Issue.record("a send to a direct room its other person left was stored")
            } catch let error as ServiceError {
                #expect(error.code == .directRoom)
            }
        }
    }
}
