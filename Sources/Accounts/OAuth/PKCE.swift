import Crypto
import Foundation

/// Proof Key for Code Exchange (RFC 7636), `S256` only (§4.2; `plain` is never offered).
public enum PKCE {
    /// A new `code_verifier`: 256 random bits as base64url without padding, 43 characters of
    /// the unreserved set (RFC 7636 §4.1 asks for 43-128 characters and at least 256 bits
    /// of entropy).
    public static func makeVerifier() -> String { OpaqueToken.generate(bits: 256) }

    /// `code_challenge` for `verifier`: `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
    public static func challenge(for verifier: String) -> String {
        Data(SHA256.hash(data: Data(verifier.utf8))).base64URLEncoded()
    }

    /// The method sent as `code_challenge_method`.
    public static let method = "S256"
}
