import Accounts
import Chat
import Foundation
import Logging
import Models
import Relay
import Synchronization

/// The identity a socket acts as. The token can be replaced during the connection
/// (`auth:refresh`, or a pushed `auth:token`), so it sits behind a lock.
final class SocketAuth: Sendable {
    private let state: Mutex<AccessIdentity>
    init(_ identity: AccessIdentity) { state = Mutex(identity) }
    var identity: AccessIdentity { state.withLock { $0 } }
    func replace(_ identity: AccessIdentity) { state.withLock { $0 = identity } }
}

/// Wires the default namespace to the chat: authenticates the handshake, joins the
/// user's rooms, serves `message:send`, `room:read`, `typing`, `auth:refresh` (and the message
/// changes of MessageChangeEvents.swift: edit, delete, reactions), refreshes
/// tokens on traffic, and announces presence.
struct ChatGateway: Sendable {
    let namespace: Namespace
    let auth: AuthService
    let rooms: RoomService
    let messages: MessageService
    let readCursors: ReadCursorService
    let edits: MessageEditService
    let reactions: ReactionService
    let presence: PresenceTracker
    let refreshWindow: Duration
    /// The clock the access tokens are issued and verified against (`AccountsClock.system`
    /// in production; tests move it by hand), so "expired" and "near expiry" agree with
    /// ``AccessTokenService``.
    let clock: AccountsClock
    let logger: Logger
    /// Access tokens verified before (shared with the revocation observer, which drops a
    /// revoked session's entries): a reconnect with the same token skips the JWT check.
    var verifiedTokens = VerifiedTokenCache()

    func install() {
        namespace.use { handshake in try await authenticate(handshake) }
        namespace.onConnection { socket in await connected(socket) }
    }

    // MARK: Handshake

    func authenticate(_ handshake: Handshake) async throws -> SocketAuth {
        guard let token = handshake.auth?["token"]?.stringValue, !token.isEmpty, token.utf8.count < 4096 else {
            throw Self.refusal(.invalidToken, "An access token is required: connect with auth {token}.")
        }
        let identity: AccessIdentity
        do {
            identity = try await verify(token)
        } catch .expired {
            throw Self.refusal(.tokenExpired, "The access token has expired; refresh it and reconnect.")
        } catch {
            throw Self.refusal(.invalidToken, "The access token is not valid.")
        }
        guard try await isLive(identity.sessionID) else {
            throw Self.refusal(.sessionRevoked, "This session has ended; log in again.")
        }
        return SocketAuth(identity)
    }

    /// The identity of a valid access token: from ``verifiedTokens`` when this token was
    /// verified before and has not expired, else checked by ``AccessTokenService`` (signature,
    /// claims, expiry) and remembered. The session's liveness is the caller's next check.
    func verify(_ token: String) async throws(AccessTokenService.TokenError) -> AccessIdentity {
        let now = clock.now()
        if let identity = verifiedTokens.identity(for: token, now: now) { return identity }
        let identity = try await auth.tokens.verify(token)
        verifiedTokens.remember(token, identity, now: now)
        return identity
    }

    /// Whether the session is live, from the per-node ``SessionLiveness`` cache when the app has
    /// one (no database read in the common case; a revocation on this node is seen at once),
    /// else from the database.
    func isLive(_ sessionID: String) async throws -> Bool {
        if let liveness = auth.tokens.sessionLiveness { return try await liveness.isLive(sessionID) }
        return try await auth.isSessionActive(sessionID)
    }

    /// A `CONNECT_ERROR` refusal: `message` is the code, `data` the ``ErrorBody`` `{code, message}`.
    static func refusal(_ code: ErrorCode, _ message: String) -> ConnectError {
        ConnectError(message: code.rawValue, data: Self.json(ErrorBody(code, message: message)))
    }

    // MARK: Connection

