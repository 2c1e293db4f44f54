import Accounts
import Foundation
import SQLKit
import Synchronization
import Testing
import TestSupport

/// Issue 14: concurrent writes share one transaction, each item keeps its own outcome.
@Suite("Group commit")
struct GroupCommitTests {
    struct Refused: Error, Equatable { let value: String }

    /// What an item does: insert `value`, then throw (`refuse`) or fail in SQL (`null`: a NOT NULL violation).
    enum Step: Sendable { case insert(String), refuse(String), null, hold }

    /// A one-shot gate a test opens by hand.
    final class Gate: Sendable {
        private let stream: AsyncStream<Void>
        private let continuation: AsyncStream<Void>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream(of: Void.self) }
        func open() { continuation.yield(); continuation.finish() }
        func wait() async { for await _ in stream { break } }
    }

    /// What `committed` saw, batch by batch ("-" for a failed item).
    final class CommittedLog: Sendable {
        private let batches = Mutex<[[String]]>([])
        func append(_ batch: [String]) { batches.withLock { $0.append(batch) } }
        var all: [[String]] { batches.withLock { $0 } }
    }

    static func makeTable(_ db: any Database) async throws {
        try await db.write { sql in try await sql.raw("CREATE TABLE gc_items (value TEXT NOT NULL)").run() }
    }

    static func values(_ db: any Database) async throws -> [String] {
        struct Row: Decodable { let value: String }
        return try await db.read { sql in try await sql.raw("SELECT value FROM gc_items ORDER BY value").all(decoding: Row.self) }.map(\.value)
    }

    static func insert(_ value: String?, on sql: any SQLDatabase) async throws {
        try await sql.raw("INSERT INTO gc_items (value) VALUES (\(bind: value))").run()
    }

    /// Holds the first batch open (its one item waits on `gate`) until `count` more items are
    /// pending, so they are written together as the second batch.
    static func secondBatch(
        _ commit: GroupCommit<Step, String>, gate: Gate, _ steps: [Step]
    ) async throws -> [Result<String, any Error>] {
        let before = commit.batchesWritten
        let first = Task { try await commit.submit(.hold) }
        while commit.batchesWritten < before + 1 { await Task.yield() }
        let tasks = steps.enumerated().map { index, step in
            Task { () -> Result<String, any Error> in
                // submitted in order, so the batch's order is the steps' order
                while commit.pendingCount < index { await Task.yield() }
                do { return .success(try await commit.submit(step)) } catch { return .failure(error) }
            }
        }
        while commit.pendingCount < steps.count { try await Task.sleep(for: .milliseconds(1)) }
        gate.open()
        _ = try await first.value
        var results: [Result<String, any Error>] = []
        for task in tasks { results.append(await task.value) }
        #expect(commit.batchesWritten == before + 2, "the held items were written as one batch")
        return results
    }

    static func make(
        _ db: any Database, gate: Gate, committed: CommittedLog? = nil,
        finish: @escaping GroupCommit<Step, String>.Finish = { _, _ in nil },
        batch: GroupCommit<Step, String>.BatchBody? = nil
    ) -> GroupCommit<Step, String> {
        GroupCommit<Step, String>(
            database: db,
            item: { step, sql in
                switch step {
                case .hold:
                    await gate.wait()
                    try await insert("held", on: sql)
                    return "held"
                case .insert(let value):
                    try await insert(value, on: sql)
                    return value
                case .refuse(let value):
                    try await insert(value, on: sql)
                    throw Refused(value: value)
                case .null:
                    try await insert(nil, on: sql)
                    return "never"
                }
            },
            batch: batch,
            finish: finish,
            committed: { results, _ in
                committed?.append(results.map { (try? $0.get()) ?? "-" })
            }
        )
    }

    @Test("a failing item rolls back only itself and gets its own error; the others commit", arguments: TestDatabases.kinds)
    func failingItem(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            try await Self.makeTable(db)
            let gate = Gate()
            let committed = CommittedLog()
            let commit = Self.make(db, gate: gate, committed: committed)
            let results = try await Self.secondBatch(commit, gate: gate, [.insert("a"), .refuse("bad"), .null, .insert("d")])
            #expect(try results[0].get() == "a")
            #expect(throws: Refused(value: "bad")) { try results[1].get() }
            #expect(throws: (any Error).self) { try results[2].get() }
            #expect(try results[3].get() == "d")
            #expect(try await Self.values(db) == ["a", "d", "held"])
            #expect(committed.all == [["held"], ["a", "-", "-", "d"]], "committed runs per batch, in order")
        }
    }

    @Test("a batch whose finish step fails stores nothing and every submitter of it gets the error", arguments: TestDatabases.kinds)
    func failingFinish(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            try await Self.makeTable(db)
            let gate = Gate()
            let commit = Self.make(db, gate: gate, finish: { results, sql in
                try await Self.insert("finished", on: sql)
                if results.contains(where: { (try? $0.get()) == "x" }) { throw Refused(value: "finish") }
                return nil
            })
            let results = try await Self.secondBatch(commit, gate: gate, [.insert("x"), .insert("y")])
            #expect(throws: Refused(value: "finish")) { try results[0].get() }
            #expect(throws: Refused(value: "finish")) { try results[1].get() }
            #expect(try await Self.values(db) == ["finished", "held"], "the first batch only")
        }
    }

    /// A batch body as the message path has one: every insert of the batch in one statement,
    /// a refusal returned as that item's result (nothing written for it); a NOT NULL value makes
    /// the statement itself fail.
    static func batchBody(calls: CommittedLog, gate: Gate) -> GroupCommit<Step, String>.BatchBody {
        { steps, sql in
            calls.append(steps.map { if case .insert(let value) = $0 { value } else { "?" } })
            if steps.contains(where: { if case .hold = $0 { true } else { false } }) { await gate.wait() }
            var values: [String?] = []
            var results: [Result<String, any Error>] = []
            for step in steps {
                switch step {
                case .insert(let value): values.append(value); results.append(.success(value))
                case .refuse(let value): results.append(.failure(Refused(value: value)))
                case .null: values.append(nil); results.append(.success("never"))
                case .hold: values.append("held"); results.append(.success("held"))
                }
            }
            guard !values.isEmpty else { return results }
            var query: SQLQueryString = "INSERT INTO gc_items (value) VALUES "
            for (index, value) in values.enumerated() { query += "\(unsafeRaw: index == 0 ? "" : ", ")(\(bind: value))" }
            try await sql.raw(query).run()
            return results
        }
    }

    @Test("a batch body writes the batch at once and its refusals fail alone; when it throws, the batch is written item by item", arguments: TestDatabases.kinds)
    func batchBody(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            try await Self.makeTable(db)
            let gate = Gate(), calls = CommittedLog(), committed = CommittedLog()
            let commit = Self.make(db, gate: gate, committed: committed, batch: Self.batchBody(calls: calls, gate: gate))
            let results = try await Self.secondBatch(commit, gate: gate, [.insert("a"), .refuse("bad"), .insert("c")])
            #expect(try results[0].get() == "a")
            #expect(throws: Refused(value: "bad")) { try results[1].get() }
            #expect(try results[2].get() == "c")
            #expect(try await Self.values(db) == ["a", "c", "held"])
            #expect(calls.all == [["?"], ["a", "?", "c"]], "one batch-body call per batch, no item-by-item writes")

            // the statement fails (a NULL): rolled back, then item by item with savepoints, so only the NULL fails
            let gate2 = Gate()
            let commit2 = Self.make(db, gate: gate2, committed: committed, batch: Self.batchBody(calls: calls, gate: gate2))
            let retried = try await Self.secondBatch(commit2, gate: gate2, [.insert("d"), .null, .insert("e")])
            #expect(try retried[0].get() == "d")
            #expect(throws: (any Error).self) { try retried[1].get() }
            #expect(try retried[2].get() == "e")
            #expect(try await Self.values(db) == ["a", "c", "d", "e", "held", "held"])
            #expect(calls.all.last == ["d", "?", "e"])
            #expect(committed.all.last == ["d", "-", "e"])
        }
    }

    @Test("the next batch is written while the previous one is published; publishing stays in commit order, two batches deep at most", .timeLimit(.minutes(1)), arguments: TestDatabases.kinds)
    func publishingOverlapsOneBatch(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            try await Self.makeTable(db)
            let publishGate = Gate(), committed = CommittedLog()
            let commit = GroupCommit<Step, String>(
                database: db,
                item: { step, sql in
                    guard case .insert(let value) = step else { return "?" }
                    try await Self.insert(value, on: sql)
                    return value
                },
                committed: { results, _ in
                    let values = results.map { (try? $0.get()) ?? "-" }
                    if values == ["slow"] { await publishGate.wait() }
                    committed.append(values)
                }
            )
            let slow = Task { try await commit.submit(.insert("slow")) }
            while try await Self.values(db) != ["slow"] { try await Task.sleep(for: .milliseconds(2)) }
            // batch 1 is committed and held in its publishing; batch 2 is written meanwhile
            let second = Task { try await commit.submit(.insert("b")) }
            while try await Self.values(db) != ["b", "slow"] { try await Task.sleep(for: .milliseconds(2)) }
            #expect(committed.all.isEmpty, "batch 2 is not published before batch 1")
            // batch 3 waits until batch 1 is published
            let third = Task { try await commit.submit(.insert("c")) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await Self.values(db) == ["b", "slow"], "at most one batch is written ahead of publishing")
            publishGate.open()
            #expect(try await slow.value == "slow")
            #expect(try await second.value == "b")
            #expect(try await third.value == "c")
            #expect(committed.all == [["slow"], ["b"], ["c"]])
        }
    }

    @Test("concurrent submits are all answered, in fewer transactions than items", arguments: TestDatabases.kinds)
    func manyConcurrent(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            try await Self.makeTable(db)
            let gate = Gate()
            let commit = Self.make(db, gate: gate)
            let results = try await Self.secondBatch(commit, gate: gate, (0..<50).map { .insert(String(format: "v%02d", $0)) })
            #expect(try results.map { try $0.get() } == (0..<50).map { String(format: "v%02d", $0) })
            #expect(try await Self.values(db).count == 51)
        }
    }
}
