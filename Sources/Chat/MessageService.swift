import Accounts
import Foundation
import Logging
import Models
import SQLKit

/// Messages: sending (REST `POST /api/rooms/{id}/messages` and the realtime `message:send`)
/// and history pages.
///
/// A send is: ``validate(userID:roomID:body:clientMsgID:replyTo:)`` (no database), then a place
/// in the next group-committed batch (``GroupCommit``: concurrent sends share one transaction;
/// the whole batch is written by ``insertBatch(_:now:verification:messages:on:)`` in a fixed number
/// of statements — the senders' standings and reply targets read once, one multi-row `INSERT` —
/// and a send that may not be stored gets its own error as its result; only when that attempt
/// throws is the batch written again with a savepoint and one `insertBatched` statement per
/// send, so a failing send alone gets its error); the batch then moves each room's
/// last message and each author's read cursor once, appends the batch's `message:new` deltas to the
/// ``ChatEventLog`` (one append, the last statement before COMMIT), commits, and waits until this
/// node delivered them before any of their senders is answered. Without a log (tests, tools) the
/// ``ChatEventSink`` hears the batch's new messages after the commit, in commit order.
public struct MessageService: Sendable {
    let database: any Database
    let clock: AccountsClock
    let verification: EmailVerificationGate
    let events: (any ChatEventSink)?
    let rooms = RoomStore()
    let messages = MessageStore()
    /// The send path's group commit (shared by every copy of this service).
    let batcher: GroupCommit<NewMessage, SendOutcome>

    /// A body's maximum length in Unicode scalars, after trimming.
    public static let maxBodyLength = 4000
    /// The largest history page (`limit`).
    public static let maxPageSize = 100
    /// A `clientMsgId`'s maximum length in Unicode scalars.
    public static let maxClientMsgIDLength = 64

    /// - Parameter maxBatchSize: the most sends one transaction holds.
    public init(
        database: any Database, clock: AccountsClock = .system, verification: EmailVerificationGate, events: (any ChatEventSink)?,
        log: (any ChatEventLog)? = nil, maxBatchSize: Int = 512
    ) {
        self.database = database
        self.clock = clock
        self.verification = verification
        self.events = events
        let store = MessageStore(), rooms = RoomStore()
        let requireVerified = verification.isRequired
        batcher = GroupCommit(
            database: database, maxBatchSize: maxBatchSize,
            item: { new, db in
                // Ids in commit order across nodes (``ChatEventLog/reserveOrder(on:)``).
                try await log?.reserveOrder(on: db)
                return try await Self.insertBatched(new, now: clock.now().millis, verification: verification, requireVerified: requireVerified,
                                             messages: store, rooms: rooms, on: db)
            },
            batch: { items, db in
                try await log?.reserveOrder(on: db)
                return try await Self.insertBatch(items, now: clock.now().millis, verification: verification, messages: store, on: db)
            },
            finish: { results, db in
                let inserted = results.compactMap { try? $0.get() }.filter { !$0.duplicate }
                try await store.moveLastMessages(inserted.map(\.record), on: db)
                // The log position appended through goes to this batch's `committed`.
                return try await log?.append(inserted.map { .messageCreated($0.message) }, on: db)
            },
            committed: { results, appended in
                if let log {
                    await log.committed(through: appended as? UInt64)
                } else if let events {
                    for case .success(let outcome) in results where !outcome.duplicate {
                        await events.messageCreated(outcome.message)
                    }
                }
            }
        )
    }

    // MARK: History

    /// A page of a room's history in ascending id order (``MessageStore/page(roomID:before:after:limit:on:)``);
    /// `limit` defaults to 50 and is clamped to 1...``maxPageSize``. A public room's history is
    /// readable by anyone but a guest when the room does not allow guests (`guest_not_allowed`,
    /// unless the guest is a member); other rooms', by members only (`not_a_member`).
    public func history(userID: Int64, roomID: Int64, before: Int64?, after: Int64?, limit: Int?) async throws -> (messages: [ChatMessage], hasMore: Bool) {
        let limit = min(max(limit ?? 50, 1), Self.maxPageSize)
        return try await database.read { db in
            guard let room = try await rooms.find(id: roomID, on: db) else { throw ServiceError.roomNotFound }
            if try await rooms.membership(roomID: roomID, userID: userID, on: db) == nil {
                guard room.roomKind == .public else { throw ServiceError.notAMember }
                // A guest reads a public room it is not in only when the room allows guests (discovery hides the others).
                if try await UserStore().find(id: userID, on: db)?.isGuest == true, !(try await rooms.allowsGuests(roomID: roomID, on: db)) {
                    throw GuestRules.refuse("This room does not allow guests.")
                }
            }
            let page = try await messages.page(roomID: roomID, before: before, after: after, limit: limit, viewer: userID, on: db)
            let mentioned = try await MentionStore().mentioned(messageIDs: page.messages.map(\.id), on: db)
            return (page.messages.map { record in
                var message = record.wire
                message.mentions = mentioned[record.id]
                return message
            }, page.hasMore)
        }
    }

