/// Something that hands mail to a provider.
///
/// The outbox worker calls `send(_:idempotencyKey:)` with the outbox row id as
/// the key, so a retried row is never delivered twice by a provider that
/// honours idempotency keys. On failure the sender throws ``MailError``; the
/// worker reads ``MailError/disposition`` and asks its ``RetryPolicy`` what to
/// do next.
public protocol MailSender: Sendable {
    /// Sends one mail.
    ///
    /// - Parameters:
    ///   - mail: The mail.
    ///   - idempotencyKey: Stable for every attempt to send this same mail
    ///     (Resend keeps a key for 24 hours; at most 256 characters).
    /// - Returns: The provider's receipt.
    /// - Throws: ``MailError``.
    func send(_ mail: OutgoingMail, idempotencyKey: String) async throws -> SentMail
}
