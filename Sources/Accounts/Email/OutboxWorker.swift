import Foundation
import Logging
import Mail
import ServiceLifecycle
import Synchronization

/// Settings of the outbox worker.
public struct OutboxWorkerSettings: Sendable {
    /// How often the table is polled when nothing wakes the worker (mail enqueued by
    /// another process, retries coming due).
    public var pollInterval: Duration = .seconds(1)
    /// How long a claimed row stays with its worker. Longer than one send's deadline,
    /// so only a worker that died loses its rows; they are claimed again when it expires.
    public var lease: Duration = .seconds(120)
    /// Rows claimed (and sent concurrently) at once. Small, so every claimed row starts
    /// sending at once and no lease runs out while a row waits its turn.
    public var batchSize: Int = 4
    /// Backoff, attempt cap and age cap (the Mail module's; honours Retry-After).
    public var retryPolicy: RetryPolicy = .default

    public init() {}
}

/// Opens once; the worker does not touch the table before (migrations run first).
public final class OutboxStartGate: Sendable {
    private let isOpenFlag = Mutex(false)
    public init(open: Bool = false) { isOpenFlag.withLock { $0 = open } }
    public func open() { isOpenFlag.withLock { $0 = true } }
    public var isOpen: Bool { isOpenFlag.withLock { $0 } }
}

/// Delivers the mail outbox: claims due rows with a lease, sends each with its row id
/// as the Idempotency-Key, and records the outcome: sent (with the provider's id),
/// another attempt later (transient failure; the Mail module's backoff, honouring
/// Retry-After), or dead (a permanent failure, too many attempts, or too old).
///
/// Any number of workers, in one process or several sharing one PostgreSQL, can run
/// at once: a row is claimed by one of them at a time. On graceful shutdown the worker
/// stops claiming and finishes the sends it has started.
public struct OutboxWorker: Service {
    let database: any Database
    let sender: any MailSender
    let signal: OutboxSignal
    let clock: AccountsClock
    let settings: OutboxWorkerSettings
    let startGate: OutboxStartGate?
    let store = MailOutboxStore()
    let logger: Logger

    public init(
        database: any Database, sender: any MailSender, signal: OutboxSignal, clock: AccountsClock = .system,
        settings: OutboxWorkerSettings = .init(), startGate: OutboxStartGate? = nil, logger: Logger
    ) {
        self.database = database
        self.sender = sender
        self.signal = signal
        self.clock = clock
        self.settings = settings
        self.startGate = startGate
        self.logger = logger
    }

    public func run() async throws {
        let signal = self.signal
        await withGracefulShutdownHandler {
            while let gate = startGate, !gate.isOpen {
                if Task.isShuttingDownGracefully || Task.isCancelled { return }
                await signal.wait(upTo: .milliseconds(100))
            }
            logger.debug("mail outbox worker started")
            var lookAgainSoon = false
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                var handled = 0
                do {
                    handled = try await processDue()
                } catch {
                    logger.warning("mail outbox poll failed", metadata: ["error.type": "\(String(reflecting: type(of: error)))"])
                }
                if Task.isShuttingDownGracefully { break }
                if handled > 0 { continue }
                // A wake may come before the enqueuing transaction committed: look once more shortly after.
                let woken = await signal.wait(upTo: lookAgainSoon ? .milliseconds(100) : settings.pollInterval)
                lookAgainSoon = woken
            }
            logger.debug("mail outbox worker stopped")
        } onGracefulShutdown: {
            signal.wake()
        }
    }

    /// Claims one batch of due rows and sends them; returns how many were claimed.
    @discardableResult
    public func processDue() async throws -> Int {
        let now = clock.now().millis
        let leaseUntil = now + settings.lease.millis
        let claimToken = OpaqueToken.generate(bits: 128)
        let kind = database.kind
        let limit = settings.batchSize
        let store = self.store
        let rows = try await database.write { db in
            try await store.claim(limit: limit, now: now, leaseUntil: leaseUntil, claimToken: claimToken, kind: kind, on: db)
        }
        guard !rows.isEmpty else { return 0 }
        await withTaskGroup(of: Void.self) { group in
            for row in rows {
                group.addTask { await self.deliver(row, claimToken: claimToken) }
            }
        }
        return rows.count
    }

    /// Processes batches until nothing is due (tests; a one-shot flush).
    @discardableResult
    public func processAllDue() async throws -> Int {
        var total = 0
        while true {
            let handled = try await processDue()
            if handled == 0 { return total }
            total += handled
        }
    }

    func deliver(_ row: OutboxRecord, claimToken: String) async {
        var logger = self.logger
        logger[metadataKey: "mail.outbox_id"] = "\(row.id)"
        logger[metadataKey: "mail.kind"] = "\(row.kind)"
        logger[metadataKey: "mail.attempt"] = "\(row.attempts)"
        let policy = settings.retryPolicy
        let store = self.store
        do {
            let claimedAt = clock.now().millis
            if row.attempts > policy.maxAttempts || Duration.milliseconds(claimedAt - row.createdAt) > policy.maxAge {
                let reason = "gave up: \(row.attempts - 1) attempts over \((claimedAt - row.createdAt) / 1000) s (a worker stopped mid-send)"
                _ = try await database.write { db in try await store.markDead(id: row.id, claimToken: claimToken, error: reason, on: db) }
                logger.warning("mail dead: attempt or age limit reached")
                return
            }
            let outcome: Result<SentMail, any Error>
            do {
                outcome = .success(try await sender.send(row.mail, idempotencyKey: row.id))
            } catch {
                outcome = .failure(error)
            }
            let now = clock.now().millis
            switch outcome {
            case .success(let sent):
                let recorded = try await database.write { db in
                    try await store.markSent(id: row.id, claimToken: claimToken, providerID: sent.providerId, now: now, on: db)
                }
                if recorded {
                    logger.info("mail sent", metadata: ["mail.provider_id": "\(sent.providerId)"])
                } else {
                    logger.notice("mail sent after its lease ran out; the next claim reuses its idempotency key")
                }
            case .failure(let error):
                let mailError = error as? MailError
                let description = mailError.map { "\($0)" } ?? "unexpected error: \(String(reflecting: type(of: error)))"
                var metadata: Logger.Metadata = ["mail.error.code": "\(mailError.map { "\($0.code)" } ?? "unknown")"]
                if let status = mailError?.httpStatus { metadata["mail.error.status"] = "\(status)" }
                let decision = policy.decide(
                    after: MailError.disposition(of: error), attempts: row.attempts,
                    age: .milliseconds(now - row.createdAt), previousDelay: row.lastDelayMs.map { .milliseconds($0) }
                )
                switch decision {
                case .retry(let delay):
                    // At least 1 ms, so a failed row is never due again within the same instant.
                    let delayMs = max(1, delay.millis)
                    _ = try await database.write { db in
                        try await store.reschedule(
                            id: row.id, claimToken: claimToken, nextAttemptAt: now + delayMs, delayMs: delayMs, error: description, on: db
                        )
                    }
                    metadata["mail.retry_in_ms"] = "\(delayMs)"
                    logger.info("mail attempt failed; will retry", metadata: metadata)
                case .giveUp:
                    _ = try await database.write { db in try await store.markDead(id: row.id, claimToken: claimToken, error: description, on: db) }
                    logger.warning("mail dead", metadata: metadata)
                }
            }
        } catch {
            // The row stays claimed until its lease runs out, then is tried again with the same key.
            logger.warning("recording a mail attempt failed", metadata: ["error.type": "\(String(reflecting: type(of: error)))"])
        }
    }
}
