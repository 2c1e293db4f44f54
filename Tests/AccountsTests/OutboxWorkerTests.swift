@testable import Accounts
import Foundation
import Logging
import Mail
import ServiceLifecycle
import SQLKit
import Testing
import TestSupport

/// A database, a fake Resend over HTTPS, the real Resend client pointed at it, and a
/// clock the test moves by hand.
struct OutboxHarness: Sendable {
    let db: any Database
    let clock: ManualClock
    let fake: FakeResendServer
    let sender: ResendMailSender
    let outbox = MailOutbox()

    static func with(_ kind: DatabaseKind, _ body: @Sendable (OutboxHarness) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { db in
            let fake = try await FakeResendServer.start()
            let sender = try ResendMailSender(
                configuration: ResendConfiguration(
                    apiKey: "re_test_key", baseURL: fake.baseURL, timeout: .seconds(10), additionalTrustedCAFile: fake.caFile
                ),
                logger: TestDatabases.logger
            )
            let harness = OutboxHarness(db: db, clock: ManualClock(), fake: fake, sender: sender)
            do {
                try await body(harness)
            } catch {
                try? await sender.shutdown()
                try? await fake.close()
                throw error
            }
            try await sender.shutdown()
            try? await fake.close()
        }
    }

    func worker(_ configure: (inout OutboxWorkerSettings) -> Void = { _ in }) -> OutboxWorker {
        var settings = OutboxWorkerSettings()
        configure(&settings)
        return OutboxWorker(database: db, sender: sender, signal: outbox.signal, clock: clock.clock, settings: settings, logger: TestDatabases.logger)
    }

    var nowMillis: Int64 { clock.clock.now().millis }

    @discardableResult
    func enqueue(_ count: Int) async throws -> [String] {
        let now = nowMillis
        let outbox = self.outbox
        return try await db.write { db in
            var ids: [String] = []
            for index in 0..<count {
                let mail = OutgoingMail(
                    from: "Switchboard <no-reply@example.test>", to: ["user\(index)@example.test"], subject: "Mail \(index)",
                    html: "<p>\(index)</p>", text: "Mail \(index)"
                )
                ids += try await outbox.enqueue(mail, kind: "test", now: now, on: db)
            }
            return ids
        }
    }

    func rows() async throws -> [OutboxRecord] {
        try await db.read { db in try await MailOutboxStore().all(on: db) }
    }

    func row(_ id: String) async throws -> OutboxRecord {
        try #require(try await db.read { db in try await MailOutboxStore().find(id: id, on: db) })
    }
}

@Suite("Mail outbox worker")
struct OutboxWorkerTests {
    @Test("a 503 is retried with the same Idempotency-Key and the mail is sent once", arguments: TestDatabases.kinds)
    func transientFailure(kind: DatabaseKind) async throws {
        try await OutboxHarness.with(kind) { h in
            let id = try #require(try await h.enqueue(1).first)
            h.fake.enqueue(.error(.serviceUnavailable, name: "internal_server_error"))
            let worker = h.worker()
            #expect(try await worker.processDue() == 1)
            var row = try await h.row(id)
            #expect(row.status == .pending)
            #expect(row.attempts == 1)
            #expect(row.lastError?.contains("providerUnavailable") == true)
            #expect(row.nextAttemptAt > h.nowMillis - 1 && row.nextAttemptAt <= h.nowMillis + 5_000)
            h.clock.advance(5)
            #expect(try await worker.processDue() == 1)
            row = try await h.row(id)
            #expect(row.status == .sent)
            #expect(row.attempts == 2)
            #expect(row.providerId == "fake-1")
            #expect(row.lastError == nil && row.lockedBy == nil)
            #expect(row.textBody.isEmpty && row.htmlBody.isEmpty)  // no one-time link kept after sending
            let requests = h.fake.requests
            #expect(requests.map(\.status) == [503, 200])
            #expect(requests.allSatisfy { $0.idempotencyKey == id })
            #expect(requests.allSatisfy { $0.authorization == "Bearer re_test_key" && $0.to == ["user0@example.test"] })
            #expect(h.fake.deliveries == [id: 1])
            h.clock.advance(3600)
            #expect(try await worker.processDue() == 0)
        }
    }

    @Test("a 429 with Retry-After waits exactly that long", arguments: TestDatabases.kinds)
    func retryAfter(kind: DatabaseKind) async throws {
        try await OutboxHarness.with(kind) { h in
            let id = try #require(try await h.enqueue(1).first)
            h.fake.enqueue(.error(.tooManyRequests, name: "rate_limit_exceeded", headers: [("Retry-After", "30")]))
            let worker = h.worker()
            let start = h.nowMillis
            #expect(try await worker.processDue() == 1)
            let row = try await h.row(id)
            #expect(row.status == .pending)
            #expect(row.nextAttemptAt == start + 30_000)
            #expect(row.lastError?.contains("rateLimited") == true)
            h.clock.advance(29.9)
            #expect(try await worker.processDue() == 0)
            h.clock.advance(0.1)
            #expect(try await worker.processDue() == 1)
            #expect(try await h.row(id).status == .sent)
            #expect(h.fake.requests.count == 2)
        }
    }

