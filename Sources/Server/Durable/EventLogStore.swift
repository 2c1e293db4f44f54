import Accounts
import Foundation
import Relay
import SQLKit

/// What a logged event does to Socket.IO room membership, on every node, besides being
/// delivered: `join` is applied before the event is delivered (the joiner's sockets get it),
/// `leave` after (the leaver's sockets get it too).
///
/// Stored in `event_log.effect` as `{"kind":"join"|"leave","subject":<room>,"rooms":[…]}`:
/// the sockets in `subject` (e.g. `user:7`) join or leave `rooms` (e.g. `room:3`).
enum LogEffect: Sendable, Equatable, Codable {
    case join(subjectRoom: String, rooms: [String])
    case leave(subjectRoom: String, rooms: [String])

    private enum CodingKeys: String, CodingKey { case kind, subject, rooms }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let subject = try container.decode(String.self, forKey: .subject)
        let rooms = try container.decode([String].self, forKey: .rooms)
        switch try container.decode(String.self, forKey: .kind) {
        case "join": self = .join(subjectRoom: subject, rooms: rooms)
        case "leave": self = .leave(subjectRoom: subject, rooms: rooms)
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "unknown effect kind \(other)")
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .join(let subject, let rooms):
            try container.encode("join", forKey: .kind)
            try container.encode(subject, forKey: .subject)
            try container.encode(rooms, forKey: .rooms)
        case .leave(let subject, let rooms):
            try container.encode("leave", forKey: .kind)
            try container.encode(subject, forKey: .subject)
            try container.encode(rooms, forKey: .rooms)
        }
    }
}

/// One event to append to the log: what a broadcast would send, and to whom.
struct EventLogEntry: Sendable, Equatable {
    var namespace: String
    var event: String
    /// The event's arguments as the text of a JSON array (the offset is not part of it).
    var data: String
    /// Target rooms (union); empty = the whole namespace.
    var rooms: [String]
    /// Sockets in any of these rooms are skipped.
    var except: [String]
    var effect: LogEffect?
    /// The arguments `data` was written from, when the entry was built from them: kept so this
    /// node's ``LogTail`` can deliver the committed entry without reading it back and parsing it.
    var arguments: [JSONValue]?
    /// The message a `message:new` / `message:updated` / `message:deleted` row reports
    /// (`event_log.message_id`, migration 0014), so a later delete or edit can find the message's
    /// earlier rows exactly (``EventLogStore/redact(messageID:events:on:_:)``); nil otherwise.
    var messageID: Int64?

    init(namespace: String = "/", event: String, data: String, rooms: [String], except: [String] = [], effect: LogEffect? = nil) {
        self.namespace = namespace
        self.event = event
        self.data = data
        self.rooms = rooms
        self.except = except
        self.effect = effect
    }

    init(namespace: String = "/", event: String, arguments: [JSONValue], rooms: [String], except: [String] = [], effect: LogEffect? = nil) {
        self.init(namespace: namespace, event: event, data: JSONValue.array(arguments).jsonString, rooms: rooms, except: except, effect: effect)
        self.arguments = arguments
    }

    /// An event with one argument, `payload` encoded as the relay encodes an emitted value.
    init(namespace: String = "/", event: String, payload: some Encodable, rooms: [String], except: [String] = [], effect: LogEffect? = nil) throws {
        self.init(namespace: namespace, event: event, arguments: [try JSONValue(encoding: payload)], rooms: rooms, except: except, effect: effect)
    }
}

/// One stored row of the log.
struct EventLogRecord: Sendable, Equatable {
    var seq: UInt64
    var namespace: String
    var event: String
    var arguments: [JSONValue]
    var rooms: Set<String>
    var except: Set<String>
    var effect: LogEffect?
    /// Milliseconds since the epoch (the appending node's clock).
    var createdAt: Int64
}

