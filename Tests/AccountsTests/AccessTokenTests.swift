@testable import Accounts
import Foundation
import Testing

@Suite("Access tokens")
struct AccessTokenTests {
    let secret = String(repeating: "x", count: 40)

    func b64url(_ s: String) -> String {
        Data(s.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test("issue and verify round trip with claims")
    func roundTrip() async throws {
        let service = await AccessTokenService(secret: secret, ttl: .seconds(900))
        let (token, expiresAt) = try await service.issue(userID: 42, sessionID: "sess")
        let identity = try await service.verify(token)
        #expect(identity == AccessIdentity(userID: 42, sessionID: "sess", expiresAt: expiresAt))
        let header = String(token.split(separator: ".")[0])
        let padded = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + String(repeating: "=", count: (4 - header.count % 4) % 4)
        let json = String(data: Data(base64Encoded: padded)!, encoding: .utf8)!
        #expect(json.contains("\"kid\":\"hs-") && json.contains("\"alg\":\"HS256\""))
        #expect(!json.contains(secret))
    }

    @Test("tampered payload is rejected")
    func tampered() async throws {
        let service = await AccessTokenService(secret: secret)
        let (token, _) = try await service.issue(userID: 42, sessionID: "s")
        var parts = token.split(separator: ".").map(String.init)
        let now = Int(Date().timeIntervalSince1970)
        parts[1] = b64url(#"{"sub":"1","sid":"s","iat":\#(now),"exp":\#(now + 900),"iss":"switchboard","aud":["switchboard-api"],"typ":"access"}"#)
        await #expect(throws: AccessTokenService.TokenError.invalid) { try await service.verify(parts.joined(separator: ".")) }
    }

    @Test("alg none is rejected")
    func algNone() async throws {
        let service = await AccessTokenService(secret: secret)
        let now = Int(Date().timeIntervalSince1970)
        let token = b64url(#"{"alg":"none","typ":"JWT"}"#) + "." + b64url(#"{"sub":"1","sid":"s","iat":\#(now),"exp":\#(now + 900),"iss":"switchboard","aud":["switchboard-api"],"typ":"access"}"#) + "."
        await #expect(throws: AccessTokenService.TokenError.invalid) { try await service.verify(token) }
    }

    @Test("a token signed with another secret, or a previous one after rotation")
    func rotation() async throws {
        let old = await AccessTokenService(secret: secret)
        let (token, _) = try await old.issue(userID: 7, sessionID: "s")
        let other = await AccessTokenService(secret: String(repeating: "y", count: 40))
        await #expect(throws: AccessTokenService.TokenError.invalid) { try await other.verify(token) }
        let rotated = await AccessTokenService(secret: String(repeating: "y", count: 40), previousSecrets: [secret])
        // The old token's kid names the old secret, which is now a previous key.
        #expect(try await rotated.verify(token).userID == 7)
    }

    @Test("expired and wrong-audience tokens are rejected")
    func expiredAndAudience() async throws {
        let base = Date()
        let clock = AccountsClock { base }
        let service = await AccessTokenService(secret: secret, ttl: .seconds(60), clock: clock)
        let (token, _) = try await service.issue(userID: 1, sessionID: "s")
        let later = await AccessTokenService(secret: secret, ttl: .seconds(60), clock: AccountsClock { base.addingTimeInterval(61) })
        await #expect(throws: AccessTokenService.TokenError.expired) { try await later.verify(token) }

        let claims = AccessClaims(sub: .init(value: "1"), sid: "s", iat: .init(value: base), exp: .init(value: base.addingTimeInterval(60)),
                                  iss: .init(value: "switchboard"), aud: .init(value: ["someone-else"]), typ: "access")
        let wrongAudience = try await service.signForTesting(claims)
        await #expect(throws: AccessTokenService.TokenError.invalid) { try await service.verify(wrongAudience) }
        var refreshTyped = claims
        refreshTyped.aud = .init(value: ["switchboard-api"])
        refreshTyped.typ = "refresh"
        await #expect(throws: AccessTokenService.TokenError.invalid) { try await service.verify(try await service.signForTesting(refreshTyped)) }
    }
}

@Suite("Password hashing")
struct PasswordHasherTests {
    @Test("PHC string round trip, wrong password fails")
    func roundTrip() async throws {
        let hasher = PasswordHasher(parameters: .testing)
        let phc = try await hasher.hash("correct horse")
        #expect(phc.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(try await hasher.verify("correct horse", against: phc).matches)
        #expect(try await hasher.verify("correct horsf", against: phc).matches == false)
        #expect(try await hasher.hash("correct horse") != phc)
    }

    @Test("parameter change is flagged for rehash")
    func needsRehash() async throws {
        let old = try await PasswordHasher(parameters: .init(cost: 1 << 9, blockSize: 8, parallelism: 1)).hash("pw123456")
        let verification = try await PasswordHasher(parameters: .testing).verify("pw123456", against: old)
        #expect(verification.matches && verification.needsRehash)
    }

    @Test("malformed hashes are an error, not a crash")
    func malformed() async throws {
        let hasher = PasswordHasher(parameters: .testing)
        for bad in ["", "$scrypt$", "$scrypt$ln=99,r=8,p=1$AAAA$AAAA", "$argon2id$v=19$m=1,t=1,p=1$AA$AA", "$scrypt$ln=10,r=8$AAAA$AAAA"] {
            await #expect(throws: PasswordHasher.PasswordHasherError.self) { try await hasher.verify("x", against: bad) }
        }
    }

    @Test("OWASP parameters are the default")
    func defaults() {
        #expect(PasswordHasher(parameters: .owasp).parameters == ScryptParameters(cost: 32768, blockSize: 8, parallelism: 3))
    }
}