    @Test("a 422 goes dead with its reason and is never retried", arguments: TestDatabases.kinds)
    func permanentFailure(kind: DatabaseKind) async throws {
        try await OutboxHarness.with(kind) { h in
            let id = try #require(try await h.enqueue(1).first)
            h.fake.enqueue(.error(.unprocessableEntity, name: "validation_error", message: "Invalid to field"))
            let worker = h.worker()
            #expect(try await worker.processDue() == 1)
            let row = try await h.row(id)
            #expect(row.status == .dead)
            #expect(row.attempts == 1)
            #expect(row.lastError?.contains("validation_error") == true)
            #expect(row.lastError?.contains("Invalid to field") == true)
            h.clock.advance(86_400)
            #expect(try await worker.processAllDue() == 0)
            #expect(h.fake.requests.count == 1)
        }
    }

    @Test("an outage over many mails with a worker dying mid-way ends with each delivered exactly once", arguments: TestDatabases.kinds)
    func outageAndRestart(kind: DatabaseKind) async throws {
        try await OutboxHarness.with(kind) { h in
            let ids = try await h.enqueue(12)
            h.fake.setOutage(true)
            let first = h.worker()
            #expect(try await first.processAllDue() == 12)
            h.clock.advance(600)
            #expect(try await first.processAllDue() == 12)
            #expect(try await h.rows().allSatisfy { $0.status == .pending && $0.attempts == 2 })

            // The outage ends; a worker claims a batch, delivers one of them and dies
            // before recording anything.
            h.fake.setOutage(false)
            h.clock.advance(600)
            let now = h.nowMillis
            let lost = try await h.db.write { db in
                try await MailOutboxStore().claim(limit: 4, now: now, leaseUntil: now + 120_000, claimToken: "dead-worker", kind: h.db.kind, on: db)
            }
            #expect(lost.count == 4)
            _ = try await h.sender.send(lost[0].mail, idempotencyKey: lost[0].id)

            // Its replacement sends the rest, and the lost rows once their lease runs out.
            let second = h.worker()
            #expect(try await second.processAllDue() == 8)
            #expect(try await h.rows().filter { $0.status == .sending }.count == 4)
            h.clock.advance(119)
            #expect(try await second.processAllDue() == 0)
            h.clock.advance(2)
            #expect(try await second.processAllDue() == 4)

            let rows = try await h.rows()
            #expect(rows.allSatisfy { $0.status == .sent && $0.providerId != nil })
            #expect(h.fake.deliveries == Dictionary(uniqueKeysWithValues: ids.map { ($0, 1) }))
            // Only the row the dead worker had delivered was presented twice with 200; the provider kept it once.
            let accepted = h.fake.requests.filter { $0.status == 200 }
            #expect(accepted.count == 13)
            #expect(Set(accepted.compactMap(\.idempotencyKey)) == Set(ids))
        }
    }

    @Test("two workers on one database never send a row twice", arguments: TestDatabases.kinds)
    func concurrentWorkers(kind: DatabaseKind) async throws {
        try await OutboxHarness.with(kind) { h in
            let ids = try await h.enqueue(40)
            let workers = [h.worker { $0.batchSize = 3 }, h.worker { $0.batchSize = 3 }]
            let handled = try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in workers {
                    group.addTask { try await worker.processAllDue() }
                }
                return try await group.reduce(0, +)
            }
            #expect(handled == 40)
            let requests = h.fake.requests
            #expect(requests.count == 40)
            #expect(Set(requests.compactMap(\.idempotencyKey)) == Set(ids))
            #expect(try await h.rows().allSatisfy { $0.status == .sent && $0.attempts == 1 })
        }
    }

    @Test("mail older than the retry policy's age limit goes dead unsent", arguments: TestDatabases.kinds)
    func ageLimit(kind: DatabaseKind) async throws {
        try await OutboxHarness.with(kind) { h in
            let id = try #require(try await h.enqueue(1).first)
            h.clock.advance(24 * 3600)
            #expect(try await h.worker().processDue() == 1)
            let row = try await h.row(id)
            #expect(row.status == .dead)
            #expect(row.lastError?.contains("gave up") == true)
            #expect(h.fake.requests.isEmpty)
        }
    }

    @Test("the worker service sends at once when woken and stops on graceful shutdown", arguments: TestDatabases.kinds)
    func serviceWakesAndDrains(kind: DatabaseKind) async throws {
        try await OutboxHarness.with(kind) { h in
            var settings = OutboxWorkerSettings()
            settings.pollInterval = .seconds(60)
            let gate = OutboxStartGate()
            let worker = OutboxWorker(
                database: h.db, sender: h.sender, signal: h.outbox.signal, settings: settings, startGate: gate, logger: TestDatabases.logger
            )
            let group = ServiceGroup(configuration: .init(services: [worker], logger: TestDatabases.logger))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await Task.sleep(for: .milliseconds(200))
                gate.open()
                // Enqueued by "now": the system clock the service uses.
                let mail = OutgoingMail(from: "a@example.test", to: ["b@example.test"], subject: "Hello", html: "<p>hi</p>", text: "hi")
                let outbox = h.outbox
                _ = try await h.db.write { db in try await outbox.enqueue(mail, kind: "test", now: Date().millis, on: db) }
                h.outbox.wake()
                let deadline = ContinuousClock.now + .seconds(10)
                while h.fake.requests.isEmpty && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(h.fake.requests.count == 1)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            let rows = try await h.rows()
            #expect(rows.map(\.status) == [.sent])
        }
    }
}