    /// Throws `muted` (with the seconds left as `retryAfter`, as a send) while `userID` is muted
    /// in `roomID`: the gateway's `typing: true` asks here (a muted member does not type either).
    public func requireNotMuted(userID: Int64, roomID: Int64) async throws {
        struct Row: Decodable { let expiresAt: Int64 }
        let now = clock.now().millis
        let until = try await database.read { db in
            try await db.raw("SELECT expires_at FROM room_mutes WHERE room_id = \(bind: roomID) AND user_id = \(bind: userID)")
                .first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)?.expiresAt
        }
        if let until, until > now {
            let seconds = ModerationService.remainingSeconds(until: until, now: now)
            throw ServiceError(.muted, message: "You are muted in this room for \(seconds) more seconds.", retryAfter: seconds)
        }
    }

    // MARK: Sending

    /// A message that passed ``validate(userID:roomID:body:clientMsgID:replyTo:)``: `body` trimmed.
    public struct NewMessage: Sendable, Equatable {
        public let authorID: Int64
        public let roomID: Int64
        public let body: String
        public let clientMsgID: String?
        public let replyTo: Int64?
    }

    public struct SendOutcome: Sendable {
        public let message: ChatMessage
        /// The same clientMsgId was stored before: nothing new was written or broadcast.
        public let duplicate: Bool
        /// The stored row (the batch moves the room's last message and the read cursor from it).
        let record: MessageRecord

        init(record: MessageRecord, duplicate: Bool) {
            self.record = record
            self.message = record.wire
            self.duplicate = duplicate
        }
    }

    /// Sends a message: validates it, stores it in one transaction and, unless it is a
    /// duplicate, reports it to the event sink.
    ///
    /// Throws `validation_failed` (body, clientMsgId, replyTo), `room_not_found`, `not_a_member`,
    /// `email_unverified`, `muted`.
    public func send(userID: Int64, roomID: Int64, body: String, clientMsgID: String?, replyTo: Int64?) async throws -> SendOutcome {
        let message = try validate(userID: userID, roomID: roomID, body: body, clientMsgID: clientMsgID, replyTo: replyTo)
        return try await batcher.submit(message)
    }

    /// One send inside its batch: one statement (``MessageStore/insertIfAllowed(roomID:authorID:body:clientMsgID:replyTo:requireVerified:now:on:)``)
    /// when it is allowed; when it wrote nothing, the reason, in this order: `room_not_found`
    /// (also for an unknown author), `not_a_member`, `email_unverified`, then a stored
    /// `clientMsgId` (earlier in this batch or before: a duplicate with the stored message),
    /// then `direct_room` (the other person of a direct room left it), then `muted` (with the seconds left as `retryAfter`), then `validation_failed` (`replyTo`).
    static func insertBatched(
        _ new: NewMessage, now: Int64, verification: EmailVerificationGate, requireVerified: Bool, messages: MessageStore, rooms: RoomStore,
        on db: any SQLDatabase
    ) async throws -> SendOutcome {
        if var record = try await messages.insertIfAllowed(
            roomID: new.roomID, authorID: new.authorID, body: new.body, clientMsgID: new.clientMsgID, replyTo: new.replyTo,
            requireVerified: requireVerified, now: now, on: db
        ) {
            // Mentions: a second statement only when the body names someone (``Mentions``).
            let mentioned = try await MentionStore().record(
                messageID: record.id, roomID: new.roomID, authorID: new.authorID, usernames: Mentions.usernames(in: new.body), on: db
            )
            record.mentions = mentioned.isEmpty ? nil : mentioned
            return SendOutcome(record: record, duplicate: false)
        }
        guard let standing = try await rooms.senderStanding(roomID: new.roomID, userID: new.authorID, on: db), standing.roomExists else {
            throw ServiceError.roomNotFound
        }
        guard standing.role != nil else { throw ServiceError.notAMember }
        try verification.check(emailVerifiedAt: standing.emailVerifiedAt)
        if let clientMsgID = new.clientMsgID,
           var existing = try await messages.find(roomID: new.roomID, authorID: new.authorID, clientMsgID: clientMsgID, on: db) {
            existing.mentions = try await MentionStore().mentioned(messageIDs: [existing.id], on: db)[existing.id]
            return SendOutcome(record: existing, duplicate: true)
        }
        if let members = standing.directMembers, members < 2 {
            throw ServiceError(.directRoom, message: "The other person has left this conversation.")
        }
        if let until = standing.mutedUntil, until > now {
            // The same `now` as the statement's mute condition: exact, no second clock read.
            let seconds = ModerationService.remainingSeconds(until: until, now: now)
            throw ServiceError(.muted, message: "You are muted in this room for \(seconds) more seconds.", retryAfter: seconds)
        }
        if new.replyTo != nil { throw ServiceError.validation(["replyTo": "must be a message of this room that is not deleted"]) }
        throw StoreError.noRowReturned
    }

    /// The checks that need no database: the body trimmed is 1...``maxBodyLength`` scalars of
    /// multi-line free text (``AccountValidation/freeText(_:multiline:)``), a `clientMsgId` is
    /// 1...``maxClientMsgIDLength`` scalars without control characters (Cc: PostgreSQL refuses a
    /// NUL in text, SQLite reads text back cut at one). Throws `validation_failed`.
    public func validate(userID: Int64, roomID: Int64, body rawBody: String, clientMsgID: String?, replyTo: Int64?) throws -> NewMessage {
        let body = try Self.validBody(rawBody)
        if let clientMsgID, !(1...Self.maxClientMsgIDLength).contains(AccountValidation.length(clientMsgID)) {
            throw ServiceError.validation(["clientMsgId": "must be 1 to \(Self.maxClientMsgIDLength) characters"])
        }
        if let clientMsgID, clientMsgID.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw ServiceError.validation(["clientMsgId": "must not contain control characters"])
        }
        return NewMessage(authorID: userID, roomID: roomID, body: body, clientMsgID: clientMsgID, replyTo: replyTo)
    }
}
