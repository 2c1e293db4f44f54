/// One email to be sent: the domain value the application builds and the
/// outbox stores (it is `Codable` so a worker can persist it as JSON).
///
/// This is not the provider's wire shape; each sender maps it to its own.
public struct OutgoingMail: Sendable, Hashable, Codable {
    /// Sender, e.g. `"Switchboard <no-reply@example.com>"`.
    public var from: String
    /// Recipients (Resend accepts up to 50).
    public var to: [String]
    public var subject: String
    /// HTML part.
    public var html: String
    /// Plain-text part.
    public var text: String
    public var replyTo: String?
    /// Provider tags (Resend: ASCII letters, digits, `_` and `-` only).
    public var tags: [String: String]?

    public init(
        from: String,
        to: [String],
        subject: String,
        html: String,
        text: String,
        replyTo: String? = nil,
        tags: [String: String]? = nil
    ) {
        self.from = from
        self.to = to
        self.subject = subject
        self.html = html
        self.text = text
        self.replyTo = replyTo
        self.tags = tags
    }

    /// Builds a mail from rendered template content.
    public init(
        from: String,
        to: [String],
        content: MailContent,
        replyTo: String? = nil,
        tags: [String: String]? = nil
    ) {
        self.init(
            from: from,
            to: to,
            subject: content.subject,
            html: content.html,
            text: content.text,
            replyTo: replyTo,
            tags: tags
        )
    }
}

/// What a provider returned for an accepted mail.
public struct SentMail: Sendable, Hashable, Codable {
    /// The provider's id for the mail (Resend's `id`; a synthetic id for the
    /// development mailbox).
    public var providerId: String

    public init(providerId: String) {
        self.providerId = providerId
    }
}
