/// The error the domain (Accounts, Chat) throws: a catalogued ``ErrorCode``, a message for
/// humans, per-field problems, and how long to wait before a retry can succeed. It knows
/// nothing of HTTP or sockets: the HTTP edge answers it with the code's
/// ``ErrorCode/httpStatus`` and the body `{"error":{code,message,fields?}}` (plus
/// `Retry-After: retryAfter`); the realtime gateway acks it as
/// `{ok:false,error:{code,message,fields?}}`.
public struct ServiceError: Error, Sendable, Equatable {
    public let code: ErrorCode
    /// For humans; may change. Never carries user input.
    public let message: String
    /// Field name → one message (`validation_failed`, and the conflicts that name a field).
    public let fields: [String: String]?
    /// Seconds until a retry can succeed (at least 1), for `too_many_attempts`,
    /// `too_many_requests` and `server_busy`; nil for the others.
    public let retryAfter: Int?

    public init(_ code: ErrorCode, message: String, fields: [String: String]? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.fields = fields
        self.retryAfter = retryAfter.map { max(1, $0) }
    }

    /// The wire `error` object, `{code, message, fields?, retryAfter?}`.
    public var body: ErrorBody { ErrorBody(code, message: message, fields: fields, retryAfter: retryAfter) }
}

extension ServiceError {
    /// 422 `validation_failed`, one message per field.
    public static func validation(_ fields: [String: String]) -> ServiceError {
        ServiceError(.validationFailed, message: "Some fields are invalid.", fields: fields)
    }
    /// 401 `unauthorized`.
    public static let unauthorized = ServiceError(.unauthorized, message: "Authentication required.")
    /// 404 `not_found`.
    public static let notFound = ServiceError(.notFound, message: "No such resource.")
    /// 500 `internal_error`.
    public static let internalError = ServiceError(.internalError, message: "Something went wrong on our side.")
    /// 503 `server_busy`, retry after 1 s: a bounded resource (hashing gate, database) is full.
    public static let serverBusy = ServiceError(.serverBusy, message: "The server is busy; try again shortly.", retryAfter: 1)
    /// 429 `code` (``ErrorCode/tooManyAttempts`` or ``ErrorCode/tooManyRequests``), retry after
    /// `seconds` (at least 1).
    public static func tooManyRequests(_ code: ErrorCode = .tooManyAttempts, retryAfter seconds: Int) -> ServiceError {
        ServiceError(code, message: "Too many attempts. Try again in \(max(1, seconds)) seconds.", retryAfter: seconds)
    }
}
