import Foundation
import NIOCore
import Relay

/// What one node tells the others on the `switchboard_adapter` channel
/// (``PostgresClusterAdapter``). Logged events never travel here: each node's log tail reads
/// them from `event_log`; only the `switchboard_log` wake-up does.
enum ClusterMessage: Sendable, Equatable {
    /// An encoded packet for the matching sockets (a broadcast that is not logged: volatile, typing).
    case broadcast(namespace: String, options: BroadcastOptions, frames: [OutboundFrame])
    case disconnect(namespace: String, options: BroadcastOptions, close: Bool)
    case join(namespace: String, options: BroadcastOptions, rooms: Set<String>)
    case leave(namespace: String, options: BroadcastOptions, rooms: Set<String>)
    /// `fetchSockets`: every other node answers with ``fetchReply(to:requestID:sockets:)``.
    case fetch(namespace: String, options: BroadcastOptions, requestID: String)
    case fetchReply(to: String, requestID: String, sockets: [SocketSummary])
    case serverSideEmit(namespace: String, event: String, arguments: [JSONValue])
}

/// A message with the node that sent it (a node ignores its own).
struct ClusterEnvelope: Sendable, Equatable {
    var node: String
    var message: ClusterMessage

    /// The largest NOTIFY payload sent inline: PostgreSQL refuses payloads of 8000 bytes or more
    /// (NOTIFY, PostgreSQL docs); larger ones, and any with binary, travel by reference to a
    /// row of `adapter_messages`.
    static let inlineLimit = 7_900

    /// Whether this message must travel by reference (binary attachments, or too long).
    func needsReference(encoded: String) -> Bool {
        if encoded.utf8.count > Self.inlineLimit { return true }
        if case .broadcast(_, _, let frames) = message {
            return frames.contains { if case .binary = $0 { return true } else { return false } }
        }
        if case .serverSideEmit(_, _, let arguments) = message { return arguments.contains(where: \.containsBinary) }
        return false
    }

    // MARK: Wire form: one JSON object

    /// `{"n":node,"k":kind,…}`: kinds b, d, j, l, f, fr, e. Text frames are strings, binary
    /// frames `{"b":base64}`; binary inside server-side arguments is `{"$b":base64}`.
    var json: String {
        var o: [String: JSONValue] = ["n": .string(node)]
        func put(_ options: BroadcastOptions) {
            o["r"] = .array(options.rooms.sorted().map(JSONValue.string))
            o["x"] = .array(options.except.sorted().map(JSONValue.string))
            if options.volatile { o["v"] = true }
        }
        switch message {
        case .broadcast(let ns, let options, let frames):
            o["k"] = "b"; o["ns"] = .string(ns); put(options)
            o["f"] = .array(frames.map { frame in
                switch frame {
                case .text(let buffer): return .string(String(buffer: buffer))
                case .binary(let buffer): return ["b": .string(Data(buffer.readableBytesView).base64EncodedString())]
                }
            })
        case .disconnect(let ns, let options, let close):
            o["k"] = "d"; o["ns"] = .string(ns); put(options); o["c"] = .bool(close)
        case .join(let ns, let options, let rooms):
            o["k"] = "j"; o["ns"] = .string(ns); put(options); o["to"] = .array(rooms.sorted().map(JSONValue.string))
        case .leave(let ns, let options, let rooms):
            o["k"] = "l"; o["ns"] = .string(ns); put(options); o["to"] = .array(rooms.sorted().map(JSONValue.string))
        case .fetch(let ns, let options, let id):
            o["k"] = "f"; o["ns"] = .string(ns); put(options); o["id"] = .string(id)
        case .fetchReply(let to, let id, let sockets):
            o["k"] = "fr"; o["to"] = .string(to); o["id"] = .string(id)
            o["s"] = .array(sockets.map { s in
                var item: [String: JSONValue] = ["id": .string(s.id), "r": .array(s.rooms.sorted().map(JSONValue.string))]
                if let data = s.data { item["d"] = Self.wrapBinary(data) }
                return .object(item)
            })
        case .serverSideEmit(let ns, let event, let arguments):
            o["k"] = "e"; o["ns"] = .string(ns); o["ev"] = .string(event); o["a"] = .array(arguments.map(Self.wrapBinary))
        }
        return JSONValue.object(o).jsonString
    }

