import SQLKit
import Synchronization

/// Group commit: concurrent writes of one kind share one transaction.
///
/// The first ``submit(_:)`` while none is being written starts a batch; whatever is
/// submitted while a batch is being written waits and forms the next one (at most
/// ``maxBatchSize`` items each), so under load one `BEGIN … COMMIT` (and, on PostgreSQL,
/// one WAL flush) serves many writes, and an idle system still writes each one at once.
///
/// A failing item fails alone: a batch is first written without savepoints, either by the
/// `batch` body (the whole batch in a few statements, each item's own failure returned as its
/// result) or, without one, with its items one after another; when that attempt throws, that attempt is rolled back and the batch is written again with each item inside
/// its own `SAVEPOINT`, where a throwing item is rolled back to its savepoint (its own writes
/// undone, everything before it kept) and its submitter gets its own error, while the others
/// commit. PostgreSQL needs the savepoint (an error aborts the whole transaction otherwise);
/// SQLite gets the same semantics. So a batch costs one savepoint-free transaction, and a
/// batch with a failing item two. A batch of one item is never retried (the transaction is
/// the unit). When the transaction itself fails (a constraint at COMMIT, the database
/// overloaded or gone), nothing of the batch is stored and every submitter of it gets that error.
///
/// Order: batches are written one at a time, items in submission order, and `committed`
/// runs for each batch after its COMMIT, one batch after another in commit order, so whatever
/// it publishes is published in commit order. Submitters are resumed after their batch's
/// `committed`. Publishing overlaps the next write by one batch: batch k+1 is written while
/// batch k's `committed` runs (delivering a batch's events takes about as long as writing the
/// next one), and batch k+2 waits until batch k is published, so at most two batches are
/// between COMMIT and their answers.
///
/// The technique is the group commit of database engines (PostgreSQL's `commit_delay`,
/// InnoDB's binlog group commit), applied one level up, at the application's transactions.
public final class GroupCommit<Item: Sendable, Output: Sendable>: Sendable {
    /// One item's work, inside the batch's transaction (and its savepoint).
    public typealias ItemBody = @Sendable (Item, any SQLDatabase) async throws -> Output
    /// The whole batch at once, inside its transaction, without savepoints: one result per item,
    /// in order. An item it refuses must have written nothing (its failure is its result); a
    /// throw rolls the attempt back and the batch is written again item by item with savepoints.
    public typealias BatchBody = @Sendable ([Item], any SQLDatabase) async throws -> [Result<Output, any Error>]
    /// Runs once per batch after every item, in the same transaction, as its last
    /// statements before COMMIT (e.g. an event-log append). Gets the items' outcomes in
    /// submission order. Throwing rolls the whole batch back: every submitter gets the error.
    /// What it returns (e.g. the log position it appended through) is handed to this batch's
    /// `committed`.
    public typealias Finish = @Sendable ([Result<Output, any Error>], any SQLDatabase) async throws -> (any Sendable)?
    /// Runs once per committed batch, outside the transaction, before the submitters resume,
    /// with what the batch's `finish` returned.
    public typealias Committed = @Sendable ([Result<Output, any Error>], (any Sendable)?) async -> Void

    public let maxBatchSize: Int
    private let database: any Database
    private let item: ItemBody
    private let batch: BatchBody?
    private let finish: Finish
    private let committed: Committed
    private let state = Mutex(State())

    private struct Waiter {
        let item: Item
        let continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var pending: [Waiter] = []
        var writing = false
        var batches = 0
        /// The publishing stages (`committed`, then the answers) of the last batches written,
        /// oldest first: at most two.
        var publishing: [Task<Void, Never>] = []
    }

