import Crypto
import Foundation
import JWTKit

/// Who a valid access token speaks for.
public struct AccessIdentity: Sendable, Equatable {
    public let userID: Int64
    public let sessionID: String
    public let expiresAt: Date

    public init(userID: Int64, sessionID: String, expiresAt: Date) {
        self.userID = userID
        self.sessionID = sessionID
        self.expiresAt = expiresAt
    }
}

/// The claims of our access tokens.
struct AccessClaims: JWTPayload {
    var sub: SubjectClaim
    var sid: String
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var iss: IssuerClaim
    var aud: AudienceClaim
    var typ: String

    static let issuer = "switchboard"
    static let audience = "switchboard-api"
    static let type = "access"

    /// Checks everything but time, which ``AccessTokenService`` checks against its injected clock.
    func verify(using algorithm: some JWTAlgorithm) async throws {
        guard iss.value == Self.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "wrong issuer") }
        try aud.verifyIntendedAudience(includes: Self.audience)
        guard typ == Self.type else { throw JWTError.claimVerificationFailure(failedClaim: nil, reason: "wrong token type") }
    }
}

/// Issues and verifies short-lived HS256 access tokens.
///
/// The current secret signs; previous secrets still verify during a rotation.
/// Each key's `kid` is derived from its secret (a hash prefix, never the secret),
/// so a token names the key that signed it across rotations. Only HS256 signers are registered, so `alg: none`
/// or an RS/ES token can never verify.
public struct AccessTokenService: Sendable {
    public enum TokenError: Error, Equatable {
        case expired
        case invalid
    }

    private let keys: JWTKeyCollection
    private let currentKID: JWKIdentifier
    public let ttl: Duration
    private let clock: AccountsClock
    /// Checked by ``BearerAuthenticator`` after the token itself: a token of a revoked
    /// session fails at once. `nil` only where no database exists (token unit tests).
    public let sessionLiveness: SessionLiveness?

    public init(
        secret: String, previousSecrets: [String] = [], ttl: Duration = .seconds(900), clock: AccountsClock = .system,
        sessionLiveness: SessionLiveness? = nil
    ) async {
        let keys = JWTKeyCollection()
        self.currentKID = Self.keyID(for: secret)
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: currentKID)
        for previous in previousSecrets {
            await keys.add(hmac: HMACKey(from: previous), digestAlgorithm: .sha256, kid: Self.keyID(for: previous))
        }
        self.keys = keys
        self.ttl = ttl
        self.clock = clock
        self.sessionLiveness = sessionLiveness
    }

    /// - Parameter notAfter: the session's absolute expiry: the token's `exp` is the earlier of
    ///   now + TTL and this (whole seconds, rounded down), so a token never outlives its session
    ///   (a guest's session ends after hours, sooner than a token issued near its end would).
    public func issue(userID: Int64, sessionID: String, notAfter: Date? = nil) async throws -> (token: String, expiresAt: Date) {
        let now = clock.now()
        var seconds = now.timeIntervalSince1970 + ttl.seconds
        if let notAfter { seconds = min(seconds, notAfter.timeIntervalSince1970) }
        let expiresAt = Date(timeIntervalSince1970: seconds.rounded(.down))
        let claims = AccessClaims(
            sub: .init(value: String(userID)), sid: sessionID, iat: .init(value: now), exp: .init(value: expiresAt),
            iss: .init(value: AccessClaims.issuer), aud: .init(value: [AccessClaims.audience]), typ: AccessClaims.type
        )
        let token = try await keys.sign(claims, kid: currentKID)
        return (token, expiresAt)
    }

    static func keyID(for secret: String) -> JWKIdentifier {
        let digest = SHA256.hash(data: Data(secret.utf8))
        return JWKIdentifier(string: "hs-" + digest.prefix(6).map { String(format: "%02x", $0) }.joined())
    }

    func signForTesting(_ claims: AccessClaims) async throws -> String {
        try await keys.sign(claims, kid: currentKID)
    }

    public func verify(_ token: String) async throws(TokenError) -> AccessIdentity {
        let claims: AccessClaims
        do {
            claims = try await keys.verify(token, as: AccessClaims.self)
        } catch {
            throw .invalid
        }
        guard let userID = Int64(claims.sub.value) else { throw .invalid }
        guard claims.exp.value > clock.now() else { throw .expired }
        return AccessIdentity(userID: userID, sessionID: claims.sid, expiresAt: claims.exp.value)
    }
}