    func connected(_ socket: Socket) async {
        guard let socketAuth = socket.data(as: SocketAuth.self) else {
            socket.disconnect()
            return
        }
        let identity = socketAuth.identity
        let roomIDs: [Int64]
        do {
            roomIDs = try await rooms.roomIDs(userID: identity.userID)
        } catch {
            logger.error("could not load rooms for socket", metadata: ["user.id": "\(identity.userID)"])
            socket.disconnect()
            return
        }
        await socket.join([ChatRooms.user(identity.userID), ChatRooms.session(identity.sessionID)] + roomIDs.map(ChatRooms.room))
        if socket.recovered {
            // Restored with the rooms it had when it dropped: leave the ones lost since (the
            // removal event reaches it through user:<id>), so its replay, filtered by its rooms
            // now, carries nothing of a room it is no longer in.
            let current = Set(roomIDs.map(ChatRooms.room))
            for room in socket.rooms where room.hasPrefix("room:") && !current.contains(room) {
                await socket.leave(room)
            }
        }
        // A logout between the handshake's check and this join closed the session room without
        // this socket in it; revocation marks the session ended before it closes the room, so
        // checking again now catches it.
        guard (try? await isLive(identity.sessionID)) == true else {
            socket.disconnect()
            return
        }
        let typingLimiter = TypingLimiter()

        socket.on(ChatEventName.messageSend) { args, ack in
            await handle(socket, socketAuth, args, ack) { (request: SendRequest, identity) in
                let outcome = try await messages.send(
                    userID: identity.userID, roomID: request.roomId, body: request.body,
                    clientMsgID: request.clientMsgId, replyTo: request.replyTo
                )
                return .object(["ok": true, "message": outcome.message.jsonValue, "duplicate": .bool(outcome.duplicate)])
            }
        }
        socket.on(ChatEventName.roomRead) { args, ack in
            await handle(socket, socketAuth, args, ack) { (request: ReadRequest, identity) in
                let event = try await readCursors.markRead(userID: identity.userID, roomID: request.roomId, messageID: request.messageId)
                return .object(["ok": true, "read": try JSONValue(encoding: event)])
            }
        }
        socket.on(ChatEventName.typing) { args, ack in
            await handle(socket, socketAuth, args, ack) { (request: TypingRequest, identity) in
                guard socket.rooms.contains(ChatRooms.room(request.roomId)) else { throw ServiceError.notAMember }
                // A muted member's `typing: true` is refused as its send would be (stops pass).
                if request.typing { try await messages.requireNotMuted(userID: identity.userID, roomID: request.roomId) }
                if typingLimiter.allow(roomID: request.roomId, typing: request.typing) {
                    try await namespace.to(ChatRooms.room(request.roomId)).except(ChatRooms.user(identity.userID)).volatile
                        .emit(ChatEventName.typing, TypingEvent(roomId: request.roomId, userId: identity.userID, typing: request.typing))
                }
                return .object(["ok": true])
            }
        }
        installMessageChanges(socket, socketAuth)
        socket.on(ChatEventName.authRefresh) { args, ack in
            await refreshToken(socket, socketAuth, args, ack)
        }
        socket.onDisconnect { _ in
            await disconnected(identity.userID)
        }

        if presence.connected(identity.userID) {
            await presence.claimOnline(identity.userID) { await announce(userID: identity.userID, online: true) }
        }
    }

    func disconnected(_ userID: Int64) async {
        guard let generation = presence.disconnected(userID) else { return }
        try? await Task.sleep(for: presence.gracePeriod)
        guard presence.settleOffline(userID, generation: generation) else { return }
        // With several nodes: only when no other node holds the user either.
        await presence.releaseOffline(userID) { await announceOffline(userID) }
    }

    /// Records `last_seen_at` and announces the user offline in their rooms (after their last
    /// grace period here, or on the node that found the user's node dead).
    func announceOffline(_ userID: Int64) async {
        await announce(userID: userID, online: false)
    }

    /// `presence` in the user's rooms, through the event log (offline: with `last_seen_at`
    /// stored in the same transaction).
    func announce(userID: Int64, online: Bool) async {
        do {
            try await rooms.presenceChanged(userID: userID, online: online)
        } catch {
            logger.warning("could not announce presence", metadata: ["user.id": "\(userID)", "online": "\(online)"])
        }
    }

    // MARK: Events

    struct SendRequest: Decodable { let roomId: Int64; let body: String; let clientMsgId: String?; let replyTo: Int64? }
    struct ReadRequest: Decodable { let roomId: Int64; let messageId: Int64 }
    struct TypingRequest: Decodable { let roomId: Int64; let typing: Bool }
    struct RefreshRequest: Decodable { let token: String }

    /// Runs one client event: checks the socket's token (refusing expired ones,
    /// pushing a fresh one when expiry is near), decodes the payload, and acks
    /// `{ok:true,…}` or `{ok:false,error:{code,message,fields?}}` (``ackError(for:)``).
    func handle<Request: JSONPayload>(
        _ socket: Socket, _ socketAuth: SocketAuth, _ args: [JSONValue], _ ack: Acknowledge?,
        _ body: (Request, AccessIdentity) async throws -> JSONValue
    ) async {
        let identity = socketAuth.identity
        let now = clock.now()
        guard identity.expiresAt > now else {
            await ack?([Self.failure(.tokenExpired, "The access token has expired; send auth:refresh with a new one.")])
            return
        }
        if identity.expiresAt.timeIntervalSince(now) < refreshWindow.seconds {
            await pushFreshToken(socket, socketAuth, identity)
        }
        guard let first = args.first, let request = Request(json: first) else {
            await ack?([Self.failure(.invalidPayload, "The event payload is missing or malformed.")])
            return
        }
        do {
            await ack?([try await body(request, identity)])
        } catch {
            await ack?([Self.failure(ackError(for: error))])
        }
    }

