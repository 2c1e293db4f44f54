@testable import Accounts
import Foundation
import AsyncHTTPClient
import JWTKit
import Logging
import Testing

@Suite("Sign-in with a provider: the pure parts")
struct OAuthTests {
    // MARK: PKCE

    @Test("S256 challenge of RFC 7636 Appendix B's verifier")
    func pkceVector() {
        #expect(PKCE.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        #expect(PKCE.method == "S256")
    }

    @Test("verifiers are 43 unreserved characters and never repeat")
    func pkceVerifier() {
        let verifiers = (0..<50).map { _ in PKCE.makeVerifier() }
        #expect(Set(verifiers).count == 50)
        for verifier in verifiers {
            #expect(verifier.count == 43)
            #expect(verifier.unicodeScalars.allSatisfy { CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~").contains($0) })
        }
    }

    @Test("state and browser-binding values: only well-formed cookies are reused")
    func bindingShape() {
        #expect(OAuthService.isWellFormedToken(OpaqueToken.generate()))
        #expect(!OAuthService.isWellFormedToken("short"))
        #expect(!OAuthService.isWellFormedToken(String(repeating: "a", count: 20) + ";x"))
        #expect(!OAuthService.isWellFormedToken(String(repeating: "a", count: 200)))
    }

    // MARK: ID token claims

    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func claims(
        iss: String = "https://idp.example", aud: [String] = ["client"], exp: TimeInterval = 300, iat: TimeInterval = 0,
        nonce: String? = "n-1", azp: String? = nil
    ) -> IDTokenClaims {
        IDTokenClaims(
            iss: iss, sub: "subject-1", aud: aud, exp: now.addingTimeInterval(exp), iat: now.addingTimeInterval(iat), nonce: nonce, azp: azp,
            email: "a@example.com", emailVerified: true
        )
    }

    func check(_ claims: IDTokenClaims) -> OAuthFailure? {
        do {
            try IDTokenValidation.check(claims, issuer: "https://idp.example", clientID: "client", nonce: "n-1", now: now, skew: .seconds(60))
            return nil
        } catch {
            return error
        }
    }

    @Test("a token for this client, issuer and nonce passes")
    func validClaims() {
        #expect(check(claims()) == nil)
        #expect(check(claims(aud: ["client", "other"], azp: "client")) == nil)
        #expect(check(claims(exp: -30)) == nil, "within the 60 s clock skew")
    }

    @Test("wrong iss, aud, azp, expired, future iat, wrong or missing nonce are refused")
    func invalidClaims() {
        #expect(check(claims(iss: "https://evil.example")) == .invalidIDToken)
        #expect(check(claims(iss: "https://idp.example/")) == .invalidIDToken, "issuer compared exactly")
        #expect(check(claims(aud: ["other"])) == .invalidIDToken)
        #expect(check(claims(aud: ["client", "other"])) == .invalidIDToken, "several audiences need azp")
        #expect(check(claims(azp: "other")) == .invalidIDToken)
        #expect(check(claims(exp: -61)) == .invalidIDToken)
        #expect(check(claims(iat: 3600)) == .invalidIDToken)
        #expect(check(claims(nonce: "n-2")) == .invalidIDToken)
        #expect(check(claims(nonce: nil)) == .invalidIDToken)
    }

    // MARK: ID token signatures, with keys made here

    func jwks(_ keys: [(ES256PrivateKey, String)]) throws -> Data {
        let entries = keys.map { key, kid in
            ["kty": "EC", "crv": "P-256", "x": key.parameters!.x, "y": key.parameters!.y, "kid": kid, "alg": "ES256", "use": "sig"]
        }
        return try JSONSerialization.data(withJSONObject: ["keys": entries])
    }

    func sign(_ claims: IDTokenClaims, with key: ES256PrivateKey, kid: String) async throws -> String {
        let collection = JWTKeyCollection()
        await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        return try await collection.sign(claims, kid: JWKIdentifier(string: kid))
    }

    @Test("a token signed by a key of the set verifies and decodes")
    func signatureVerifies() async throws {
        let key = ES256PrivateKey(), other = ES256PrivateKey()
        let set = try jwks([(other, "old"), (key, "k1")])
        let token = try await sign(claims(), with: key, kid: "k1")
        let decoded = try await IDTokenValidation.verifySignature(token, jwksJSON: set)
        #expect(decoded.sub == "subject-1" && decoded.nonce == "n-1" && decoded.emailVerified == true)
    }

