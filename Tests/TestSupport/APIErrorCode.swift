import Accounts

/// The ``APIError`` code `body` throws, nil when it returns, or `"unexpected: …"` for any other
/// error: lets a test assert a refusal's stable code in one line.
public func apiCode(_ body: () async throws -> some Any) async -> String? {
    do { _ = try await body(); return nil } catch let error as APIError { return error.code } catch { return "unexpected: \(error)" }
}
