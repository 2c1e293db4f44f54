import Accounts
import Models

/// The rules of changing a message (issue 15): who may edit or delete it, what a reaction's
/// emoji may be, and how a reply quotes its parent.
public enum MessageRules {
    /// The default edit window, 900 s (15 minutes): long enough to fix a typo or a wrong link
    /// noticed while the conversation goes on, short enough that the answers a message got keep
    /// the context they answered. Deleting has no window. `MESSAGE_EDIT_WINDOW` changes it.
    public static let defaultEditWindow: Duration = .seconds(900)

    /// Whether a member whose room role is `actor` may delete a message, being (`isAuthor`) or
    /// not its author: authors always; others' messages, the room's owners, admins and
    /// moderators (``RoomRules/mayDeleteOthersMessages(_:)``, the moderation matrix). The one
    /// place this is decided.
    public static func mayDelete(actor: RoomRole, isAuthor: Bool) -> Bool {
        isAuthor || RoomRules.mayDeleteOthersMessages(actor)
    }

    /// Whether the author may still edit a message created at `createdAt` at `now` (both ms since
    /// the epoch): within `window` of its creation, inclusive. A zero window turns editing off.
    public static func mayEdit(createdAt: Int64, now: Int64, window: Duration) -> Bool {
        let windowMillis = window.components.seconds * 1000 + window.components.attoseconds / 1_000_000_000_000_000
        return windowMillis > 0 && now - createdAt <= windowMillis
    }

    /// The most different emoji one message may carry (as Discord's 20): bounds the history
    /// payload and the reaction bar.
    public static let maxEmojiPerMessage = 20
    /// An emoji's size bound in UTF-8 bytes: the longest RGI emoji (a ZWJ sequence with two skin
    /// tones, e.g. U+1F469 U+1F3FB U+200D U+2764 U+FE0F U+200D U+1F48B U+200D U+1F468 U+1F3FC) takes 35.
    public static let maxEmojiBytes = 64

    /// A reaction's emoji: any single emoji, not an allow-list, so every emoji a keyboard offers
    /// works. It must be exactly one extended grapheme cluster (Unicode UAX #29, Swift's
    /// `Character`) of at most ``maxEmojiBytes`` UTF-8 bytes made only of emoji scalars
    /// (`Emoji=Yes`) and the glue of emoji sequences as UTS #51 defines them (ZWJ U+200D, VS16
    /// U+FE0F, the keycap U+20E3, tag characters U+E0020–E007F), and it must show as an emoji:
    /// its first scalar has `Emoji_Presentation`, or it carries VS16, a keycap or a skin-tone
    /// modifier. A lone text-style emoji scalar (❤ U+2764) gets its VS16 appended, so ❤ and ❤️
    /// are one reaction; a bare digit, `#` or `*` (which are `Emoji=Yes`) is refused.
    /// Fails with the problem for `fields.emoji`.
    public static func emoji(_ raw: String) -> Result<String, FieldProblem> {
        guard raw.count == 1, raw.utf8.count <= maxEmojiBytes else { return .failure("must be one emoji") }
        let scalars = Array(raw.unicodeScalars)
        let glue: Set<UInt32> = [0x200D, 0xFE0F, 0x20E3]
        guard scalars.allSatisfy({ $0.properties.isEmoji || glue.contains($0.value) || (0xE0020...0xE007F).contains($0.value) }) else {
            return .failure("must be one emoji")
        }
        let first = scalars[0]
        if first.properties.isEmojiPresentation
            || scalars.contains(where: { $0.value == 0xFE0F || $0.value == 0x20E3 || $0.properties.isEmojiModifier }) {
            return .success(raw)
        }
        if scalars.count == 1, first.value > 0x7F, first.properties.isEmoji {
            return .success(raw + "\u{FE0F}")
        }
        return .failure("must be one emoji")
    }

    /// A reply's quote of its parent: the first 100 characters (grapheme clusters, so an emoji
    /// or a letter with its marks is never cut), each run of white space (new lines included)
    /// folded to one space, trimmed.
    public static func excerpt(_ body: String, characters: Int = 100) -> String {
        var out = ""
        var count = 0
        var pendingSpace = false
        for character in body {
            if count >= characters { break }
            if character.isWhitespace {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace {
                out.append(" ")
                count += 1
                pendingSpace = false
                if count >= characters { break }
            }
            out.append(character)
            count += 1
        }
        return out
    }
}

/// A change to an existing message, for its room (``ChatDelta/messageChanged(_:)``).
public enum MessageChange: Sendable, Equatable {
    /// `message:updated`.
    case updated(MessageUpdatedEvent)
    /// `message:deleted`.
    case deleted(MessageDeletedEvent)
    /// `reaction`.
    case reaction(ReactionEvent)

    /// The room whose members hear it.
    public var roomID: Int64 {
        switch self {
        case .updated(let event): event.roomId
        case .deleted(let event): event.roomId
        case .reaction(let event): event.roomId
        }
    }
}
