import Foundation
import Models

/// Input rules for account fields. Each returns the normalised value or a message.
///
/// Every length limit of the API counts Unicode scalars (code points) through ``length(_:)``.
public enum AccountValidation {
    /// Whether `scalar` is a control or format character (Unicode general category Cc or Cf):
    /// what names refuse, as docs/openapi.yaml states. Read from the scalar's own Unicode
    /// properties, not Foundation's `CharacterSet.controlCharacters`, which on Linux also holds
    /// thousands of unassigned code points of plane 14 (U+E0101 to U+EFF7F) that no spec names.
    public static func isControlOrFormat(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format: return true
        default: return false
        }
    }

    /// The length of a text field as every limit of the API counts it: Unicode scalars (code
    /// points). That is what JSON Schema's `maxLength` counts (docs/openapi.yaml) and what NIST
    /// SP 800-63B §5.1.1.2 asks of password lengths. Never grapheme clusters (`String.count`):
    /// one letter carrying 20,000 combining accents is one grapheme but 20,001 scalars.
    public static func length(_ value: some StringProtocol) -> Int { value.unicodeScalars.count }

    /// Trims, lowercases the domain; one `@`, a dotted domain, no spaces, ≤ 254 bytes.
    public static func email(_ raw: String) -> Result<String, FieldProblem> {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64, trimmed.utf8.count <= 254 else {
            return .failure("must be a valid email address")
        }
        let domain = parts[1].lowercased()
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 }),
              domain.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "." }),
              !parts[0].unicodeScalars.contains(where: { CharacterSet.whitespacesAndNewlines.contains($0) || isControlOrFormat($0) })
        else {
            return .failure("must be a valid email address")
        }
        return .success("\(parts[0])@\(domain)")
    }

    /// 3–32 of `[a-z0-9_.-]`, compared lowercased.
    public static func username(_ raw: String) -> Result<String, FieldProblem> {
        let value = raw.trimmingCharacters(in: .whitespaces).lowercased()
        guard (3...32).contains(length(value)) else { return .failure("must be 3 to 32 characters") }
        guard value.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0) }) else {
            return .failure("may contain only a-z, 0-9, '_', '.', '-'")
        }
        return .success(value)
    }

    /// 8–128 Unicode scalars, no composition rules (ASVS 5.0 §6.2; each code point counts as one
    /// character, NIST SP 800-63B §5.1.1.2).
    public static func password(_ raw: String) -> Result<String, FieldProblem> {
        guard length(raw) >= 8 else { return .failure("must be at least 8 characters") }
        guard length(raw) <= 128 else { return .failure("must be at most 128 characters") }
        return .success(raw)
    }

    /// 1–64 Unicode scalars after trimming, no control characters.
    public static func displayName(_ raw: String) -> Result<String, FieldProblem> {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...64).contains(length(value)) else { return .failure("must be 1 to 64 characters") }
        guard !value.unicodeScalars.contains(where: isControlOrFormat) else {
            return .failure("must not contain control characters")
        }
        return .success(value)
    }
}

public struct FieldProblem: Error, Sendable, ExpressibleByStringLiteral {
    public let message: String
    public init(stringLiteral value: String) { self.message = value }
}

/// Collects per-field problems and throws one `validation_failed` error with all of them.
public struct FieldValidator: Sendable {
    public private(set) var problems: [String: String] = [:]

    public init() {}

    /// Records `result`'s problem under `field`; returns the value when it is valid.
    @discardableResult
    public mutating func check<T>(_ field: String, _ result: Result<T, FieldProblem>) -> T? {
        switch result {
        case .success(let value): return value
        case .failure(let problem): problems[field] = problem.message; return nil
        }
    }

    /// Throws 422 `validation_failed` with every recorded problem in `fields`.
    public func throwIfInvalid() throws {
        if !problems.isEmpty { throw ServiceError.validation(problems) }
    }
}
