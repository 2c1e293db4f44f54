import Foundation
import HTTPTypes
import Hummingbird
import Models

/// `/api/auth/*`, `/api/me`, `/api/sessions`.
public struct AuthController<Context: IdentityRequestContext>: Sendable {
    let auth: AuthService
    /// Whether cookies get the `Secure` attribute (PUBLIC_URL is https).
    let secureCookies: Bool

    public static var refreshCookieName: String { "sb_refresh" }

    public init(auth: AuthService, secureCookies: Bool) {
        self.auth = auth
        self.secureCookies = secureCookies
    }

    public func addRoutes(to group: RouterGroup<Context>) {
        group.post("auth/register", use: register)
        group.post("auth/login", use: login)
        group.post("auth/refresh", use: refresh)
        group.post("auth/guest", use: guest)
        let authed = group.group().add(middleware: BearerAuthenticator<Context>(tokens: auth.tokens))
        authed.post("auth/logout", use: logout)
        authed.post("auth/logout-all", use: logoutAll)
        authed.get("sessions", use: listSessions)
        authed.delete("sessions/{id}", use: deleteSession)
        authed.get("me", use: me)
        authed.patch("me", use: updateMe)
        authed.post("me/password", use: changePassword)
    }

    // MARK: Wire types

    struct RegisterRequest: Decodable {
        let email: String
        let username: String
        let password: String
        let displayName: String?
    }

    struct AcceptedResponse: ResponseEncodable {
        let status: String
        let message: String
    }

    struct LoginRequest: Decodable {
        let login: String
        let password: String
        /// Non-browser clients set this to receive the refresh token in the body instead of a cookie.
        let refreshTokenInBody: Bool?
    }

    struct GuestRequest: Decodable {
        let displayName: String
        let refreshTokenInBody: Bool?
    }

    struct RefreshRequest: Decodable {
        let refreshToken: String?
        let refreshTokenInBody: Bool?
    }

    struct TokenResponse: ResponseEncodable {
        let accessToken: String
        let accessTokenExpiresAt: String
        let refreshToken: String?
        let refreshTokenExpiresAt: String?
        let user: MeResponse
    }

    struct SessionResponse: ResponseEncodable {
        let id: String
        let current: Bool
        let createdAt: String
        let lastUsedAt: String
        let expiresAt: String
        let userAgent: String?
        let ip: String?
    }

    struct SessionsResponse: ResponseEncodable {
        let sessions: [SessionResponse]
    }

    struct UpdateMeRequest: Decodable {
        let displayName: String?
    }

    struct ChangePasswordRequest: Decodable {
        let currentPassword: String
        let newPassword: String
    }

    // MARK: Handlers

    @Sendable func register(_ request: Request, context: Context) async throws -> EditedResponse<AcceptedResponse> {
        var request = request
        let body = try await request.decodeJSON(RegisterRequest.self, context: context)
        try await auth.register(
            .init(email: body.email, username: body.username, password: body.password, displayName: body.displayName),
            client: request.clientInfo(context: context)
        )
        return EditedResponse(
            status: .accepted,
            response: AcceptedResponse(status: "accepted", message: "Check your inbox for a link to verify your email address.")
        )
    }

    @Sendable func login(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await request.decodeJSON(LoginRequest.self, context: context)
        let issued = try await auth.login(login: body.login, password: body.password, client: request.clientInfo(context: context))
        return try tokenResponse(issued, inBody: body.refreshTokenInBody == true, request: request, context: context)
    }

    /// `POST /api/auth/guest {displayName}`: a guest session (``AuthService/startGuest(displayName:client:)``).
    @Sendable func guest(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await request.decodeJSON(GuestRequest.self, context: context)
        let issued = try await auth.startGuest(displayName: body.displayName, client: request.clientInfo(context: context))
        return try tokenResponse(issued, inBody: body.refreshTokenInBody == true, request: request, context: context)
    }

