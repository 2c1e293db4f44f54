import Accounts
import Foundation
import Models

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

    // MARK: Roles (issue 16)
    //
    // Ranks: owner 4 > admin 3 > moderator 2 > member 1 > guest 0 (``RoomRole/rank``). The matrix
    // (docs/PROTOCOL.md, "Moderation", repeats it); "below me" means a strictly lower rank, so
    // nobody acts on a peer or a superior (as Discord's role hierarchy and Slack's do), and nobody
    // moderates themselves:
    //
    // | action                                   | owner | admin | moderator | member | guest |
    // |------------------------------------------|-------|-------|-----------|--------|-------|
    // | kick, mute, unmute, ban, unban (below me)|  yes  |  yes  |    yes    |   no   |  no   |
    // | list mutes and bans, read the audit log  |  yes  |  yes  |    yes    |   no   |  no   |
    // | set moderator / member (below me)        |  yes  |  yes  |    no     |   no   |  no   |
    // | set admin / owner (below me)             |  yes  |  no   |    no     |   no   |  no   |
    // | rename, change topic, invite to private  |  yes  |  yes  |    no     |   no   |  no   |
    // | delete others' messages                  |  yes  |  yes  |    yes    |   no   |  no   |
    // | delete the room                          |  yes  |  no   |    no     |   no   |  no   |
    //
    // `guest` is the role of a guest account's memberships: it is never granted nor taken away by
    // a role change. Anyone may lower their own role (not to `guest`). A room may have several
    // owners and always keeps one (`last_owner`): the last owner cannot step down nor be demoted
    // (by anyone, server admins included), cannot be kicked or banned while anyone else remains,
    // and cannot leave while other accounts remain; when only guests remain (guests cannot own a
    // room) their leaving closes (deletes) the room. Direct rooms have no moderation (`direct_room`).

    /// The lowest role that may kick, mute, unmute, ban and unban (members below it), list mutes
    /// and bans, and read the audit log.
    static let moderatorRank = RoomRole.moderator.rank

    /// Whether `actor` may act on a member whose role is `target`: only on a strictly lower rank.
    /// A `nil` target (not a member: a ban ahead of a join, an unban) has no rank to protect.
    static func outranks(_ actor: RoomRole, _ target: RoomRole?) -> Bool {
        guard let target else { return true }
        return actor.rank > target.rank
    }

    /// Whether `actor` may give `role` to a member below them: owners any role but `guest`,
    /// admins `moderator` and `member`, nobody else.
    static func mayGrant(_ actor: RoomRole, _ role: RoomRole) -> Bool {
        switch role {
        case .guest: false
        case .owner, .admin: actor == .owner
        case .moderator, .member: actor.rank >= RoomRole.admin.rank
        }
    }

    /// Whether a member with role `actor` may delete a message written by someone else
    /// (moderators and up).
    public static func mayDeleteOthersMessages(_ actor: RoomRole) -> Bool {
        actor.rank >= moderatorRank
    }

    /// Whether `role` may rename the room, change its topic and invite to a private room.
    static func mayManageRoom(_ role: RoomRole) -> Bool {
        role.rank >= RoomRole.admin.rank
    }

    /// A moderation reason: trimmed, at most 256 scalars of single-line free text; empty = none.
    static func reason(_ raw: String?) -> Result<String?, FieldProblem> {
        guard let raw else { return .success(nil) }
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if value.isEmpty { return .success(nil) }
        guard AccountValidation.length(value) <= 256 else { return .failure("must be at most 256 characters") }
        return AccountValidation.freeText(value).map { Optional($0) }
    }

    /// The longest mute, in seconds: 28 days, Discord's longest timeout.
    static let maxMuteSeconds = 28 * 24 * 3600
}
