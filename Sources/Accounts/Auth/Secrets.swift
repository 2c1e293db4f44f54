import Crypto
import Foundation

/// Random one-time tokens (refresh, verification, reset) and their stored form.
public enum OpaqueToken {
    /// `bits` of randomness from the system CSPRNG, base64url without padding.
    public static func generate(bits: Int = 256) -> String {
        let key = SymmetricKey(size: SymmetricKeySize(bitCount: bits))
        return key.withUnsafeBytes { Data($0) }.base64URLEncoded()
    }

    /// The only form a token is stored in: SHA-256, hex.
    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

extension Data {
    func base64URLEncoded() -> String {
        base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
