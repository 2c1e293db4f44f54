import Accounts
import Foundation
import Relay
import SQLKit
import Testing
import TestSupport
@testable import Server

/// The durable event log against real SQLite and PostgreSQL: append in the caller's
/// transaction, read `seq > last` in order, prune by age, and (PostgreSQL) offsets in commit order.
@Suite("Event log store")
struct EventLogStoreTests {
    static func entry(_ n: Int, rooms: [String] = ["room:1"], effect: LogEffect? = nil) -> EventLogEntry {
        EventLogEntry(event: "message:new", arguments: [["n": .number(Double(n)), "text": "é \u{1F600} \"q\""]], rooms: rooms, effect: effect)
    }

    @Test("append returns increasing seqs in order; entries(after:) reads them back exactly, in seq order", arguments: TestDatabases.kinds)
    func appendAndRead(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            let clock = ManualClock()
            let log = EventLogStore(clock: clock.clock)
            let join = LogEffect.join(subjectRoom: "user:7", rooms: ["room:1"])
            let entries = [
                Self.entry(1, effect: join),
                EventLogEntry(namespace: "/admin", event: "room:deleted", arguments: [["roomId": 1], "second"], rooms: ["room:1", "user:7"], except: ["user:8"],
                              effect: .leave(subjectRoom: "room:1", rooms: ["room:1"])),
                Self.entry(3, rooms: []),
            ]
            let seqs = try await db.write { sql in try await log.append(entries, on: sql) }
            #expect(seqs.count == 3 && seqs == seqs.sorted() && Set(seqs).count == 3)
            let more = try await db.write { sql in try await log.append([Self.entry(4)], on: sql) }
            #expect(more.count == 1 && more[0] > seqs[2])

            let read = try await db.read { sql in try await log.entries(after: 0, limit: 10, on: sql) }
            #expect(read.map(\.seq) == seqs + more)
            #expect(read[0] == EventLogRecord(
                seq: seqs[0], namespace: "/", event: "message:new", arguments: [["n": 1, "text": "é \u{1F600} \"q\""]], rooms: ["room:1"], except: [],
                effect: join, createdAt: clock.clock.now().millis
            ))
            #expect(read[1].namespace == "/admin" && read[1].arguments == [["roomId": 1], "second"])
            #expect(read[1].rooms == ["room:1", "user:7"] && read[1].except == ["user:8"])
            #expect(read[1].effect == .leave(subjectRoom: "room:1", rooms: ["room:1"]))
            #expect(read[2].rooms.isEmpty && read[2].effect == nil)

            #expect(try await db.read { sql in try await log.entries(after: seqs[1], limit: 1, on: sql) }.map(\.seq) == [seqs[2]])
            #expect(try await db.read { sql in try await log.entries(namespace: "/", after: 0, limit: 10, on: sql) }.map(\.seq) == [seqs[0], seqs[2], more[0]])
            #expect(try await db.read { sql in try await log.maxSeq(on: sql) } == more[0])
            #expect(try await db.read { sql in try await log.find(seq: seqs[1], on: sql) }?.namespace == "/admin")
        }
    }

    @Test("appendRecords returns exactly the rows a reader gets back (the local tail delivers them without reading)", arguments: TestDatabases.kinds)
    func appendedRecordsAreTheStoredRows(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            let clock = ManualClock()
            let log = EventLogStore(clock: clock.clock)
            let entries = [
                Self.entry(1, effect: .join(subjectRoom: "user:7", rooms: ["room:1", "room:2"])),
                EventLogEntry(namespace: "/admin", event: "room:deleted", data: #"[{"roomId":1},"a/b",null]"#, rooms: ["room:1", "user:7"],
                              except: ["user:8"], effect: .leave(subjectRoom: "room:1", rooms: ["room:1"])),
                Self.entry(3, rooms: []),
            ]
            let handed = try await db.write { sql in try await log.appendRecords(entries, on: sql) }
            let read = try await db.read { sql in try await log.entries(after: 0, limit: 10, on: sql) }
            #expect(handed == read)
            #expect(handed[1].arguments == [["roomId": 1], "a/b", .null])
        }
    }

    @Test("entries of a rolled-back transaction are never read", arguments: TestDatabases.kinds)
    func rollback(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            let log = EventLogStore()
            struct Abort: Error {}
            await #expect(throws: Abort.self) {
                try await db.write { sql in
                    _ = try await log.append([Self.entry(1)], on: sql)
                    throw Abort()
                }
            }
            let kept = try await db.write { sql in try await log.append([Self.entry(2)], on: sql) }
            let read = try await db.read { sql in try await log.entries(after: 0, limit: 10, on: sql) }
            #expect(read.map(\.seq) == kept && read.first?.arguments.first?["n"] == 2)
        }
    }

    @Test("prune deletes rows older than the cutoff; a seq is never reused after the log was emptied", arguments: TestDatabases.kinds)
    func prune(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            let clock = ManualClock()
            let log = EventLogStore(clock: clock.clock)
            let old = try await db.write { sql in try await log.append([Self.entry(1), Self.entry(2)], on: sql) }
            clock.advance(60)
            let recent = try await db.write { sql in try await log.append([Self.entry(3)], on: sql) }
            try await db.write { sql in try await log.prune(before: clock.clock.now().millis - 30_000, on: sql) }
            #expect(try await db.read { sql in try await log.entries(after: 0, limit: 10, on: sql) }.map(\.seq) == recent)
            #expect(try await db.read { sql in try await log.find(seq: old[0], on: sql) } == nil)

            clock.advance(60)
            try await db.write { sql in try await log.prune(before: clock.clock.now().millis, on: sql) }
            #expect(try await db.read { sql in try await log.maxSeq(on: sql) } == 0)
            let next = try await db.write { sql in try await log.append([Self.entry(4)], on: sql) }
            #expect(next[0] > recent[0])
        }
    }

    /// Transaction 1 appends first and commits last; transaction 2 appends meanwhile. A reader that
    /// polls `seq > last` in between must still read both. Without the advisory lock, transaction 2
    /// got the higher seq, committed first, the reader moved past it, and transaction 1's lower seq
    /// became visible behind the reader's mark (seen failing before the lock was added).
    @Test("PostgreSQL: a reader polling seq > last never skips an entry whose transaction committed late",
          .enabled(if: TestDatabases.kinds.contains(.postgres)))
    func lateCommitIsNotSkipped() async throws {
        try await TestDatabases.with(.postgres) { db in
            let log = EventLogStore()
            let (appended, appendedSignal) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
            let first = Task {
                try await db.write { sql in
                    let seqs = try await log.append([Self.entry(1)], on: sql)
                    appendedSignal.yield()
                    for await _ in release { break }
                    return seqs
                }
            }
            for await _ in appended { break }
            let second = Task { try await db.write { sql in try await log.append([Self.entry(2)], on: sql) } }

            // Wait until the second transaction either committed or waits on the appenders' lock.
            struct Count: Decodable { let n: Int64 }
            var settled = false
            for _ in 0..<500 where !settled {
                let waiting = try await db.read { sql in
                    try await sql.raw("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").first(decoding: Count.self)
                }
                let committed = try await db.read { sql in try await log.maxSeq(on: sql) } > 0
                settled = (waiting?.n ?? 0) > 0 || committed
                if !settled { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(settled)

            var seen: [UInt64] = []
            var last: UInt64 = 0
            func poll() async throws {
                let after = last
                let batch = try await db.read { sql in try await log.entries(after: after, limit: 100, on: sql) }
                seen += batch.map(\.seq)
                last = batch.last?.seq ?? last
            }
            try await poll()
            releaseSignal.yield()
            let firstSeqs = try await first.value
            let secondSeqs = try await second.value
            try await poll()

            #expect(seen == firstSeqs + secondSeqs)
        }
    }
}
