import Foundation
import Mail
import SQLKit

/// A `mail_outbox` row.
public struct OutboxRecord: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case pending, sending, sent, dead
    }

    public var id: String
    public var recipient: String
    public var sender: String
    public var subject: String
    public var htmlBody: String
    public var textBody: String
    public var kind: String
    public var status: Status
    public var attempts: Int
    public var nextAttemptAt: Int64
    public var lockedUntil: Int64?
    public var lockedBy: String?
    public var lastError: String?
    public var lastDelayMs: Int64?
    public var providerId: String?
    public var createdAt: Int64
    public var sentAt: Int64?

    /// The mail as the sender takes it; `kind` travels as a provider tag.
    public var mail: OutgoingMail {
        OutgoingMail(from: sender, to: [recipient], subject: subject, html: htmlBody, text: textBody, tags: ["kind": kind])
    }
}

/// The transactional outbox table. Rows are inserted in the transaction that creates
/// whatever the mail is about, and claimed by ``OutboxWorker``s with a lease.
///
/// A pending row holds its mail's one-time link (it must survive a crash to be sent);
/// once a row is sent or dead its bodies are blanked, so the database keeps no usable
/// token beyond the mail's time in the queue.
public struct MailOutboxStore: Sendable {
    public init() {}

    static let columns = """
        id, recipient, sender, subject, html_body, text_body, kind, status, attempts, next_attempt_at, locked_until, \
        locked_by, last_error, last_delay_ms, provider_id, created_at, sent_at
        """

    /// Inserts the mail as pending and due now, one row per recipient; returns the row ids
    /// (each is the Idempotency-Key of every attempt to send that row).
    @discardableResult
    public func insert(_ mail: OutgoingMail, kind: String, now: Int64, on db: any SQLDatabase) async throws -> [String] {
        var ids: [String] = []
        for recipient in mail.to {
            let id = UUID().uuidString.lowercased()
            try await db.raw(
                """
                INSERT INTO mail_outbox (id, recipient, sender, subject, html_body, text_body, kind, status, attempts, next_attempt_at, created_at)
                VALUES (\(bind: id), \(bind: recipient), \(bind: mail.from), \(bind: mail.subject), \(bind: mail.html), \(bind: mail.text),
                        \(bind: kind), 'pending', 0, \(bind: now), \(bind: now))
                """
            ).run()
            ids.append(id)
        }
        return ids
    }

