import Models

/// The errors of the one-time email links (all 400). Distinct from the access token's
/// 401 `invalid_token` / `token_expired`, so a client that refreshes its access token on
/// those codes never mistakes a dead link for an expired session.
extension ServiceError {
    /// Unknown, malformed, for another purpose, or for an address the account no longer has.
    public static let emailTokenInvalid = ServiceError(.emailTokenInvalid, message: "This link is not valid.")
    /// Past its lifetime (24 h for verification, 1 h for reset).
    public static let emailTokenExpired = ServiceError(.emailTokenExpired, message: "This link has expired; ask for a new one.")
    /// Already used once.
    public static let emailTokenUsed = ServiceError(.emailTokenUsed, message: "This link was already used.")
    /// A newer link of the same kind was sent, which replaced this one.
    public static let emailTokenSuperseded = ServiceError(
        .emailTokenSuperseded, message: "A newer link was sent; use the most recent email."
    )
    /// 403: the action needs a verified email address.
    public static let emailUnverified = ServiceError(.emailUnverified, message: "Verify your email address first.")
    /// 409: resend-verification for an address that is already verified.
    public static let emailAlreadyVerified = ServiceError(.emailAlreadyVerified, message: "Your email address is already verified.")
}

extension EmailTokenRecord {
    /// Why this token cannot be used for `purpose` at `now`, or nil when it can.
    func problem(for purpose: EmailTokenPurpose, now: Int64) -> ServiceError? {
        guard self.purpose == purpose.rawValue else { return .emailTokenInvalid }
        if consumedAt != nil { return .emailTokenUsed }
        if supersededAt != nil { return .emailTokenSuperseded }
        if expiresAt <= now { return .emailTokenExpired }
        return nil
    }
}
