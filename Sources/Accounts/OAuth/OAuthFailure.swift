/// Why a sign-in with a provider did not finish. The callback answers with a redirect to
/// the web app carrying ``code`` (`/#/oauth-error/<code>`), never with a JSON error: the
/// browser is on a navigation, not an API call. docs/openapi.yaml lists the codes under
/// the callback operation.
///
/// A struct over a private enum (as `MailError` is), so cases can be added without
/// breaking a caller's `switch`.
public struct OAuthFailure: Error, Sendable, Equatable, CustomStringConvertible {
    enum Reason: String, Sendable {
        case accessDenied = "access_denied"
        case invalidState = "invalid_state"
        case providerError = "provider_error"
        case invalidIDToken = "invalid_id_token"
        case emailInUse = "email_in_use"
        case identityInUse = "identity_in_use"
        case emailMissing = "email_missing"
        case providerEmailUnverified = "provider_email_unverified"
        case accountDisabled = "account_disabled"
    }

    let reason: Reason
    /// For logs only (never shown to the user, never a token).
    public let detail: String

    init(_ reason: Reason, _ detail: String = "") {
        self.reason = reason
        self.detail = detail
    }

    /// The stable code the web app shows a message for.
    public var code: String { reason.rawValue }
    public var description: String { detail.isEmpty ? code : "\(code): \(detail)" }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.reason == rhs.reason }

    /// The person declined at the provider (`error=access_denied`, RFC 6749 §4.1.2.1).
    public static let accessDenied = OAuthFailure(.accessDenied)
    /// No `state`, an unknown, expired or used one, or one started in another browser
    /// (RFC 6749 §10.12; RFC 9700 §4.7).
    public static let invalidState = OAuthFailure(.invalidState)
    /// The provider answered with an error, an unexpected status or body, or not within the
    /// deadline; also a refused authorization code (replayed, expired, PKCE mismatch).
    public static let providerError = OAuthFailure(.providerError)
    /// The ID token's signature, `iss`, `aud`, `azp`, `exp` or `nonce` is wrong
    /// (OpenID Connect Core 1.0 §3.1.3.7).
    public static let invalidIDToken = OAuthFailure(.invalidIDToken)
    /// The provider's address belongs to an account this identity is not linked to. It is
    /// never linked silently: the owner logs in and links from settings.
    public static let emailInUse = OAuthFailure(.emailInUse)
    /// Linking: the identity is already linked to another account.
    public static let identityInUse = OAuthFailure(.identityInUse)
    /// A first sign-in without an address the account could be created with.
    public static let emailMissing = OAuthFailure(.emailMissing)
    /// A first sign-in whose provider did not verify the address (`email_verified` false or
    /// absent; GitHub's primary address unverified): no account is created, as an unverified
    /// address would let anyone pre-hijack the address owner's future account.
    public static let providerEmailUnverified = OAuthFailure(.providerEmailUnverified)
    /// The linked account is disabled.
    public static let accountDisabled = OAuthFailure(.accountDisabled)

    static func provider(_ detail: String) -> OAuthFailure { OAuthFailure(.providerError, detail) }
    static func idToken(_ detail: String) -> OAuthFailure { OAuthFailure(.invalidIDToken, detail) }
    static func state(_ detail: String) -> OAuthFailure { OAuthFailure(.invalidState, detail) }
}
