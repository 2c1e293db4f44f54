import Foundation
import JWTKit

/// The claims of an OpenID Connect ID token that sign-in reads (OpenID Connect Core 1.0
/// §2 and §5.1). Decoded only after the signature verified.
public struct IDTokenClaims: JWTPayload, Equatable {
    public var iss: String
    public var sub: String
    public var aud: AudienceClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim?
    public var nonce: String?
    public var azp: String?
    public var email: String?
    /// `email_verified`; a few providers send it as the string "true".
    public var emailVerified: Bool?
    public var preferredUsername: String?
    public var name: String?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nonce, azp, email, name
        case emailVerified = "email_verified"
        case preferredUsername = "preferred_username"
    }

    public init(
        iss: String, sub: String, aud: [String], exp: Date, iat: Date? = nil, nonce: String?, azp: String? = nil,
        email: String? = nil, emailVerified: Bool? = nil, preferredUsername: String? = nil, name: String? = nil
    ) {
        self.iss = iss
        self.sub = sub
        self.aud = AudienceClaim(value: aud)
        self.exp = ExpirationClaim(value: exp)
        self.iat = iat.map { IssuedAtClaim(value: $0) }
        self.nonce = nonce
        self.azp = azp
        self.email = email
        self.emailVerified = emailVerified
        self.preferredUsername = preferredUsername
        self.name = name
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        iss = try c.decode(String.self, forKey: .iss)
        sub = try c.decode(String.self, forKey: .sub)
        aud = try c.decode(AudienceClaim.self, forKey: .aud)
        exp = try c.decode(ExpirationClaim.self, forKey: .exp)
        iat = try c.decodeIfPresent(IssuedAtClaim.self, forKey: .iat)
        nonce = try c.decodeIfPresent(String.self, forKey: .nonce)
        azp = try c.decodeIfPresent(String.self, forKey: .azp)
        email = try c.decodeIfPresent(String.self, forKey: .email)
        if let flag = try? c.decodeIfPresent(Bool.self, forKey: .emailVerified) {
            emailVerified = flag
        } else {
            emailVerified = (try? c.decodeIfPresent(String.self, forKey: .emailVerified)).flatMap { $0.map { $0.lowercased() == "true" } }
        }
        preferredUsername = try c.decodeIfPresent(String.self, forKey: .preferredUsername)
        name = try c.decodeIfPresent(String.self, forKey: .name)
    }

    /// The claims are checked by ``IDTokenValidation`` against the flow, not here.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The ID token checks of OpenID Connect Core 1.0 §3.1.3.7 that follow the signature:
/// pure, so they are tested without a provider.
public enum IDTokenValidation {
    /// Throws ``OAuthFailure/invalidIDToken`` unless:
    /// - `iss` equals `issuer` exactly (step 2);
    /// - `aud` contains `clientID` (step 3), and with several audiences `azp` is `clientID`
    ///   (steps 4-5); an `azp` present is `clientID` in any case;
    /// - `exp` is after `now` less `skew` (step 9); an `iat` is not after `now` plus `skew`;
    /// - `nonce` equals the one this flow sent (step 11).
    public static func check(_ claims: IDTokenClaims, issuer: String, clientID: String, nonce: String, now: Date, skew: Duration) throws(OAuthFailure) {
        guard claims.iss == issuer else { throw .idToken("iss is not the configured issuer") }
        guard claims.aud.value.contains(clientID) else { throw .idToken("aud does not name this client") }
        if claims.aud.value.count > 1 || claims.azp != nil {
            guard claims.azp == clientID else { throw .idToken("azp is not this client") }
        }
        let skewSeconds = Double(skew.components.seconds)
        guard claims.exp.value.timeIntervalSince1970 > now.timeIntervalSince1970 - skewSeconds else { throw .idToken("expired") }
        if let iat = claims.iat, iat.value.timeIntervalSince1970 > now.timeIntervalSince1970 + skewSeconds {
            throw .idToken("issued in the future")
        }
        guard let sent = claims.nonce, sent == nonce else { throw .idToken("nonce does not match") }
        guard !claims.sub.isEmpty, claims.sub.utf8.count <= 255 else { throw .idToken("sub is empty or too long") }
    }

    /// Verifies `token`'s signature with the provider's JSON Web Key Set and decodes its
    /// claims. Only the set's RSA and EC keys are used (an `oct` key in a published set
    /// would be a shared secret anyone could read), so `alg: none` and HMAC tokens never
    /// verify. Throws ``OAuthFailure/invalidIDToken``.
    public static func verifySignature(_ token: String, jwksJSON: Data) async throws(OAuthFailure) -> IDTokenClaims {
        let keys = JWTKeyCollection()
        do {
            guard let object = try JSONSerialization.jsonObject(with: jwksJSON) as? [String: Any],
                  let all = object["keys"] as? [[String: Any]] else { throw OAuthFailure.idToken("JWKS has no keys") }
            let usable = all.filter { ["RSA", "EC"].contains($0["kty"] as? String ?? "") && ($0["use"] as? String ?? "sig") == "sig" }
            for var key in usable {
                // A set of one key may omit `kid`; jwt-kit files keys by kid.
                if key["kid"] == nil { key["kid"] = "default" }
                let data = try JSONSerialization.data(withJSONObject: key)
                let jwk = try JSONDecoder().decode(JWK.self, from: data)
                try await keys.add(jwk: jwk)
            }
            guard !usable.isEmpty else { throw OAuthFailure.idToken("JWKS has no RSA or EC signing key") }
        } catch let failure as OAuthFailure {
            throw failure
        } catch {
            throw .idToken("JWKS unreadable")
        }
        do {
            return try await keys.verify(token, as: IDTokenClaims.self)
        } catch {
            throw .idToken("signature did not verify")
        }
    }
}
