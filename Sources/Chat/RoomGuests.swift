import Accounts
import Foundation
import Models
import SQLKit

/// Guests in rooms (issue 16): what a guest may do, and the `allowGuests` room setting
/// (`rooms.allow_guests`, migration 0011).
///
/// A guest (``Accounts/UserRecord/isGuest``) may join a public room whose owner or admins
/// allow guests (its membership role is `guest`), post and read there, list members, leave,
/// and change its display name. It may not create rooms, start direct conversations, invite,
/// join by code, or join any other room; nobody may invite a guest or message one directly.
/// Each refusal is 403 `guest_not_allowed`. Turning `allowGuests` off keeps the guests who are
/// in the room (moderators may kick them); it only stops new ones. A guest never owns a room:
/// the last owner leaving a room where only guests remain closes (deletes) it
/// (``RoomService/leave(userID:roomID:)``).
enum GuestRules {
    static func refuse(_ message: String) -> ServiceError { ServiceError(.guestNotAllowed, message: message) }

    /// Who may read a room they are not necessarily in (its members, a message's reactions; the
    /// history applies the same rule in `MessageService.history`): members always; anyone else
    /// only in a public room (`not_a_member`), and a guest only when that room allows guests
    /// (`guest_not_allowed`): what discovery hides from a guest, its reads do not show either.
    /// `room` must exist; runs on the caller's connection or transaction.
    static func requireReadable(_ room: RoomRecord, userID: Int64, on db: any SQLDatabase) async throws {
        let rooms = RoomStore()
        guard try await rooms.membership(roomID: room.id, userID: userID, on: db) == nil else { return }
        guard room.roomKind == .public else { throw ServiceError.notAMember }
        if try await UserStore().find(id: userID, on: db)?.isGuest == true, !(try await rooms.allowsGuests(roomID: room.id, on: db)) {
            throw refuse("This room does not allow guests.")
        }
    }

    /// The user, refused when a guest.
    static func requireAccount(_ user: UserRecord?, action: String) throws {
        if user?.isGuest == true { throw refuse("Guests cannot \(action).") }
    }

    /// Whether a room of `kind` can allow guests: public rooms only.
    static func check(allowGuests: Bool?, kind: RoomKind) -> Result<Bool?, FieldProblem> {
        guard allowGuests == true, kind != .public else { return .success(allowGuests) }
        return .failure("only public rooms can allow guests")
    }
}

extension RoomStore {
    /// Whether the room allows guests (false for an unknown room).
    public func allowsGuests(roomID: Int64, on db: any SQLDatabase) async throws -> Bool {
        struct Row: Decodable { let allowGuests: Int64 }
        return try await db.raw("SELECT allow_guests FROM rooms WHERE id = \(bind: roomID)")
            .first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)?.allowGuests == 1
    }

    /// Sets `allow_guests`.
    public func setAllowGuests(roomID: Int64, _ allow: Bool, on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE rooms SET allow_guests = \(bind: allow ? 1 : 0) WHERE id = \(bind: roomID)").run()
    }

    /// The room's members that are accounts, not guests (`users.guest_expires_at` unset), by user id.
    public func accountMemberIDs(roomID: Int64, on db: any SQLDatabase) async throws -> [Int64] {
        struct Row: Decodable { let userId: Int64 }
        return try await db.raw(
            """
            SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.room_id = \(bind: roomID) AND u.guest_expires_at IS NULL ORDER BY m.user_id
            """
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns).map(\.userId)
    }

    /// The ids among `roomIDs` that allow guests.
    public func roomsAllowingGuests(_ roomIDs: [Int64], on db: any SQLDatabase) async throws -> Set<Int64> {
        guard !roomIDs.isEmpty else { return [] }
        struct Row: Decodable { let id: Int64 }
        var query: SQLQueryString = "SELECT id FROM rooms WHERE allow_guests = 1 AND id IN ("
        for (index, id) in roomIDs.enumerated() { query += index == 0 ? "\(bind: id)" : ", \(bind: id)" }
        query += ")"
        return Set(try await db.raw(query).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns).map(\.id))
    }
}
