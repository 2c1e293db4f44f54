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
        case oauthCodeInvalid = "oauth_code_invalid"
        case lastSignInMethod = "last_sign_in_method"
        case providerUnavailable = "provider_unavailable"

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

        case searchQueryTooLong = "search_query_too_long"

        case notRoomModerator = "not_room_moderator"
        case cannotActOnPeer = "cannot_act_on_peer"
        case memberNotFound = "member_not_found"
        case muted
        case bannedFromRoom = "banned_from_room"
        case lastOwner = "last_owner"

        case messageNotFound = "message_not_found"
        case messageDeleted = "message_deleted"
        case notMessageAuthor = "not_message_author"
        case editWindowPassed = "edit_window_passed"

        case guestNotAllowed = "guest_not_allowed"
        case adminRequired = "admin_required"
        case accountDisabled = "account_disabled"
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
    /// 400: the one-time code of a sign-in with a provider is unknown, used, expired, or
    /// presented without the cookie of the browser that signed in.
    public static let oauthCodeInvalid = ErrorCode(.oauthCodeInvalid)
    /// 409: unlinking the account's only way to sign in (no password, no other identity).
    public static let lastSignInMethod = ErrorCode(.lastSignInMethod)
    /// 502: a sign-in provider could not be reached or answered wrongly (its discovery
    /// document, within the request deadline).
    public static let providerUnavailable = ErrorCode(.providerUnavailable)

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
    /// 403: invite to, rename or re-topic a direct conversation; (and the ack of `message:send`)
    /// send to a direct conversation the other person left (their account was deleted).
    public static let directRoom = ErrorCode(.directRoom)
    /// 403: only the room's owner and admins may do this.
    public static let notRoomAdmin = ErrorCode(.notRoomAdmin)
    /// 403: only the room's owner may do this.
    public static let notRoomOwner = ErrorCode(.notRoomOwner)
    /// 404: no such user (or a disabled one) to invite or message.
    public static let userNotFound = ErrorCode(.userNotFound)

    // MARK: Moderation

    /// 403: only the room's owner, admins and moderators may do this (kick, mute, ban, their
    /// lists, the audit log).
    public static let notRoomModerator = ErrorCode(.notRoomModerator)
    /// 403: the target's room role is equal to or above the caller's: nobody acts on a peer
    /// or a superior.
    public static let cannotActOnPeer = ErrorCode(.cannotActOnPeer)
    /// 404: the user named as the target is not a member of the room.
    public static let memberNotFound = ErrorCode(.memberNotFound)
    /// 403 (and the ack of `message:send`): the caller is muted in this room; `retryAfter` is
    /// the seconds left (rounded up), also sent as `Retry-After` over REST.
    public static let muted = ErrorCode(.muted)
    /// 403: the user is banned from the room (joining by id, code or password, or being invited).
    public static let bannedFromRoom = ErrorCode(.bannedFromRoom)
    /// 409: the room's last owner cannot leave, or step down, while other members remain; make
    /// another member owner first (as Discord and Slack require).
    public static let lastOwner = ErrorCode(.lastOwner)

    // MARK: Guests and administration

    /// 403: a guest tried what only accounts may do (create a room, message someone directly,
    /// invite, join by code or a room that does not allow guests, change a password), or an
    /// account tried to message or invite a guest.
    public static let guestNotAllowed = ErrorCode(.guestNotAllowed)
    /// 403: `/api/admin/...` for a caller whose server role is not `admin`.
    public static let adminRequired = ErrorCode(.adminRequired)
    /// 403: refresh of a session whose account a server admin disabled.
    public static let accountDisabled = ErrorCode(.accountDisabled)

    // MARK: Messages

    /// 404 (and acks): no such message, or one in a room the caller is not a member of (the
    /// same answer, so a message's existence does not leak).
    public static let messageNotFound = ErrorCode(.messageNotFound)
    /// 409 (and acks): the message was deleted; it can no longer be edited or reacted to.
    public static let messageDeleted = ErrorCode(.messageDeleted)
    /// 403 (and acks): only the message's author may edit it; deleting it also allows the
    /// room's owners, admins and moderators (`MessageRules.mayDelete`).
    public static let notMessageAuthor = ErrorCode(.notMessageAuthor)
    /// 403 (and acks): the message is older than the edit window (`MESSAGE_EDIT_WINDOW`).
    public static let editWindowPassed = ErrorCode(.editWindowPassed)

    // MARK: Search

    /// 400: a message search query (`q`) longer than 256 characters (Unicode scalars) or of more
    /// than 16 words (`GET /api/search/messages`).
    public static let searchQueryTooLong = ErrorCode(.searchQueryTooLong)

    // MARK: Mapping

    /// The HTTP status this code is answered with: the one place that decides it.
    public var httpStatus: Int {
        switch base {
        case .badRequest, .invalidJSON, .invalidPayload: 400
        case .oauthCodeInvalid: 400
        case .searchQueryTooLong: 400
        case .emailTokenInvalid, .emailTokenExpired, .emailTokenUsed, .emailTokenSuperseded: 400
        case .unauthorized, .invalidToken, .tokenExpired, .sessionRevoked, .sessionExpired, .invalidRefreshToken,
             .refreshTokenReused, .invalidCredentials: 401
        case .invalidCurrentPassword, .emailUnverified, .notAMember, .inviteOnly, .invalidJoinCode, .directRoom,
             .notRoomAdmin, .notRoomOwner, .guestNotAllowed, .adminRequired, .accountDisabled: 403
        case .notMessageAuthor, .editWindowPassed: 403
        case .notFound, .roomNotFound, .userNotFound, .messageNotFound: 404
        case .notRoomModerator, .cannotActOnPeer, .muted, .bannedFromRoom: 403
        case .memberNotFound: 404
        case .lastOwner: 409
        case .methodNotAllowed: 405
        case .usernameTaken, .emailAlreadyVerified, .roomNameTaken: 409
        case .lastSignInMethod: 409
        case .messageDeleted: 409
        case .payloadTooLarge: 413
        case .validationFailed: 422
        case .tooManyAttempts, .tooManyRequests: 429
        case .internalError: 500
        case .providerUnavailable: 502
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
    /// of `message:send`, `room:read`, `typing`, `auth:refresh`, `message:edit`, `message:delete`,
    /// `reaction:add` and `reaction:remove`; the handshake refusals.
    public var surfaces: Surfaces {
        switch base {
        case .invalidPayload: [.ack]
        case .muted, .directRoom: [.rest, .ack]
        case .invalidToken, .tokenExpired, .sessionRevoked: [.rest, .ack, .connect]
        case .validationFailed, .internalError, .serverBusy, .emailUnverified, .roomNotFound, .notAMember: [.rest, .ack]
        case .messageNotFound, .messageDeleted, .notMessageAuthor, .editWindowPassed: [.rest, .ack]
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
    /// Seconds until a retry can succeed (at least 1), when the code has such a wait
    /// (`muted`, `too_many_attempts`, `too_many_requests`, `server_busy`); absent otherwise.
    public var retryAfter: Int?

    public init(_ code: ErrorCode, message: String, fields: [String: String]? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.fields = fields
        self.retryAfter = retryAfter
    }
}
