import Accounts
import Models
import Chat
import Logging
import ServiceLifecycle

/// Removes expired guests (issue 16): every ``interval`` (and once the migrations ran) it takes
/// each guest whose `guest_expires_at` has passed on the app's clock out of its rooms (each a
/// `room:member` `left` delta, as a leave), ends its sessions (their sockets close and their
/// tokens fail at once, on every node, through the one revocation path), and deletes its row
/// when nothing refers to it (a guest who posted stays as its messages' author, without
/// sessions or memberships). A Service of the application; it stops on graceful shutdown.
final class GuestSweeper: Service, Sendable {
    let auth: AuthService
    let rooms: RoomService
    let interval: Duration
    let logger: Logger
    /// Opened by `beforeServerStarts` once the schema is current.
    let ready = StartGate()

    /// At most this many guests per pass; the next pass takes the rest.
    static let batchSize = 200

    init(auth: AuthService, rooms: RoomService, interval: Duration, logger: Logger) {
        self.auth = auth
        self.rooms = rooms
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.ready.wait()
            while !Task.isCancelled {
                do { _ = try await self.sweep() } catch {
                    self.logger.warning("guest sweep failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// One pass: returns how many expired guests it handled.
    @discardableResult
    func sweep() async throws -> Int {
        let expired = try await auth.expiredGuests(limit: Self.batchSize)
        for userID in expired {
            for roomID in try await rooms.roomIDs(userID: userID) {
                do { try await rooms.leave(userID: userID, roomID: roomID) } catch let error as ServiceError where error.code == .notAMember {}
            }
            _ = try await auth.removeExpiredGuest(userID: userID)
        }
        if !expired.isEmpty { logger.info("expired guests removed", metadata: ["count": "\(expired.count)"]) }
        return expired.count
    }
}
