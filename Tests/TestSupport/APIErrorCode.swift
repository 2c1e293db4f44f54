import Accounts
import Models

/// The error code `body` throws (a domain ``ServiceError`` or an HTTP-edge ``APIError``), nil
/// when it returns, or `"unexpected: …"` for any other error: lets a test assert a refusal's
/// stable code in one line.
public func apiCode(_ body: () async throws -> some Any) async -> String? {
    do { _ = try await body(); return nil } catch let error as ServiceError {
        return error.code.rawValue
    } catch let error as APIError {
        return error.code
    } catch {
        return "unexpected: \(error)"
    }
}