/// The durable event log (`event_log`, migration 0006): every non-volatile chat delta, appended
/// in the transaction of the change it reports, so an acknowledged change is never missing from
/// it. A row's `seq` is the Socket.IO offset of the event (connection state recovery).
///
/// Ordering: readers (``LogTail``, recovery) ask for `seq > last`. On PostgreSQL an identity value
/// is taken when a row is inserted, not when it commits, so two concurrent transactions could
/// commit out of seq order and a reader could move past a seq that becomes visible later.
/// ``append(_:on:)`` therefore takes a transaction-scoped advisory lock first: appending
/// transactions run their INSERT and COMMIT one after the other, and a committed seq is always
/// preceded by every smaller committed seq. On SQLite there is one writer at a time.
struct EventLogStore: Sendable {
    /// `pg_advisory_xact_lock` key for appenders (an arbitrary constant: "SWLG").
    static let advisoryLockKey: Int64 = 0x5357_4C47
    /// The PostgreSQL NOTIFY channel an append signals on (delivered at commit; empty payload).
    static let notifyChannel = "switchboard_log"

    let clock: AccountsClock

    init(clock: AccountsClock = .system) {
        self.clock = clock
    }

    /// Appends `entries` in the caller's transaction and returns their seqs, in `entries`' order.
    /// MUST be the transaction's last statement before COMMIT: on PostgreSQL it takes
    /// `pg_advisory_xact_lock`, which every other appender waits for until this transaction ends.
    /// PostgreSQL: lock, one multi-row `INSERT … RETURNING seq`, `pg_notify('switchboard_log','')`.
    func append(_ entries: [EventLogEntry], on db: any SQLDatabase) async throws -> [UInt64] {
        try await appendRecords(entries, on: db).map(\.seq)
    }

    /// PostgreSQL: takes the appenders' transaction-scoped advisory lock (held until this
    /// transaction ends; taking it again in the same transaction is a no-op). SQLite: nothing
    /// (one writer at a time).
    func lockAppenders(on db: any SQLDatabase) async throws {
        guard Self.isPostgres(db) else { return }
        try await db.raw("SELECT pg_advisory_xact_lock(\(bind: Self.advisoryLockKey))").run()
    }

    /// ``append(_:on:)``, returning the rows as a reader of the log would get them (for this
    /// node's ``LogTail``, which can then deliver them once committed without reading them back).
    func appendRecords(_ entries: [EventLogEntry], on db: any SQLDatabase) async throws -> [EventLogRecord] {
        guard !entries.isEmpty else { return [] }
        let postgres = Self.isPostgres(db)
        try await lockAppenders(on: db)
        let now = clock.now().millis
        var values: [SQLQueryString] = []
        for entry in entries {
            let effect = try entry.effect.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
            values.append(
                """
                (\(bind: entry.namespace), \(bind: Self.jsonArray(entry.rooms)), \(bind: Self.jsonArray(entry.except)),
                 \(bind: entry.event), \(bind: entry.data), \(bind: effect), \(bind: now), \(bind: entry.messageID))
                """
            )
        }
        let query: SQLQueryString =
            "INSERT INTO event_log (namespace, rooms, except_rooms, event, data, effect, created_at, message_id) VALUES "
            + values.joined(separator: ", ") + " RETURNING seq"
        struct Row: Decodable { let seq: Int64 }
        // Identity / AUTOINCREMENT values are assigned in VALUES order; RETURNING's row order is
        // not promised by either dialect, so sort.
        let seqs = try await db.raw(query).all(decoding: Row.self).map { UInt64($0.seq) }.sorted()
        guard seqs.count == entries.count else { throw StoreError.noRowReturned }
        if postgres {
            try await db.raw("SELECT pg_notify(\(bind: Self.notifyChannel), '')").run()
        }
        return try zip(seqs, entries).map { seq, entry in
            EventLogRecord(
                seq: seq, namespace: entry.namespace, event: entry.event,
                arguments: try entry.arguments ?? JSONValue(parsing: entry.data).arrayValue ?? [],
                rooms: Set(entry.rooms), except: Set(entry.except), effect: entry.effect, createdAt: now
            )
        }
    }

