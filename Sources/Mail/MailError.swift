/// Why a mail was not sent, and whether trying again can help.
///
/// A struct around a private enum, as postgres-nio's `PSQLError` is, so new
/// kinds of failure can be added without breaking callers: switch on
/// ``disposition`` (what to do) and compare ``code`` (what happened).
///
/// Its description never contains the API key, a request header or the mail.
public struct MailError: Error, Sendable, CustomStringConvertible {
    /// What the caller should do with the mail.
    public enum Disposition: Sendable, Hashable {
        /// A transient failure: try again later, not before `after` when the
        /// provider said so (Retry-After).
        case retry(after: Duration?)
        /// The provider refused this mail; sending it again will not help.
        case permanent

        public var isRetryable: Bool {
            if case .retry = self { return true }
            return false
        }
    }

    /// What went wrong, as a stable, comparable value.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case rejected
            case rateLimited
            case providerUnavailable
            case idempotencyConflict
            case unexpectedStatus
            case invalidResponse
            case responseTooLarge
            case deadlineExceeded
            case tlsFailure
            case connectionFailed
            case cancelled
            case invalidConfiguration
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The provider refused the mail with a 4xx (validation, auth, ...).
        public static let rejected = Code(.rejected)
        /// 429 Too Many Requests.
        public static let rateLimited = Code(.rateLimited)
        /// 5xx from the provider.
        public static let providerUnavailable = Code(.providerUnavailable)
        /// 409 `concurrent_idempotent_requests`: an attempt with the same key
        /// is still in flight at the provider.
        public static let idempotencyConflict = Code(.idempotencyConflict)
        /// A status the client does not expect (1xx, 3xx).
        public static let unexpectedStatus = Code(.unexpectedStatus)
        /// A 2xx whose body is not the provider's success shape (a proxy or a
        /// captive portal answering in the provider's place, say): the mail is
        /// not known to be accepted.
        public static let invalidResponse = Code(.invalidResponse)
        /// The response body was larger than the configured cap.
        public static let responseTooLarge = Code(.responseTooLarge)
        /// The call did not complete before its deadline.
        public static let deadlineExceeded = Code(.deadlineExceeded)
        /// The TLS handshake failed (e.g. the certificate is not trusted).
        public static let tlsFailure = Code(.tlsFailure)
        /// Connecting, writing or reading failed.
        public static let connectionFailed = Code(.connectionFailed)
        /// The sending task was cancelled.
        public static let cancelled = Code(.cancelled)
        /// The sender is misconfigured (bad base URL, unreadable CA file).
        public static let invalidConfiguration = Code(.invalidConfiguration)

        public var description: String { self.base.rawValue }
    }

    private struct Backing: Sendable {
        var code: Code
        var disposition: Disposition
        var httpStatus: Int?
        var providerErrorName: String?
        var providerMessage: String?
        var underlying: String?
    }

    private var backing: Backing

    /// What happened.
    public var code: Code { self.backing.code }
    /// What to do about it.
    public var disposition: Disposition { self.backing.disposition }
    /// The HTTP status, when the provider answered.
    public var httpStatus: Int? { self.backing.httpStatus }
    /// The provider's machine-readable error name (Resend: `name`, e.g.
    /// `validation_error`).
    public var providerErrorName: String? { self.backing.providerErrorName }
    /// The provider's human-readable message (Resend: `message`).
    public var providerMessage: String? { self.backing.providerMessage }
    /// A short description of the lower-level error, when there was one.
    public var underlyingDescription: String? { self.backing.underlying }

    init(
        code: Code,
        disposition: Disposition,
        httpStatus: Int? = nil,
        providerErrorName: String? = nil,
        providerMessage: String? = nil,
        underlying: String? = nil
    ) {
        self.backing = Backing(
            code: code,
            disposition: disposition,
            httpStatus: httpStatus,
            providerErrorName: providerErrorName.map { Self.clip($0, 100) },
            providerMessage: providerMessage.map { Self.clip($0, 500) },
            underlying: underlying.map { Self.clip($0, 300) }
        )
    }

    /// The disposition of any error a ``MailSender`` threw: a ``MailError``'s
    /// own, and retry for anything else (an unknown failure must not lose mail;
    /// the ``RetryPolicy`` limits still bound it).
    public static func disposition(of error: any Error) -> Disposition {
        (error as? MailError)?.disposition ?? .retry(after: nil)
    }

    public var description: String {
        var parts = ["code: \(self.code)"]
        if let status = self.httpStatus { parts.append("status: \(status)") }
        if let name = self.providerErrorName { parts.append("provider error: \(name)") }
        if let message = self.providerMessage { parts.append("message: \(Self.quoted(message))") }
        if let underlying = self.underlyingDescription { parts.append("underlying: \(underlying)") }
        switch self.disposition {
        case .permanent: parts.append("permanent")
        case .retry(after: nil): parts.append("retryable")
        case .retry(after: let delay?): parts.append("retryable after \(delay)")
        }
        return "MailError(\(parts.joined(separator: ", ")))"
    }

    private static func clip(_ string: String, _ limit: Int) -> String {
        string.count <= limit ? string : String(string.prefix(limit)) + "…"
    }

    private static func quoted(_ string: String) -> String {
        let flat = string.map { $0.isNewline ? " " : String($0) }.joined()
        return "\"\(flat)\""
    }
}
