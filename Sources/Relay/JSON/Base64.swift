import Foundation

/// Base64 helpers for Engine.IO polling binary packets (`b<base64>`).
enum Base64 {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        guard let data = Data(base64Encoded: String(text)) else { return nil }
        return [UInt8](data)
    }
}
