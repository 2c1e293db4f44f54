import SQLKit

/// Receives session revocations (logout, refresh-token reuse, password change or
/// reset, account disabled) so the realtime side can close those sessions' sockets.
public protocol SessionRevocationObserver: Sendable {
    func sessionsRevoked(userID: Int64, sessionIDs: [String], reason: String) async
}

/// Hooks the mail flows plug into. Each runs inside the transaction that created
/// the account, so its mail is enqueued atomically with it.
public protocol RegistrationMailHooks: Sendable {
    func accountCreated(_ user: UserRecord, on db: any SQLDatabase) async throws
    func registrationAttempted(on existing: UserRecord, on db: any SQLDatabase) async throws
}
