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
    /// `Character`) of at most ``maxEmojiBytes`` UTF-8 bytes, shaped as UTS #51 (ED-14 to ED-17)
    /// shapes an emoji: a keycap (`[0-9#*]` VS16 U+20E3), a flag (exactly two regional
    /// indicators), a tag sequence (U+1F3F4, tag characters U+E0020–E007E, U+E007F), or a ZWJ
    /// sequence of at most four elements, each an `Emoji=Yes` scalar other than ASCII, a
    /// regional indicator or a lone skin-tone modifier, optionally followed by one skin-tone
    /// modifier when the scalar is an `Emoji_Modifier_Base`.
    ///
    /// Returns ONE canonical form so equal emoji are one reaction: every VS16 U+FE0F is removed,
    /// then one is put back after a scalar that lacks `Emoji_Presentation` and carries no
    /// modifier (❤ and ❤️ → ❤️; 👍️ and 👍️️️ → 👍; 1⃣ → 1️⃣). Fails with the problem for
    /// `fields.emoji`.
    public static func emoji(_ raw: String) -> Result<String, FieldProblem> {
        let refused: Result<String, FieldProblem> = .failure("must be one emoji")
        guard raw.count == 1, raw.utf8.count <= maxEmojiBytes else { return refused }
        let scalars = Array(raw.unicodeScalars).filter { $0.value != 0xFE0F }
        guard let first = scalars.first else { return refused }
        let vs16 = Unicode.Scalar(0xFE0F)!
        func isRegional(_ s: Unicode.Scalar) -> Bool { (0x1F1E6...0x1F1FF).contains(s.value) }
        func isTag(_ s: Unicode.Scalar) -> Bool { (0xE0020...0xE007E).contains(s.value) }
        var canonical = String.UnicodeScalarView()

        if scalars.count == 2, scalars[1].value == 0x20E3 {
            // Keycap: [0-9#*] VS16 U+20E3.
            guard first.value == 0x23 || first.value == 0x2A || (0x30...0x39).contains(first.value) else { return refused }
            canonical.append(contentsOf: [first, vs16, scalars[1]])
        } else if isRegional(first) {
            guard scalars.count == 2, isRegional(scalars[1]) else { return refused }
            canonical.append(contentsOf: scalars)
        } else if first.value == 0x1F3F4, scalars.count > 2 {
            // Tag sequence (subdivision flags): black flag, tags, cancel tag.
            guard scalars.last!.value == 0xE007F, scalars.dropFirst().dropLast().allSatisfy(isTag) else { return refused }
            canonical.append(contentsOf: scalars)
        } else {
            let elements = scalars.split(separator: Unicode.Scalar(0x200D)!, omittingEmptySubsequences: false)
            guard elements.count <= 4 else { return refused }
            for (index, element) in elements.enumerated() {
                guard let base = element.first, element.count <= 2 else { return refused }
                let props = base.properties
                guard props.isEmoji, base.value > 0x7F, !props.isEmojiModifier, !isRegional(base) else { return refused }
                if index > 0 { canonical.append(Unicode.Scalar(0x200D)!) }
                canonical.append(base)
                if element.count == 2 {
                    let modifier = element[element.startIndex + 1]
                    guard modifier.properties.isEmojiModifier, props.isEmojiModifierBase else { return refused }
                    canonical.append(modifier)
                } else if !props.isEmojiPresentation {
                    canonical.append(vs16)
                }
            }
        }
        let result = String(canonical)
        guard result.count == 1, result.utf8.count <= maxEmojiBytes else { return refused }
        return .success(result)
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