    /// Rewrites, in the caller's transaction, the first argument (the payload object) of every
    /// row of `events` that reports message `messageID` (found by the `message_id` column, never
    /// by matching JSON text): how a delete erases the old body from the log and an edit the
    /// pre-edit one. Rows already delivered stay delivered; what is replayed from now on (connection
    /// state recovery) and what stays stored until pruning is the rewritten payload. Run it before
    /// ``append(_:on:)`` (which must be the transaction's last statement).
    func redact(messageID: Int64, events: [String], on db: any SQLDatabase, _ rewrite: (inout [String: JSONValue]) -> Void) async throws {
        guard !events.isEmpty else { return }
        struct Found: Decodable { let seq: Int64; let data: String }
        let names = SQLList(events.map { SQLBind($0) })
        let rows = try await db.raw(
            "SELECT seq, data FROM event_log WHERE message_id = \(bind: messageID) AND event IN (\(names))"
        ).all(decoding: Found.self)
        for row in rows {
            guard var arguments = try JSONValue(parsing: row.data).arrayValue, var payload = arguments.first?.objectValue else { continue }
            rewrite(&payload)
            arguments[0] = .object(payload)
            try await db.raw("UPDATE event_log SET data = \(bind: JSONValue.array(arguments).jsonString) WHERE seq = \(bind: row.seq)").run()
        }
    }

    /// Up to `limit` rows with `seq > after`, in seq order.
    func entries(after: UInt64, limit: Int, on db: any SQLDatabase) async throws -> [EventLogRecord] {
        try await db.raw(
            """
            SELECT seq, namespace, rooms, except_rooms, event, data, effect, created_at FROM event_log
            WHERE seq > \(bind: Int64(clamping: after)) ORDER BY seq LIMIT \(bind: limit)
            """
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns).map { try $0.record() }
    }

    /// Up to `limit` rows of `namespace` with `seq > after`, in seq order.
    func entries(namespace: String, after: UInt64, limit: Int, on db: any SQLDatabase) async throws -> [EventLogRecord] {
        try await db.raw(
            """
            SELECT seq, namespace, rooms, except_rooms, event, data, effect, created_at FROM event_log
            WHERE seq > \(bind: Int64(clamping: after)) AND namespace = \(bind: namespace) ORDER BY seq LIMIT \(bind: limit)
            """
        ).all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns).map { try $0.record() }
    }

    /// The row `seq` (namespace and time only), nil when there is none (never written, or pruned).
    func find(seq: UInt64, on db: any SQLDatabase) async throws -> (namespace: String, createdAt: Int64)? {
        struct Found: Decodable { let namespace: String; let createdAt: Int64 }
        return try await db.raw("SELECT namespace, created_at FROM event_log WHERE seq = \(bind: Int64(clamping: seq))")
            .first(decoding: Found.self, keyDecodingStrategy: .snakeCaseColumns).map { ($0.namespace, $0.createdAt) }
    }

    /// The highest committed seq, 0 when the log is empty.
    func maxSeq(on db: any SQLDatabase) async throws -> UInt64 {
        struct Max: Decodable { let seq: Int64? }
        let max = try await db.raw("SELECT MAX(seq) AS seq FROM event_log").first(decoding: Max.self)
        return UInt64(max?.seq ?? 0)
    }

    /// Deletes rows created before `cutoff` (ms since the epoch).
    func prune(before cutoff: Int64, on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM event_log WHERE created_at < \(bind: cutoff)").run()
    }

    private struct Row: Decodable {
        let seq: Int64
        let namespace: String
        let rooms: String
        let exceptRooms: String
        let event: String
        let data: String
        let effect: String?
        let createdAt: Int64

        func record() throws -> EventLogRecord {
            EventLogRecord(
                seq: UInt64(seq), namespace: namespace, event: event,
                arguments: try JSONValue(parsing: data).arrayValue ?? [],
                rooms: Set(try EventLogStore.stringArray(rooms)),
                except: Set(try EventLogStore.stringArray(exceptRooms)),
                effect: try effect.map { try JSONDecoder().decode(LogEffect.self, from: Data($0.utf8)) },
                createdAt: createdAt
            )
        }
    }

    /// `values` as a JSON array of strings (the `rooms` and `except_rooms` columns).
    static func jsonArray(_ values: [String]) -> String {
        JSONValue.array(values.map(JSONValue.string)).jsonString
    }

    /// The strings of a `rooms` / `except_rooms` column. Throws when it is not a JSON array of strings.
    static func stringArray(_ text: String) throws -> [String] {
        let notStrings = DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not a JSON array of strings: \(text)"))
        guard case .array(let items) = try JSONValue(parsing: text) else { throw notStrings }
        return try items.map { item in
            guard case .string(let value) = item else { throw notStrings }
            return value
        }
    }

    static func isPostgres(_ db: any SQLDatabase) -> Bool {
        db.dialect.name == "postgresql"
    }
}
