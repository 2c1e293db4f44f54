import Crypto
import Foundation

/// The development JWT secret: generated once, kept in DATA_DIR with mode 0600, reused.
enum SecretFile {
    static func loadOrCreate(in dataDirectory: String, name: String = "jwt-secret") throws -> String {
        let path = (dataDirectory as NSString).appendingPathComponent(name)
        if let data = FileManager.default.contents(atPath: path),
           let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
           text.utf8.count >= 32 {
            return text
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
        let created = FileManager.default.createFile(
            atPath: path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600]
        )
        guard created else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        return secret
    }
}
