@testable import Accounts
import Foundation
import Models
import Testing

/// Every length limit counts Unicode scalars (what docs/openapi.yaml and PROTOCOL.md promise),
/// never grapheme clusters: a letter with thousands of combining accents is one grapheme.
@Suite("Text limits count Unicode scalars")
struct TextLimitTests {
    /// "e" followed by `marks` combining acute accents (U+0301): one grapheme, 1 + marks scalars.
    static func stacked(_ marks: Int) -> String {
        "e" + String(repeating: "\u{0301}", count: marks)
    }

    static func fieldProblem<T>(_ result: Result<T, FieldProblem>) -> String? {
        if case .failure(let problem) = result { return problem.message }
        return nil
    }

    @Test("length counts scalars, not graphemes")
    func lengthCountsScalars() {
        #expect(Self.stacked(20_000).count == 1)
        #expect(AccountValidation.length(Self.stacked(20_000)) == 20_001)
        #expect(AccountValidation.length("👍🏽") == 2)  // emoji + skin-tone modifier: one grapheme
        #expect(AccountValidation.length("né") == 2)
    }

    @Test("account fields: display name and password")
    func accountFields() {
        #expect(Self.fieldProblem(AccountValidation.displayName(Self.stacked(63))) == nil)  // 64 scalars
        #expect(Self.fieldProblem(AccountValidation.displayName(Self.stacked(64))) != nil)  // 65 scalars, 1 grapheme
        #expect(Self.fieldProblem(AccountValidation.password(Self.stacked(127))) == nil)
        #expect(Self.fieldProblem(AccountValidation.password(Self.stacked(128))) != nil)
        // eight scalars make a long-enough password even when they draw as fewer characters
        #expect(Self.fieldProblem(AccountValidation.password(Self.stacked(7))) == nil)
        #expect(Self.fieldProblem(AccountValidation.password(Self.stacked(6))) != nil)
    }
}
