import Mail
import SQLKit

/// Enqueues mail in the caller's transaction, so the mail commits or rolls back with
/// whatever it is about (a token, a password change); ``OutboxWorker`` delivers it.
public struct MailOutbox: Sendable {
    public let signal: OutboxSignal
    let store = MailOutboxStore()

    public init(signal: OutboxSignal = OutboxSignal()) {
        self.signal = signal
    }

    /// Inserts `mail` (one row per recipient) on `db`, which should be the transaction
    /// that makes the mail true. Returns the row ids.
    @discardableResult
    public func enqueue(_ mail: OutgoingMail, kind: String, now: Int64, on db: any SQLDatabase) async throws -> [String] {
        try await store.insert(mail, kind: kind, now: now, on: db)
    }

    /// Tells this process's worker there is new mail. Call it after the enqueuing
    /// transaction committed; a wake before the commit is harmless (the worker looks
    /// again shortly after a wake that found nothing).
    public func wake() {
        signal.wake()
    }
}