    /// The one mapping of an error thrown by an event's handler to its failed ack's `error`,
    /// as ``APIErrorMiddleware`` maps it for REST: a ``ServiceError`` (or ``APIError``) keeps its
    /// code, message and fields; the overload of a bounded resource (hashing gate, database) is `server_busy`;
    /// anything else is logged (type only) and is `internal_error`.
    func ackError(for error: any Error) -> ErrorBody {
        if let error = error as? ServiceError { return error.body }
        if let error = error as? APIError { return error.body }
        if let busy = APIError.overload(from: error) { return ErrorBody(busy.errorCode, message: busy.message) }
        logger.error("realtime event failed", metadata: ["error.type": "\(String(reflecting: type(of: error)))"])
        return APIError.internalError.body
    }

    func pushFreshToken(_ socket: Socket, _ socketAuth: SocketAuth, _ identity: AccessIdentity) async {
        do {
            guard let fresh = try await auth.reissueAccessToken(for: identity) else {
                socket.disconnect()
                return
            }
            socketAuth.replace(AccessIdentity(userID: identity.userID, sessionID: identity.sessionID, expiresAt: fresh.expiresAt))
            try socket.emit(ChatEventName.authToken, AuthTokenEvent(accessToken: fresh.token, expiresAt: WireTime.string(fresh.expiresAt)))
        } catch {
            logger.warning("could not refresh a socket's token", metadata: ["user.id": "\(identity.userID)"])
        }
    }

    func refreshToken(_ socket: Socket, _ socketAuth: SocketAuth, _ args: [JSONValue], _ ack: Acknowledge?) async {
        guard let request = try? args.first?.decode(as: RefreshRequest.self) else {
            await ack?([Self.failure(.invalidPayload, "Send {token}.")])
            return
        }
        let identity: AccessIdentity
        do {
            identity = try await verify(request.token)
        } catch .expired {
            await ack?([Self.failure(.tokenExpired, "That token has expired too.")])
            return
        } catch {
            await ack?([Self.failure(.invalidToken, "The access token is not valid.")])
            return
        }
        let current = socketAuth.identity
        guard identity.userID == current.userID else {
            await ack?([Self.failure(.invalidToken, "The token belongs to another user.")])
            return
        }
        guard (try? await isLive(identity.sessionID)) == true else {
            await ack?([Self.failure(.sessionRevoked, "This session has ended; log in again.")])
            socket.disconnect()
            return
        }
        if identity.sessionID != current.sessionID {
            await socket.leave(ChatRooms.session(current.sessionID))
            await socket.join(ChatRooms.session(identity.sessionID))
        }
        socketAuth.replace(identity)
        await ack?([.object(["ok": true, "expiresAt": .string(WireTime.string(identity.expiresAt))])])
    }

    /// A failed ack, `{ok:false, error:{code, message}}`.
    static func failure(_ code: ErrorCode, _ message: String) -> JSONValue {
        failure(ErrorBody(code, message: message))
    }

    /// A failed ack, `{ok:false, error:{code, message, fields?}}`: the one place the ack shape
    /// of an error is built.
    static func failure(_ error: ErrorBody) -> JSONValue {
        .object(["ok": false, "error": json(error)])
    }

    /// `{code, message, fields?, retryAfter?}` as a JSON object (`fields`, `retryAfter` only when present).
    static func json(_ error: ErrorBody) -> JSONValue {
        var object: [String: JSONValue] = ["code": .string(error.code.rawValue), "message": .string(error.message)]
        if let fields = error.fields { object["fields"] = .object(fields.mapValues { .string($0) }) }
        if let retryAfter = error.retryAfter { object["retryAfter"] = .number(Double(retryAfter)) }
        return .object(object)
    }
}

/// Lets `typing: true` through at most every 2 s per room (stops always pass).
final class TypingLimiter: Sendable {
    private let last = Mutex<[Int64: ContinuousClock.Instant]>([:])

    func allow(roomID: Int64, typing: Bool) -> Bool {
        let now = ContinuousClock.now
        return last.withLock { last in
            guard typing else { last[roomID] = nil; return true }
            if let previous = last[roomID], now - previous < .seconds(2) { return false }
            last[roomID] = now
            return true
        }
    }
}