    /// Claims up to `limit` due rows: pending ones whose time has come and sending ones
    /// whose lease ran out (their worker died). Each claim counts as an attempt and holds
    /// the row until `leaseUntil`.
    ///
    /// PostgreSQL: `FOR UPDATE SKIP LOCKED` lets concurrent workers claim disjoint rows
    /// without waiting on each other, and the re-check of the WHERE clause on a row that
    /// changed under the statement keeps a row from being claimed twice.
    /// SQLite: the single writer makes the UPDATE atomic.
    public func claim(
        limit: Int, now: Int64, leaseUntil: Int64, claimToken: String, kind: DatabaseKind, on db: any SQLDatabase
    ) async throws -> [OutboxRecord] {
        let lock = kind == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
        return try await db.raw(
            """
            UPDATE mail_outbox
            SET status = 'sending', attempts = attempts + 1, locked_until = \(bind: leaseUntil),
                next_attempt_at = \(bind: leaseUntil), locked_by = \(bind: claimToken)
            WHERE id IN (
                SELECT id FROM mail_outbox
                WHERE status IN ('pending', 'sending') AND next_attempt_at <= \(bind: now)
                ORDER BY next_attempt_at
                LIMIT \(bind: limit)
                \(unsafeRaw: lock)
            )
            RETURNING \(unsafeRaw: Self.columns)
            """
        ).all(decoding: OutboxRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// Records delivery; false when the claim was lost (the lease ran out and another
    /// worker took the row; its attempt reuses the Idempotency-Key).
    @discardableResult
    public func markSent(id: String, claimToken: String, providerID: String, now: Int64, on db: any SQLDatabase) async throws -> Bool {
        let rows = try await db.raw(
            """
            UPDATE mail_outbox
            SET status = 'sent', provider_id = \(bind: providerID), sent_at = \(bind: now), locked_until = NULL, locked_by = NULL,
                last_error = NULL, html_body = '', text_body = '', recipient = \(unsafeRaw: Self.recipientKept)
            WHERE id = \(bind: id) AND locked_by = \(bind: claimToken) AND status = 'sending'
            RETURNING id
            """
        ).all()
        return rows.count == 1
    }

    /// Schedules another attempt at `nextAttemptAt`.
    @discardableResult
    public func reschedule(
        id: String, claimToken: String, nextAttemptAt: Int64, delayMs: Int64, error: String, on db: any SQLDatabase
    ) async throws -> Bool {
        let rows = try await db.raw(
            """
            UPDATE mail_outbox
            SET status = 'pending', next_attempt_at = \(bind: nextAttemptAt), last_delay_ms = \(bind: delayMs),
                last_error = \(bind: error), locked_until = NULL, locked_by = NULL
            WHERE id = \(bind: id) AND locked_by = \(bind: claimToken) AND status = 'sending'
            RETURNING id
            """
        ).all()
        return rows.count == 1
    }

    /// Gives up on a mail.
    @discardableResult
    public func markDead(id: String, claimToken: String, error: String, on db: any SQLDatabase) async throws -> Bool {
        let rows = try await db.raw(
            """
            UPDATE mail_outbox
            SET status = 'dead', last_error = \(bind: error), locked_until = NULL, locked_by = NULL, html_body = '', text_body = '',
                recipient = \(unsafeRaw: Self.recipientKept)
            WHERE id = \(bind: id) AND locked_by = \(bind: claimToken) AND status = 'sending'
            RETURNING id
            """
        ).all()
        return rows.count == 1
    }

    /// A finished row keeps its recipient, except the last mail to a deleted account's old
    /// address (``AccountDeletion``): that one forgets it once it is sent or dead.
    static let recipientKept = "CASE WHEN kind = '\(AccountMailer.Kind.accountDeleted)' THEN '' ELSE recipient END"

    /// An account's deletion (``AccountDeletion/erase(_:redact:)``, in its transaction): the
    /// finished rows sent to `address` (sent or dead, bodies already blanked) get `replacement`
    /// as their recipient, and its pending rows are dropped (their links died with the account's
    /// tokens). A row a worker is sending at that moment keeps the address.
    public func forget(address: String, replacement: String, on db: any SQLDatabase) async throws {
        try await db.raw(
            "UPDATE mail_outbox SET recipient = \(bind: replacement) WHERE recipient = \(bind: address) AND status IN ('sent', 'dead')"
        ).run()
        try await db.raw("DELETE FROM mail_outbox WHERE recipient = \(bind: address) AND status = 'pending'").run()
    }

    public func find(id: String, on db: any SQLDatabase) async throws -> OutboxRecord? {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM mail_outbox WHERE id = \(bind: id)")
            .first(decoding: OutboxRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// Every row, oldest first (tests, support tooling).
    public func all(on db: any SQLDatabase) async throws -> [OutboxRecord] {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM mail_outbox ORDER BY created_at, id")
            .all(decoding: OutboxRecord.self, keyDecodingStrategy: .snakeCaseColumns)
    }

    /// The earliest time a pending or sending row is due, if any.
    public func nextDue(on db: any SQLDatabase) async throws -> Int64? {
        struct Row: Decodable { let due: Int64? }
        return try await db.raw("SELECT MIN(next_attempt_at) AS due FROM mail_outbox WHERE status IN ('pending', 'sending')")
            .first(decoding: Row.self)?.due
    }
}
