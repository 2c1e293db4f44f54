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
}
