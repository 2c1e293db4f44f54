@testable import Accounts
@testable import Chat
import Foundation
import SQLKit
import Testing
import TestSupport

/// Unique keys under a forced overlap: transaction A has written a row and not committed;
/// transaction B writes a row with the same unique key (on PostgreSQL it waits on A's index
/// entry); A commits. B must see the documented outcome, never a unique-constraint error.
@Suite("Chat store insert races")
struct ChatStoreRaceTests {
    /// Runs `first` in a transaction that stays open 300 ms after it wrote, and `second` in
    /// another one started meanwhile; returns `second`'s result.
    static func overlap<T: Sendable>(
        _ db: any Database,
        first: @escaping @Sendable (any SQLDatabase) async throws -> Void,
        second: @escaping @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        let (written, writtenSignal) = AsyncStream.makeStream(of: Void.self)
        let a = Task {
            try await db.write { sql in
                try await first(sql)
                writtenSignal.yield()
                try await Task.sleep(for: .milliseconds(300))
            }
        }
        for await _ in written { break }
        let result = try await db.write { sql in try await second(sql) }
        try await a.value
        return result
    }

    @Test("the same clientMsgId from two sends at once: one message, the other a duplicate", arguments: TestDatabases.kinds)
    func clientMsgID(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann")
            let room = try await h.rooms.create(userID: ann, .init(name: "race", kind: .public, topic: nil, password: nil))
            let store = MessageStore()
            let second = try await Self.overlap(h.db, first: { sql in
                _ = try await store.insert(roomID: room.id, authorID: ann, body: "one", clientMsgID: "same", replyTo: nil, now: 1, on: sql)
            }, second: { sql in
                try await store.insert(roomID: room.id, authorID: ann, body: "one", clientMsgID: "same", replyTo: nil, now: 2, on: sql)?.id
            })
            #expect(second == nil)
            let history = try await h.messages.history(userID: ann, roomID: room.id, before: nil, after: nil, limit: 10)
            #expect(history.messages.count == 1)
        }
    }

    @Test("a public room name and a direct pair created twice at once", arguments: TestDatabases.kinds)
    func roomKeys(kind: DatabaseKind) async throws {
        try await ChatHarness.with(kind) { h in
            let ann = try await h.user("ann")
            let store = RoomStore()
            let name = try await Self.overlap(h.db, first: { sql in
                _ = try await store.create(kind: .public, name: "Lobby", topic: nil, passwordHash: nil, joinCode: nil, directKey: nil, createdBy: ann, now: 1, on: sql)
            }, second: { sql in
                try await store.create(kind: .public, name: "LOBBY", topic: nil, passwordHash: nil, joinCode: nil, directKey: nil, createdBy: ann, now: 2, on: sql)
            })
            guard case .nameTaken = name else { Issue.record("expected nameTaken, got \(name)"); return }
            let direct = try await Self.overlap(h.db, first: { sql in
                _ = try await store.create(kind: .direct, name: nil, topic: nil, passwordHash: nil, joinCode: nil, directKey: "1:2", createdBy: ann, now: 1, on: sql)
            }, second: { sql in
                try await store.create(kind: .direct, name: nil, topic: nil, passwordHash: nil, joinCode: nil, directKey: "1:2", createdBy: ann, now: 2, on: sql)
            })
            guard case .directExists = direct else { Issue.record("expected directExists, got \(direct)"); return }
        }
    }
}
