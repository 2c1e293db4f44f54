import HTTPTypes
import Models
import PostgresNIO
import SQLiteNIO

/// Overload of a bounded resource, answered as 503 `server_busy` with `Retry-After`
/// (RFC 9110 §15.6.4, §10.2.3) instead of 500, whichever route hit it.
///
/// The bounded resources behind the API and what their overload looks like:
/// - the password-hashing gate (``PasswordHasher``, `maxQueued` waiters):
///   ``PasswordHasher/PasswordHasherError/overloaded`` (login, registration, password
///   change and reset, creating or joining a room with a password);
/// - SQLite: `SQLITE_BUSY` / `SQLITE_LOCKED` once `busy_timeout` has passed;
/// - PostgreSQL: SQLSTATE class 53 (insufficient resources, e.g. 53300
///   too_many_connections), 57P03 cannot_connect_now, and a connection that could not be
///   opened for the pool. (The in-process SQLite connection queue and the PostgresNIO pool
///   make callers wait rather than fail, so they surface only through these.)
extension APIError {
    /// 503 `server_busy`, `Retry-After: 1` (seconds).
    public static let serverBusy = APIError(ServiceError.serverBusy)

    /// ``serverBusy`` when `error` is the overload of a bounded resource, else nil.
    public static func overload(from error: any Error) -> APIError? {
        switch error {
        case PasswordHasher.PasswordHasherError.overloaded:
            return .serverBusy
        case let error as SQLiteError:
            switch error.reason {
            case .busy, .locked, .busyTimeout, .busyInRecovery, .busyInSnapshot, .lockedBySharedCache: return .serverBusy
            default: return nil
            }
        case let error as PSQLError:
            if error.code == .connectionError { return .serverBusy }
            guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return nil }
            return state.hasPrefix("53") || state == PostgresError.Code.cannotConnectNow.raw ? .serverBusy : nil
        default:
            return nil
        }
    }
}