    @Sendable func refresh(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let body: RefreshRequest = request.headers[.contentType]?.contains("json") == true
            ? try await request.decodeJSON(RefreshRequest.self, context: context)
            : RefreshRequest(refreshToken: nil, refreshTokenInBody: nil)
        let fromBody = body.refreshToken
        guard let token = fromBody ?? cookie(Self.refreshCookieName, in: request) else {
            throw APIError(.invalidRefreshToken, message: "No refresh token was presented.")
        }
        do {
            let issued = try await auth.refresh(token: token, client: request.clientInfo(context: context))
            return try tokenResponse(issued, inBody: fromBody != nil || body.refreshTokenInBody == true, request: request, context: context)
        } catch let error as ServiceError where fromBody == nil {
            // A dead cookie is cleared so the browser stops presenting it.
            throw APIError(error).adding(headers: [.setCookie: clearedCookie()])
        } catch let error as APIError where fromBody == nil {
            throw error.adding(headers: [.setCookie: clearedCookie()])
        }
    }

    @Sendable func logout(_ request: Request, context: Context) async throws -> Response {
        try await auth.logout(try context.requireIdentity())
        return Response(status: .noContent, headers: [.setCookie: clearedCookie()])
    }

    @Sendable func logoutAll(_ request: Request, context: Context) async throws -> Response {
        try await auth.logoutAll(try context.requireIdentity())
        return Response(status: .noContent, headers: [.setCookie: clearedCookie()])
    }

    @Sendable func listSessions(_ request: Request, context: Context) async throws -> SessionsResponse {
        let identity = try context.requireIdentity()
        let sessions = try await auth.activeSessions(userID: identity.userID)
        return SessionsResponse(sessions: sessions.map {
            SessionResponse(
                id: $0.id, current: $0.id == identity.sessionID, createdAt: WireTime.string(millis: $0.createdAt),
                lastUsedAt: WireTime.string(millis: $0.lastUsedAt), expiresAt: WireTime.string(millis: $0.expiresAt),
                userAgent: $0.userAgent, ip: $0.ip
            )
        })
    }

    @Sendable func deleteSession(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("id")
        guard try await auth.revoke(userID: identity.userID, sessionID: id, reason: "deleted") else { throw APIError.notFound }
        return Response(status: .noContent)
    }

    @Sendable func me(_ request: Request, context: Context) async throws -> MeResponse {
        let identity = try context.requireIdentity()
        guard let user = try await auth.user(id: identity.userID) else { throw APIError.unauthorized }
        return MeResponse(user)
    }

    @Sendable func updateMe(_ request: Request, context: Context) async throws -> MeResponse {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(UpdateMeRequest.self, context: context)
        guard let displayName = body.displayName else { throw APIError.validation(["displayName": "is required"]) }
        return MeResponse(try await auth.updateDisplayName(userID: identity.userID, displayName: displayName))
    }

    @Sendable func changePassword(_ request: Request, context: Context) async throws -> Response {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.decodeJSON(ChangePasswordRequest.self, context: context)
        try await auth.changePassword(identity, current: body.currentPassword, new: body.newPassword)
        return Response(status: .noContent)
    }

    // MARK: Cookies

    func tokenResponse(_ issued: IssuedTokens, inBody: Bool, request: Request, context: Context) throws -> Response {
        let payload = TokenResponse(
            accessToken: issued.accessToken, accessTokenExpiresAt: WireTime.string(issued.accessTokenExpiresAt),
            refreshToken: inBody ? issued.refreshToken : nil,
            refreshTokenExpiresAt: inBody ? WireTime.string(issued.refreshTokenExpiresAt) : nil,
            user: MeResponse(issued.user)
        )
        var response = try payload.response(from: request, context: context)
        response.headers[.cacheControl] = "no-store"
        if !inBody {
            let maxAge = max(0, Int(issued.refreshTokenExpiresAt.timeIntervalSinceNow))
            response.headers.append(HTTPField(name: .setCookie, value: cookieValue(issued.refreshToken, maxAge: maxAge)))
        }
        return response
    }

    func cookieValue(_ token: String, maxAge: Int) -> String {
        "\(Self.refreshCookieName)=\(token); Path=/api/auth; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secureCookies ? "; Secure" : "")
    }

    func clearedCookie() -> String { cookieValue("", maxAge: 0) }

    func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let kv = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == name, !kv[1].isEmpty { return String(kv[1]) }
            }
        }
        return nil
    }
}
