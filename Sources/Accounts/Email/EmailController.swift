import Foundation
import Hummingbird

/// `/api/auth/verify-email`, `/api/auth/resend-verification`, `/api/auth/forgot-password`,
/// `/api/auth/reset-password`, `/api/auth/reset-password/check`.
public struct EmailController<Context: IdentityRequestContext>: Sendable {
    let flows: EmailFlows

    public init(flows: EmailFlows) {
        self.flows = flows
    }

    public func addRoutes(to group: RouterGroup<Context>) {
        group.post("auth/verify-email", use: verifyEmail)
        group.post("auth/forgot-password", use: forgotPassword)
        group.post("auth/reset-password", use: resetPassword)
        group.post("auth/reset-password/check", use: checkResetToken)
        let authed = group.group().add(middleware: BearerAuthenticator<Context>(tokens: flows.auth.tokens))
        authed.post("auth/resend-verification", use: resendVerification)
    }

    // MARK: Wire types

    struct TokenRequest: Decodable {
        let token: String
    }

    struct ForgotPasswordRequest: Decodable {
        let email: String
    }

    struct ResetPasswordRequest: Decodable {
        let token: String
        let password: String
    }

    struct StatusResponse: ResponseEncodable {
        let status: String
        let message: String
    }

    // MARK: Handlers

    /// 200 `{"status":"verified"}`; 400 `email_token_*`.
    @Sendable func verifyEmail(_ request: Request, context: Context) async throws -> StatusResponse {
        var request = request
        let body = try await request.decodeJSON(TokenRequest.self, context: context)
        try await flows.verifyEmail(token: body.token)
        return StatusResponse(status: "verified", message: "Your email address is verified.")
    }

    /// The one answer of forgot-password, byte for byte, whether or not the address has an account.
    static var forgotPasswordAccepted: Response {
        let body = #"{"status":"accepted","message":"If an account uses that address, a link to reset its password is on its way."}"#
        return Response(
            status: .accepted, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    /// 202 whenever the request is well formed, whether or not the address has an account.
    @Sendable func forgotPassword(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await request.decodeJSON(ForgotPasswordRequest.self, context: context)
        try await flows.forgotPassword(email: body.email, client: request.clientInfo(context: context))
        return Self.forgotPasswordAccepted
    }

    /// 200 `{"status":"password_reset"}`; 400 `email_token_*`; 422 `validation_failed`.
    @Sendable func resetPassword(_ request: Request, context: Context) async throws -> StatusResponse {
        var request = request
        let body = try await request.decodeJSON(ResetPasswordRequest.self, context: context)
        try await flows.resetPassword(token: body.token, password: body.password)
        return StatusResponse(status: "password_reset", message: "Your password was changed. Log in with the new one.")
    }

    /// 200 `{"status":"valid"}` while the reset link can be used (it is not used up);
    /// 400 `email_token_*`; 429 `too_many_requests`.
    @Sendable func checkResetToken(_ request: Request, context: Context) async throws -> StatusResponse {
        var request = request
        let body = try await request.decodeJSON(TokenRequest.self, context: context)
        try await flows.checkResetToken(token: body.token, client: request.clientInfo(context: context))
        return StatusResponse(status: "valid", message: "This link can be used.")
    }

    /// 202; 409 `email_already_verified`; 429 `too_many_requests`.
    @Sendable func resendVerification(_ request: Request, context: Context) async throws -> EditedResponse<StatusResponse> {
        let identity = try context.requireIdentity()
        try await flows.resendVerification(userID: identity.userID)
        return EditedResponse(
            status: .accepted, response: StatusResponse(status: "accepted", message: "A new verification link is on its way.")
        )
    }
}