    /// Parses the wire form; nil for anything malformed (logged by the caller, then dropped).
    init?(json text: String) {
        guard let value = try? JSONValue(parsing: text), let node = value["n"]?.stringValue, let kind = value["k"]?.stringValue else { return nil }
        func strings(_ key: String) -> Set<String> { Set(value[key]?.arrayValue?.compactMap(\.stringValue) ?? []) }
        let options = BroadcastOptions(rooms: strings("r"), except: strings("x"), volatile: value["v"]?.boolValue ?? false)
        let ns = value["ns"]?.stringValue ?? "/"
        self.node = node
        switch kind {
        case "b":
            var frames: [OutboundFrame] = []
            for frame in value["f"]?.arrayValue ?? [] {
                if let text = frame.stringValue {
                    frames.append(.text(ByteBuffer(string: text)))
                } else if let encoded = frame["b"]?.stringValue, let data = Data(base64Encoded: encoded) {
                    frames.append(.binary(ByteBuffer(bytes: data)))
                } else {
                    return nil
                }
            }
            guard !frames.isEmpty else { return nil }
            message = .broadcast(namespace: ns, options: options, frames: frames)
        case "d": message = .disconnect(namespace: ns, options: options, close: value["c"]?.boolValue ?? false)
        case "j": message = .join(namespace: ns, options: options, rooms: strings("to"))
        case "l": message = .leave(namespace: ns, options: options, rooms: strings("to"))
        case "f":
            guard let id = value["id"]?.stringValue else { return nil }
            message = .fetch(namespace: ns, options: options, requestID: id)
        case "fr":
            guard let to = value["to"]?.stringValue, let id = value["id"]?.stringValue else { return nil }
            let sockets = (value["s"]?.arrayValue ?? []).compactMap { item -> SocketSummary? in
                guard let sid = item["id"]?.stringValue else { return nil }
                return SocketSummary(
                    id: sid, rooms: Set(item["r"]?.arrayValue?.compactMap(\.stringValue) ?? []),
                    data: item["d"].map(Self.unwrapBinary), node: node
                )
            }
            message = .fetchReply(to: to, requestID: id, sockets: sockets)
        case "e":
            guard let event = value["ev"]?.stringValue else { return nil }
            message = .serverSideEmit(namespace: ns, event: event, arguments: (value["a"]?.arrayValue ?? []).map(Self.unwrapBinary))
        default:
            return nil
        }
    }

    init(node: String, message: ClusterMessage) {
        self.node = node
        self.message = message
    }

    private static func wrapBinary(_ value: JSONValue) -> JSONValue {
        switch value {
        case .binary(let bytes): return ["$b": .string(Data(bytes).base64EncodedString())]
        case .array(let items): return .array(items.map(wrapBinary))
        case .object(let fields): return .object(fields.mapValues(wrapBinary))
        default: return value
        }
    }

    private static func unwrapBinary(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let fields):
            if fields.count == 1, let encoded = fields["$b"]?.stringValue, let data = Data(base64Encoded: encoded) { return .binary(Array(data)) }
            return .object(fields.mapValues(unwrapBinary))
        case .array(let items): return .array(items.map(unwrapBinary))
        default: return value
        }
    }
}

/// A reference to a payload stored in `adapter_messages`: `{"n":node,"ref":id}`.
struct ClusterReference {
    var node: String
    var id: Int64

    var json: String { JSONValue.object(["n": .string(node), "ref": .number(Double(id))]).jsonString }

    init(node: String, id: Int64) {
        self.node = node
        self.id = id
    }

    init?(json text: String) {
        guard text.contains("\"ref\""), let value = try? JSONValue(parsing: text), let node = value["n"]?.stringValue,
              let id = value["ref"]?.intValue else { return nil }
        self.init(node: node, id: Int64(id))
    }
}
