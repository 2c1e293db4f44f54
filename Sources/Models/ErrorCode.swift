/// The one catalogue of Switchboard's stable error codes: the `code` of a REST error body
/// (`{"error":{"code","message","fields"?}}`), of a failed Socket.IO ack
/// (`{ok:false,error:{code,message,fields?}}`) and of a `CONNECT_ERROR` refusal
/// (`message` = the code, `data = {code,message}`).
///
/// A struct with static members over a private enumeration, in the way PostgresNIO's
/// `PSQLError.Code` is: callers name codes (`.notAMember`), never spell them, so a code
/// cannot be mistyped, and new codes can be added without breaking a caller's `switch`.
/// For each code this file decides, in one place, its HTTP status (``httpStatus``) and
/// where it can be returned (``surfaces``); `docs/openapi.yaml` and `docs/PROTOCOL.md`
/// list the same codes, which `ErrorCatalogueDocsTests` checks.
///
/// `code` is the contract; messages are for humans and may change.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    enum Base: String, CaseIterable, Sendable {
        case badRequest = "bad_request"
        case invalidJSON = "invalid_json"
        case invalidPayload = "invalid_payload"
        case validationFailed = "validation_failed"
        case payloadTooLarge = "payload_too_large"
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case internalError = "internal_error"
        case serverBusy = "server_busy"
        case tooManyAttempts = "too_many_attempts"
        case tooManyRequests = "too_many_requests"

        case unauthorized
        case invalidToken = "invalid_token"
        case tokenExpired = "token_expired"
        case sessionRevoked = "session_revoked"
        case sessionExpired = "session_expired"
        case invalidRefreshToken = "invalid_refresh_token"
        case refreshTokenReused = "refresh_token_reused"
        case invalidCredentials = "invalid_credentials"
        case invalidCurrentPassword = "invalid_current_password"
        case usernameTaken = "username_taken"

        case emailUnverified = "email_unverified"
        case emailAlreadyVerified = "email_already_verified"
        case emailTokenInvalid = "email_token_invalid"
        case emailTokenExpired = "email_token_expired"
        case emailTokenUsed = "email_token_used"
        case emailTokenSuperseded = "email_token_superseded"

        case roomNotFound = "room_not_found"
        case notAMember = "not_a_member"
        case roomNameTaken = "room_name_taken"
        case inviteOnly = "invite_only"
        case invalidJoinCode = "invalid_join_code"
        case directRoom = "direct_room"
        case notRoomAdmin = "not_room_admin"
        case notRoomOwner = "not_room_owner"
        case userNotFound = "user_not_found"
    }

    let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// The code as it travels: stable `snake_case`.
    public var rawValue: String { base.rawValue }

    public var description: String { base.rawValue }

    /// The code spelled `rawValue`, or nil when the catalogue has no such code.
    public init?(rawValue: String) {
        guard let base = Base(rawValue: rawValue) else { return nil }
        self.init(base)
    }

    /// Every code, each once, in declaration order.
    public static let all: [ErrorCode] = Base.allCases.map(ErrorCode.init)

    // MARK: Requests

    /// 400: the request is malformed in a way the router or a path parameter detects
    /// (Hummingbird's own 400, e.g. a path id that is not an integer).
    public static let badRequest = ErrorCode(.badRequest)
    /// 400: the body is missing, is not JSON, or does not have the documented types (an
    /// integer outside int64 included).
    public static let invalidJSON = ErrorCode(.invalidJSON)
    /// Socket.IO acks only (the realtime twin of ``invalidJSON``; 400 if it ever reached
    /// HTTP): the event payload is missing or not the documented shape.
    public static let invalidPayload = ErrorCode(.invalidPayload)
    /// 422: a well-formed request whose values break a documented rule; `fields` names each
    /// field with one message.
    public static let validationFailed = ErrorCode(.validationFailed)
    /// 413: the body is past the server's body limit.
    public static let payloadTooLarge = ErrorCode(.payloadTooLarge)
    /// 404: no such resource, or a path under `/api/` that no route has.
    public static let notFound = ErrorCode(.notFound)
    /// 405: the path exists with other methods; `Allow` lists them (RFC 9110 §15.5.6).
    public static let methodNotAllowed = ErrorCode(.methodNotAllowed)
    /// 500: a server fault (logged by type only); retry later.
    public static let internalError = ErrorCode(.internalError)
    /// 503 with `Retry-After`: a bounded resource (password-hashing gate, database) is full
    /// (RFC 9110 §15.6.4). Acks carry it too.
    public static let serverBusy = ErrorCode(.serverBusy)
    /// 429 with `Retry-After`: too many failed logins for the account, or wrong join codes.
    public static let tooManyAttempts = ErrorCode(.tooManyAttempts)
    /// 429 with `Retry-After`: too many registrations from one address, or too many emails
    /// asked for (verification resend, password reset).
    public static let tooManyRequests = ErrorCode(.tooManyRequests)

    // MARK: Authentication and sessions

    /// 401: no bearer token on an authenticated operation (or its user no longer exists).
    public static let unauthorized = ErrorCode(.unauthorized)
    /// 401 (and on the socket, `CONNECT_ERROR` and acks): the access token is missing,
    /// malformed, badly signed, or belongs to another user.
    public static let invalidToken = ErrorCode(.invalidToken)
    /// 401 (and on the socket, `CONNECT_ERROR` and acks): the access token has expired;
    /// refresh it.
    public static let tokenExpired = ErrorCode(.tokenExpired)
    /// 401 (and on the socket, `CONNECT_ERROR` and acks): the token is valid but its session
    /// has ended (logout, deleted, password change or reset).
    public static let sessionRevoked = ErrorCode(.sessionRevoked)
    /// 401: refresh of a session that has ended or expired.
    public static let sessionExpired = ErrorCode(.sessionExpired)
    /// 401: no refresh token was presented, or it is not one the server issued.
    public static let invalidRefreshToken = ErrorCode(.invalidRefreshToken)
    /// 401: an already-rotated refresh token was presented again; the session is ended
    /// (refresh-token reuse detection).
    public static let refreshTokenReused = ErrorCode(.refreshTokenReused)
    /// 401: the login or password is wrong (the same answer for an unknown user).
    public static let invalidCredentials = ErrorCode(.invalidCredentials)
    /// 403: password change with a wrong current password; `fields.currentPassword`.
    public static let invalidCurrentPassword = ErrorCode(.invalidCurrentPassword)
    /// 409: registration with a username someone has; `fields.username`.
    public static let usernameTaken = ErrorCode(.usernameTaken)

    // MARK: Email

    /// 403 (and acks of `message:send`): the action needs a verified email address
    /// (`REQUIRE_VERIFIED_EMAIL`).
    public static let emailUnverified = ErrorCode(.emailUnverified)
    /// 409: resend-verification for an address that is already verified.
    public static let emailAlreadyVerified = ErrorCode(.emailAlreadyVerified)
    /// 400: an email link that is unknown, malformed, for another purpose, or for an address
    /// the account no longer has. (Distinct from the 401 token codes, so a client that
    /// refreshes on those never mistakes a dead link for an expired session.)
    public static let emailTokenInvalid = ErrorCode(.emailTokenInvalid)
    /// 400: an email link past its lifetime (24 h for verification, 1 h for reset).
    public static let emailTokenExpired = ErrorCode(.emailTokenExpired)
    /// 400: an email link already used once.
    public static let emailTokenUsed = ErrorCode(.emailTokenUsed)
    /// 400: a newer link of the same kind was sent, which replaced this one.
    public static let emailTokenSuperseded = ErrorCode(.emailTokenSuperseded)

    // MARK: Rooms

    /// 404 (and acks): no such room.
    public static let roomNotFound = ErrorCode(.roomNotFound)
    /// 403 (and acks): the room exists but the caller is not in it.
    public static let notAMember = ErrorCode(.notAMember)
    /// 409: a public room with that name exists (names compare case-insensitively);
    /// `fields.name`.
    public static let roomNameTaken = ErrorCode(.roomNameTaken)
    /// 403: joining a private room by id; it takes its code or an invite.
    public static let inviteOnly = ErrorCode(.inviteOnly)
    /// 403: the join code or the room password is wrong.
    public static let invalidJoinCode = ErrorCode(.invalidJoinCode)
    /// 403: invite to, rename or re-topic a direct conversation.
    public static let directRoom = ErrorCode(.directRoom)
    /// 403: only the room's owner and admins may do this.
    public static let notRoomAdmin = ErrorCode(.notRoomAdmin)
    /// 403: only the room's owner may do this.
    public static let notRoomOwner = ErrorCode(.notRoomOwner)
    /// 404: no such user (or a disabled one) to invite or message.
    public static let userNotFound = ErrorCode(.userNotFound)

    // MARK: Mapping

    /// The HTTP status this code is answered with: the one place that decides it.
    public var httpStatus: Int {
        switch base {
        case .badRequest, .invalidJSON, .invalidPayload: 400
        case .emailTokenInvalid, .emailTokenExpired, .emailTokenUsed, .emailTokenSuperseded: 400
        case .unauthorized, .invalidToken, .tokenExpired, .sessionRevoked, .sessionExpired, .invalidRefreshToken,
             .refreshTokenReused, .invalidCredentials: 401
        case .invalidCurrentPassword, .emailUnverified, .notAMember, .inviteOnly, .invalidJoinCode, .directRoom,
             .notRoomAdmin, .notRoomOwner: 403
        case .notFound, .roomNotFound, .userNotFound: 404
        case .methodNotAllowed: 405
        case .usernameTaken, .emailAlreadyVerified, .roomNameTaken: 409
        case .payloadTooLarge: 413
        case .validationFailed: 422
        case .tooManyAttempts, .tooManyRequests: 429
        case .internalError: 500
        case .serverBusy: 503
        }
    }

    /// Where a code can be returned.
    public struct Surfaces: OptionSet, Hashable, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// A REST error body (`docs/openapi.yaml`).
        public static let rest = Surfaces(rawValue: 1 << 0)
        /// A failed Socket.IO ack (`docs/PROTOCOL.md`, "Error codes of the acks").
        public static let ack = Surfaces(rawValue: 1 << 1)
        /// A Socket.IO `CONNECT_ERROR` refusal (`docs/PROTOCOL.md`, "Connecting").
        public static let connect = Surfaces(rawValue: 1 << 2)
    }

    /// Where this code can be returned: every REST code but ``invalidPayload``; the acks
    /// of `message:send`, `room:read`, `typing` and `auth:refresh`; the handshake refusals.
    public var surfaces: Surfaces {
        switch base {
        case .invalidPayload: [.ack]
        case .invalidToken, .tokenExpired, .sessionRevoked: [.rest, .ack, .connect]
        case .validationFailed, .internalError, .serverBusy, .emailUnverified, .roomNotFound, .notAMember: [.rest, .ack]
        default: [.rest]
        }
    }
}

extension ErrorCode: Codable {
    /// Decodes a catalogued code; any other string is a `DecodingError.dataCorrupted`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let code = ErrorCode(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown error code \(raw)")
        }
        self = code
    }

    /// Encodes as the bare string, ``rawValue``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// The `error` object of every error on the wire: a REST body wraps it as
/// `{"error": …}`, a failed ack as `{ok:false, error: …}`, and a `CONNECT_ERROR` carries it
/// as its `data` (without `fields`). `fields` maps a field name to one human message.
public struct ErrorBody: Codable, Sendable, Equatable {
    public var code: ErrorCode
    public var message: String
    public var fields: [String: String]?

    public init(_ code: ErrorCode, message: String, fields: [String: String]? = nil) {
        self.code = code
        self.message = message
        self.fields = fields
    }
}
