import Accounts
import Foundation

/// The field rules of rooms: names, topics and join codes.
enum RoomRules {
    /// Join codes: 8 characters from an alphabet without the look-alikes 0/O, 1/I/L.
    static let joinCodeAlphabet = Array("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    static let joinCodeLength = 8
    /// Wrong join codes or room passwords per user: a burst of 10, then one per 30 s.
    static let joinCodeRule = ThrottleRule(limit: 10, ratePerSecond: 1.0 / 30)

    /// A room name: trimmed, 1 to 64 Unicode scalars, no Cc or Cf characters.
    static func name(_ raw: String) -> Result<String, FieldProblem> {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...64).contains(AccountValidation.length(value)) else { return .failure("must be 1 to 64 characters") }
        guard !value.unicodeScalars.contains(where: AccountValidation.isControlOrFormat) else {
            return .failure("must not contain control characters")
        }
        return .success(value)
    }

    /// A topic: trimmed, at most 256 Unicode scalars, single-line free text (``AccountValidation/freeText(_:multiline:)``).
    static func topic(_ raw: String) -> Result<String, FieldProblem> {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard AccountValidation.length(value) <= 256 else { return .failure("must be at most 256 characters") }
        return AccountValidation.freeText(value)
    }

    /// A fresh random join code (system CSPRNG).
    static func makeJoinCode() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<joinCodeLength).map { _ in joinCodeAlphabet.randomElement(using: &generator)! })
    }

    /// A typed code as stored: upper case, without spaces and dashes.
    static func normalizedJoinCode(_ raw: String) -> String {
        raw.uppercased().filter { !$0.isWhitespace && $0 != "-" }
    }
}
