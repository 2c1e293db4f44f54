import Accounts
import Models
import SQLKit

extension MessageService {
    /// A whole group-committed batch of sends in a fixed number of statements
    /// (``MessageStore/standings(_:on:)``, ``MessageStore/parents(_:on:)`` when a send replies,
    /// ``MessageStore/insertMany(_:now:on:)``, ``MessageStore/find(clientMessages:on:)`` only when
    /// a send may repeat a stored `clientMsgId`, and a mentions statement per message that names
    /// someone), with the same outcome per send as ``insertBatched(_:now:verification:requireVerified:messages:rooms:on:)``
    /// gives one at a time, checked in the same order: `room_not_found` (also for an unknown
    /// author), `not_a_member`, `email_unverified`, then a stored `clientMsgId` (before, or
    /// earlier in this batch: a duplicate with the stored message), then `direct_room` (the other
    /// person of a direct room left it: their account was deleted), `muted` (with the seconds
    /// left as `retryAfter`), `validation_failed` (`replyTo` not a live message of the room).
    ///
    /// A send's own failure is its result, not a throw: nothing was written for it, so its
    /// neighbours commit. A throw (a constraint the reads could not foresee, such as a room
    /// deleted by a concurrent transaction on PostgreSQL, or rows that do not match back) makes
    /// ``GroupCommit`` write the batch again one send at a time, each in its own savepoint.
    ///
    /// The checks read inside the batch's write transaction, before the insert: on SQLite that
    /// transaction holds the write lock (`BEGIN IMMEDIATE`), so nothing changes in between; on
    /// PostgreSQL (READ COMMITTED) a kick or mute committing between the read and the insert
    /// orders the send before it, as if it had arrived a moment earlier. Reply targets are read
    /// locked until COMMIT there (``MessageStore/parents(_:on:)``), so a reply never announces an
    /// excerpt deleted meanwhile.
    static func insertBatch(
        _ items: [NewMessage], now: Int64, verification: EmailVerificationGate, messages: MessageStore, on db: any SQLDatabase
    ) async throws -> [Result<SendOutcome, any Error>] {
        var pairs: [MessageStore.Pair] = []
        var seenPairs = Set<MessageStore.Pair>()
        for new in items where seenPairs.insert(MessageStore.Pair(roomID: new.roomID, authorID: new.authorID)).inserted {
            pairs.append(MessageStore.Pair(roomID: new.roomID, authorID: new.authorID))
        }
        let standings = try await messages.standings(pairs, on: db)
        let replyTargets = Array(Set(items.compactMap(\.replyTo))).sorted()
        let parents = try await messages.parents(replyTargets, on: db)

        /// What each send comes to before the insert.
        enum Plan {
            case failed(any Error)
            /// Refused for this reason unless its `clientMsgId` is stored (then a duplicate).
            case refusedUnlessStored(MessageStore.ClientKey, any Error)
            /// Same key as the earlier send at this index of the batch.
            case repeatOf(Int)
            case insert
        }
        var plans: [Plan] = []
        plans.reserveCapacity(items.count)
        var firstOfKey: [MessageStore.ClientKey: Int] = [:]
        for (index, new) in items.enumerated() {
            let pair = MessageStore.Pair(roomID: new.roomID, authorID: new.authorID)
            guard let standing = standings[pair], standing.roomExists else { plans.append(.failed(ServiceError.roomNotFound)); continue }
            guard standing.role != nil else { plans.append(.failed(ServiceError.notAMember)); continue }
            do { try verification.check(emailVerifiedAt: standing.emailVerifiedAt) } catch { plans.append(.failed(error)); continue }
            let key = new.clientMsgID.map { MessageStore.ClientKey(roomID: new.roomID, authorID: new.authorID, clientMsgID: $0) }
            if let key, let first = firstOfKey[key] { plans.append(.repeatOf(first)); continue }
            if let key { firstOfKey[key] = index }
            var refusal: (any Error)?
            if let members = standing.directMembers, members < 2 {
                refusal = ServiceError(.directRoom, message: "The other person has left this conversation.")
            } else if let until = standing.mutedUntil, until > now {
                let seconds = ModerationService.remainingSeconds(until: until, now: now)
                refusal = ServiceError(.muted, message: "You are muted in this room for \(seconds) more seconds.", retryAfter: seconds)
            } else if let replyTo = new.replyTo {
                if let parent = parents[replyTo], parent.roomID == new.roomID, parent.deletedAt == nil {} else {
                    refusal = ServiceError.validation(["replyTo": "must be a message of this room that is not deleted"])
                }
            }
            if let refusal {
                plans.append(key.map { .refusedUnlessStored($0, refusal) } ?? .failed(refusal))
            } else {
                plans.append(.insert)
            }
        }

        let toInsert = items.indices.filter { if case .insert = plans[$0] { true } else { false } }
        let inserted = try await messages.insertMany(toInsert.map { items[$0] }, now: now, on: db)

        // Match the returned rows back: by key when the send has a clientMsgId, otherwise in id
        // order (ids ascend in the VALUES list's order), checked against room and author.
        var byKey: [MessageStore.ClientKey: BatchInserted] = [:]
        var withoutKey: [BatchInserted] = []
        for row in inserted {
            if let clientMsgID = row.clientMsgID {
                byKey[MessageStore.ClientKey(roomID: row.roomID, authorID: row.authorID, clientMsgID: clientMsgID)] = row
            } else {
                withoutKey.append(row)
            }
        }
        withoutKey.sort { $0.id < $1.id }
        var nextWithoutKey = 0
        var stored: [Int: Int64] = [:]  // batch index → new message id
        var lookups: [MessageStore.ClientKey] = []
        for index in toInsert {
            let new = items[index]
            if let clientMsgID = new.clientMsgID {
                let key = MessageStore.ClientKey(roomID: new.roomID, authorID: new.authorID, clientMsgID: clientMsgID)
                if let row = byKey[key] { stored[index] = row.id } else { lookups.append(key) }  // stored by someone else meanwhile
            } else {
                guard nextWithoutKey < withoutKey.count, withoutKey[nextWithoutKey].roomID == new.roomID,
                      withoutKey[nextWithoutKey].authorID == new.authorID else { throw StoreError.noRowReturned }
                stored[index] = withoutKey[nextWithoutKey].id
                nextWithoutKey += 1
            }
        }
        guard nextWithoutKey == withoutKey.count else { throw StoreError.noRowReturned }
        for plan in plans { if case .refusedUnlessStored(let key, _) = plan { lookups.append(key) } }
        let existing = try await messages.find(clientMessages: lookups, on: db)
        let existingMentions = try await MentionStore().mentioned(messageIDs: existing.values.map(\.id), on: db)

        var results: [Result<SendOutcome, any Error>] = []
        results.reserveCapacity(items.count)
        for (index, new) in items.enumerated() {
            switch plans[index] {
            case .failed(let error):
                results.append(.failure(error))
            case .repeatOf(let first):
                // The earlier send of the same key decides: its stored message, as a duplicate; or its error.
                switch results[first] {
                case .success(let outcome): results.append(.success(SendOutcome(record: outcome.record, duplicate: true)))
                case .failure(let error): results.append(.failure(error))
                }
            case .refusedUnlessStored(let key, let error):
                if var record = existing[key] {
                    record.mentions = existingMentions[record.id]
                    results.append(.success(SendOutcome(record: record, duplicate: true)))
                } else {
                    results.append(.failure(error))
                }
            case .insert:
                guard let id = stored[index] else {
                    // Lost a race for its clientMsgId to another transaction: the stored one is the answer.
                    let key = MessageStore.ClientKey(roomID: new.roomID, authorID: new.authorID, clientMsgID: new.clientMsgID ?? "")
                    guard var record = existing[key] else { throw StoreError.noRowReturned }
                    record.mentions = existingMentions[record.id]
                    results.append(.success(SendOutcome(record: record, duplicate: true)))
                    continue
                }
                let standing = standings[MessageStore.Pair(roomID: new.roomID, authorID: new.authorID)]
                var record = MessageRecord(
                    id: id, roomId: new.roomID, authorId: new.authorID, body: new.body, clientMsgId: new.clientMsgID, replyTo: new.replyTo,
                    createdAt: now, editedAt: nil, authorUsername: standing?.username, authorDisplayName: standing?.displayName
                )
                record.authorGuestExpiresAt = standing?.guestExpiresAt
                if let replyTo = new.replyTo, let parent = parents[replyTo] {
                    record.parentAuthorId = parent.authorID
                    record.parentUsername = parent.username
                    record.parentDisplayName = parent.displayName
                    record.parentBody = parent.body
                    record.parentDeletedAt = parent.deletedAt
                }
                // Mentions: a statement only for a body that names someone (``Mentions``).
                let usernames = Mentions.usernames(in: new.body)
                if !usernames.isEmpty {
                    let mentioned = try await MentionStore().record(messageID: id, roomID: new.roomID, authorID: new.authorID, usernames: usernames, on: db)
                    record.mentions = mentioned.isEmpty ? nil : mentioned
                }
                results.append(.success(SendOutcome(record: record, duplicate: false)))
            }
        }
        return results
    }
}