    @Test("a token signed by a key outside the set, or tampered with, is refused")
    func badSignature() async throws {
        let key = ES256PrivateKey(), stranger = ES256PrivateKey()
        let set = try jwks([(key, "k1")])
        let forged = try await sign(claims(), with: stranger, kid: "k1")
        await #expect(throws: OAuthFailure.invalidIDToken) { try await IDTokenValidation.verifySignature(forged, jwksJSON: set) }
        let good = try await sign(claims(), with: key, kid: "k1")
        var parts = good.split(separator: ".").map(String.init)
        parts[1] = Data(#"{"iss":"https://idp.example","sub":"admin","aud":"client","exp":1900000000,"nonce":"n-1"}"#.utf8).base64URLEncoded()
        await #expect(throws: OAuthFailure.invalidIDToken) { try await IDTokenValidation.verifySignature(parts.joined(separator: "."), jwksJSON: set) }
    }

    @Test("alg none and HMAC tokens never verify, even against a set with an oct key")
    func noneAndHMAC() async throws {
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URLEncoded()
        let payload = Data(#"{"iss":"https://idp.example","sub":"x","aud":"client","exp":1900000000,"nonce":"n-1"}"#.utf8).base64URLEncoded()
        let key = ES256PrivateKey()
        let set = try jwks([(key, "k1")])
        await #expect(throws: OAuthFailure.invalidIDToken) { try await IDTokenValidation.verifySignature("\(header).\(payload).", jwksJSON: set) }
        let secret = "a shared secret that everyone can read from the JWKS"
        let octSet = try JSONSerialization.data(withJSONObject: ["keys": [["kty": "oct", "k": Data(secret.utf8).base64URLEncoded(), "kid": "h", "alg": "HS256"]]])
        let hmac = JWTKeyCollection()
        await hmac.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: "h")
        let token = try await hmac.sign(claims(), kid: "h")
        await #expect(throws: OAuthFailure.invalidIDToken) { try await IDTokenValidation.verifySignature(token, jwksJSON: octSet) }
    }

    @Test("email_verified as the string \"true\" counts; absent is unverified")
    func emailVerifiedString() throws {
        let json = #"{"iss":"i","sub":"s","aud":"c","exp":1900000000,"email":"a@b.c","email_verified":"true"}"#
        #expect(try JSONDecoder().decode(IDTokenClaims.self, from: Data(json.utf8)).emailVerified == true)
        let bare = #"{"iss":"i","sub":"s","aud":["c"],"exp":1900000000}"#
        #expect(try JSONDecoder().decode(IDTokenClaims.self, from: Data(bare.utf8)).emailVerified == nil)
    }

    // MARK: Usernames

    @Test("usernames derived from the provider's, else the address, valid and 3-32 characters")
    func usernames() {
        #expect(OAuthService.usernameBase(preferred: "Octo-Cat", email: "x@example.com") == "octo-cat")
        #expect(OAuthService.usernameBase(preferred: "Jöhn Doe!!", email: "x@example.com") == "j_hn_doe")
        #expect(OAuthService.usernameBase(preferred: nil, email: "ada.lovelace@example.com") == "ada.lovelace")
        #expect(OAuthService.usernameBase(preferred: "ab", email: "z@example.com") == "ab_user")
        #expect(OAuthService.usernameBase(preferred: "!!!", email: "@example.com") == "user")
        #expect(OAuthService.usernameBase(preferred: String(repeating: "a", count: 40), email: "x@y.z").count == 32)
        for name in ["Octo-Cat", "Jöhn Doe!!", "ab", "!!!", String(repeating: "é", count: 50)] {
            let base = OAuthService.usernameBase(preferred: name, email: "q@example.com")
            if case .failure(let problem) = AccountValidation.username(base) { Issue.record("\(base): \(problem.message)") }
        }
    }

    @Test("the authorization URL carries PKCE, state, nonce and the redirect URI")
    func authorizationURL() async throws {
        let provider = OAuthProvider(
            name: "github", displayName: "GitHub", clientID: "cid", clientSecret: "sec",
            kind: .github(GitHubEndpoints(authorizeURL: "https://gh.example/login/oauth/authorize"))
        )
        let client = ProviderClient(
            settings: OAuthSettings(providers: [provider], publicURL: "https://chat.example"), httpClient: .shared, clock: .system,
            logger: .init(label: "test")
        )
        let url = try await client.authorizationURL(provider, state: "st ate", codeVerifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", nonce: "n")
        let components = URLComponents(string: url)!
        let query = Dictionary(uniqueKeysWithValues: components.queryItems!.map { ($0.name, $0.value ?? "") })
        #expect(url.hasPrefix("https://gh.example/login/oauth/authorize?"))
        #expect(query["redirect_uri"] == "https://chat.example/api/auth/oauth/github/callback")
        #expect(query["code_challenge"] == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" && query["code_challenge_method"] == "S256")
        #expect(query["state"] == "st ate" && query["client_id"] == "cid" && query["response_type"] == "code")
        #expect(query["scope"] == "read:user user:email")
        #expect(!url.contains("sec"))
    }
}