    /// - Parameters:
    ///   - maxBatchSize: the most items one transaction holds (≥ 1).
    ///   - item: one item's writes; its thrown error goes to that item's submitter only.
    ///   - batch: optionally, the whole batch's writes (the first attempt); `item` is then the
    ///     fallback when it throws.
    ///   - finish: per batch, after the items, before COMMIT.
    ///   - committed: per batch, after COMMIT, in commit order.
    public init(
        database: any Database, maxBatchSize: Int = 128,
        item: @escaping ItemBody,
        batch: BatchBody? = nil,
        finish: @escaping Finish = { _, _ in nil },
        committed: @escaping Committed = { _, _ in }
    ) {
        self.database = database
        self.maxBatchSize = max(1, maxBatchSize)
        self.item = item
        self.batch = batch
        self.finish = finish
        self.committed = committed
    }

    /// Batches started so far (for tests and metrics).
    public var batchesWritten: Int { state.withLock { $0.batches } }

    /// Items waiting for the next batch (for tests and metrics).
    public var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Writes `item` in the next batch and returns its output once that batch has committed.
    /// - Throws: the item's own error (its writes rolled back, the others' kept), or the
    ///   batch's error (nothing of the batch stored).
    public func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state -> Bool in
                state.pending.append(Waiter(item: item, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if start {
                Task { await self.drain() }
            }
        }
    }

    /// Writes batches until nothing is pending.
    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Waiter] in
                guard !state.pending.isEmpty else {
                    state.writing = false
                    return []
                }
                let count = min(state.pending.count, maxBatchSize)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                state.batches += 1
                return batch
            }
            guard !batch.isEmpty else { return }
            // Batch k+2 is written once batch k is published (one batch of overlap).
            while let oldest = state.withLock({ $0.publishing.count >= 2 ? $0.publishing.removeFirst() : nil }) {
                await oldest.value
            }
            await write(batch)
        }
    }

    /// An item threw during a savepoint-free attempt.
    private struct ItemFailed: Error {
        let error: any Error
    }

    /// Writes `batch` and, once committed, queues its publishing stage behind the previous one's.
    private func write(_ batch: [Waiter]) async {
        let items = batch.map(\.item)
        let written: (results: [Result<Output, any Error>], token: (any Sendable)?)
        do {
            do {
                written = try await attempt(items, savepoints: false)
            } catch let failed as ItemFailed {
                // One item written item by item is final; a batch body's throw is not (it may
                // stand for a neighbour, or a race the item body answers, e.g. its room deleted).
                guard items.count > 1 || self.batch != nil else { throw failed.error }
                written = try await attempt(items, savepoints: true)
            }
        } catch {
            for waiter in batch { waiter.continuation.resume(throwing: error) }
            return
        }
        let committed = self.committed
        state.withLock { state in
            let previous = state.publishing.last
            state.publishing.append(Task {
                await previous?.value
                await committed(written.results, written.token)
                for (waiter, result) in zip(batch, written.results) { waiter.continuation.resume(with: result) }
            })
        }
    }

    /// One transaction over `items`: without savepoints an item's error ends the attempt
    /// (``ItemFailed``); with them it is that item's result.
    private func attempt(_ items: [Item], savepoints: Bool) async throws -> (results: [Result<Output, any Error>], token: (any Sendable)?) {
        try await database.write { [item, batch, finish] db in
            if !savepoints, let batch {
                let results: [Result<Output, any Error>]
                do {
                    results = try await batch(items, db)
                } catch {
                    throw ItemFailed(error: error)
                }
                precondition(results.count == items.count, "a batch body returns one result per item")
                return (results, try await finish(results, db))
            }
            var results: [Result<Output, any Error>] = []
            results.reserveCapacity(items.count)
            for element in items {
                guard savepoints else {
                    do {
                        results.append(.success(try await item(element, db)))
                    } catch {
                        throw ItemFailed(error: error)
                    }
                    continue
                }
                try await db.raw("SAVEPOINT group_commit_item").run()
                do {
                    let output = try await item(element, db)
                    try await db.raw("RELEASE SAVEPOINT group_commit_item").run()
                    results.append(.success(output))
                } catch {
                    try await db.raw("ROLLBACK TO SAVEPOINT group_commit_item").run()
                    try await db.raw("RELEASE SAVEPOINT group_commit_item").run()
                    results.append(.failure(error))
                }
            }
            return (results, try await finish(results, db))
        }
    }
}
