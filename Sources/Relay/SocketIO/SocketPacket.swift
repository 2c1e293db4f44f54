import NIOCore

/// Socket.IO v5 packet types.
public enum SocketPacketType: UInt8, Sendable, Hashable, CaseIterable {
    case connect = 0, disconnect, event, ack, connectError, binaryEvent, binaryAck
}

/// One Socket.IO packet, with binary attachments already put back in place (`.binary` values).
public struct SocketPacket: Sendable, Hashable {
    public var type: SocketPacketType
    public var namespace: String
    public var id: Int?
    public var data: JSONValue?

    public init(_ type: SocketPacketType, namespace: String = "/", id: Int? = nil, data: JSONValue? = nil) {
        self.type = type
        self.namespace = namespace
        self.id = id
        self.data = data
    }

    public static func event(_ name: String, _ args: [JSONValue], namespace: String = "/", id: Int? = nil) -> SocketPacket {
        SocketPacket(.event, namespace: namespace, id: id, data: .array([.string(name)] + args))
    }

    public static func ack(_ args: [JSONValue], id: Int, namespace: String = "/") -> SocketPacket {
        SocketPacket(.ack, namespace: namespace, id: id, data: .array(args))
    }

    /// For an event: its name and arguments.
    public var eventNameAndArgs: (String, [JSONValue])? {
        guard case .array(let a) = data, case .string(let name)? = a.first else { return nil }
        return (name, Array(a.dropFirst()))
    }
}

/// Malformed Socket.IO input. A struct over a private enum, so cases can be added.
public struct SocketDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case empty, unknownType, badAttachmentCount, tooManyAttachments, badNamespace, badAckID
        case invalidJSON, invalidPayload, unexpectedBinary, unexpectedText, badPlaceholder
    }
    let kind: Kind
    public var description: String { "invalid Socket.IO packet (\(kind))" }
    /// A short stable name of the fault (for logs), e.g. `badAckID`.
    public var code: String { "\(kind)" }

    public static let empty = SocketDecodingError(kind: .empty)
    public static let unknownType = SocketDecodingError(kind: .unknownType)
    public static let badAttachmentCount = SocketDecodingError(kind: .badAttachmentCount)
    public static let tooManyAttachments = SocketDecodingError(kind: .tooManyAttachments)
    public static let badNamespace = SocketDecodingError(kind: .badNamespace)
    public static let badAckID = SocketDecodingError(kind: .badAckID)
    public static let invalidJSON = SocketDecodingError(kind: .invalidJSON)
    public static let invalidPayload = SocketDecodingError(kind: .invalidPayload)
    public static let unexpectedBinary = SocketDecodingError(kind: .unexpectedBinary)
    public static let unexpectedText = SocketDecodingError(kind: .unexpectedText)
    public static let badPlaceholder = SocketDecodingError(kind: .badPlaceholder)
}

/// A packet encoded once, ready to be queued on any number of connections: the Engine.IO
/// message frame (text, `4` prefix included) followed by binary attachments.
public struct EncodedPacket: Sendable, Hashable {
    public let frames: [OutboundFrame]
    /// For a logged event (connection state recovery): its offset, also the packet's last
    /// argument. Local delivery then holds it for a socket still replaying missed events.
    public let offset: UInt64?

    public init(frames: [OutboundFrame], offset: UInt64? = nil) {
        self.frames = frames
        self.offset = offset
    }
}

/// Encodes Socket.IO packets (compact JSON, binary values extracted as placeholders).
public enum SocketPacketEncoder {
    /// Compared by bytes, as Node's parser does (`RESERVED_EVENTS.indexOf`).
    static let reservedEvents = Set(
        ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"].map(ProtocolName.init)
    )

    /// The Socket.IO text and attachments, as on the wire.
    public static func encode(_ packet: SocketPacket) -> (text: String, attachments: [[UInt8]]) {
        var out: [UInt8] = []
        let attachments = write(packet, into: &out)
        return (String(decoding: out, as: UTF8.self), attachments)
    }

    /// Encodes as Engine.IO frames (the message's `4` included), sharable between recipients.
    public static func encodeFrames(_ packet: SocketPacket) -> EncodedPacket {
        var out: [UInt8] = [EnginePacketType.message.character]
        let attachments = write(packet, into: &out)
        var frames = [OutboundFrame.text(ByteBuffer(bytes: out))]
        for a in attachments { frames.append(.binary(ByteBuffer(bytes: a))) }
        return EncodedPacket(frames: frames)
    }

    static func write(_ packet: SocketPacket, into out: inout [UInt8]) -> [[UInt8]] {
        var attachments: [[UInt8]] = []
        var body: [UInt8] = []
        if let data = packet.data {
            writeJSON(data, into: &body, attachments: &attachments)
        }
        var type = packet.type
        if !attachments.isEmpty {
            if type == .event { type = .binaryEvent }
            if type == .ack { type = .binaryAck }
        }
        out.append(UInt8(ascii: "0") + type.rawValue)
        if type == .binaryEvent || type == .binaryAck {
            out.append(contentsOf: String(attachments.count).utf8)
            out.append(UInt8(ascii: "-"))
        }
        if packet.namespace != "/" && !packet.namespace.isEmpty {
            out.append(contentsOf: packet.namespace.utf8)
            out.append(UInt8(ascii: ","))
        }
        if let id = packet.id { out.append(contentsOf: String(id).utf8) }
        out.append(contentsOf: body)
        return attachments
    }

    /// JSON with `.binary` values replaced by `{"_placeholder":true,"num":N}`.
    static func writeJSON(_ value: JSONValue, into out: inout [UInt8], attachments: inout [[UInt8]]) {
        switch value {
        case .binary(let bytes):
            out.append(contentsOf: #"{"_placeholder":true,"num":"#.utf8)
            out.append(contentsOf: String(attachments.count).utf8)
            out.append(UInt8(ascii: "}"))
            attachments.append(bytes)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeJSON(v, into: &out, attachments: &attachments)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (k, v) in JSONWriter.members(of: o) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONWriter.writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                writeJSON(v, into: &out, attachments: &attachments)
            }
            out.append(UInt8(ascii: "}"))
        default:
            JSONWriter.write(value, into: &out)
        }
    }
}

/// Decodes Socket.IO packets, reassembling binary packets from their attachments.
///
/// A state machine: a binary packet's header returns nil until all its attachments arrived.
public struct SocketPacketDecoder: Sendable {
    public static let maxAttachments = 256

    private var pending: (packet: SocketPacket, expected: Int, attachments: [[UInt8]])?

    public init() {}

    public var isAwaitingAttachments: Bool { pending != nil }

    /// Decodes a text message. Returns nil while a binary packet waits for its attachments.
    public mutating func decode(text: String) throws(SocketDecodingError) -> SocketPacket? {
        guard pending == nil else { throw .unexpectedText }
        var text = text
        let result = text.withUTF8 { bytes in Result { () throws(SocketDecodingError) in try Self.parse(bytes) } }
        let (packet, attachments) = try result.get()
        if attachments > 0 {
            pending = (packet, attachments, [])
            return nil
        }
        return packet
    }

    /// Decodes a binary message (an attachment of the pending packet).
    public mutating func decode(binary: [UInt8]) throws(SocketDecodingError) -> SocketPacket? {
        guard var p = pending else { throw .unexpectedBinary }
        p.attachments.append(binary)
        if p.attachments.count < p.expected {
            pending = p
            return nil
        }
        pending = nil
        var packet = p.packet
        if let data = packet.data {
            packet.data = try Self.reconstruct(data, attachments: p.attachments)
        }
        return packet
    }

    static func reconstruct(_ value: JSONValue, attachments: [[UInt8]]) throws(SocketDecodingError) -> JSONValue {
        switch value {
        case .object(let o):
            if o["_placeholder"] == .bool(true), let num = o["num"] {
                guard let n = num.intValue, n >= 0, n < attachments.count else { throw .badPlaceholder }
                return .binary(attachments[n])
            }
            var result: [String: JSONValue] = [:]
            result.reserveCapacity(o.count)
            for (k, v) in o { result[k] = try reconstruct(v, attachments: attachments) }
            return .object(result)
        case .array(let a):
            var result: [JSONValue] = []
            result.reserveCapacity(a.count)
            for v in a { result.append(try reconstruct(v, attachments: attachments)) }
            return .array(result)
        default:
            return value
        }
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(SocketDecodingError) -> (SocketPacket, Int) {
        guard let first = bytes.first else { throw .empty }
        guard isDigit(first), let type = SocketPacketType(rawValue: first - UInt8(ascii: "0")) else { throw .unknownType }
        var i = 1
        var attachments = 0
        if type == .binaryEvent || type == .binaryAck {
            let start = i
            while i < bytes.count, isDigit(bytes[i]), i - start < 4 { i += 1 }
            guard i > start, i < bytes.count, bytes[i] == UInt8(ascii: "-") else { throw .badAttachmentCount }
            attachments = Int(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)) ?? -1
            guard attachments >= 0 else { throw .badAttachmentCount }
            guard attachments <= maxAttachments else { throw .tooManyAttachments }
            i += 1
        }
        var namespace = "/"
        if i < bytes.count, bytes[i] == UInt8(ascii: "/") {
            let start = i
            while i < bytes.count, bytes[i] != UInt8(ascii: ",") { i += 1 }
            namespace = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            if i < bytes.count { i += 1 }  // the comma
        }
        var id: Int?
        if i < bytes.count, isDigit(bytes[i]) {
            let start = i
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
            id = try ackID(UnsafeBufferPointer(rebasing: bytes[start..<i]))
        }
        var data: JSONValue?
        if i < bytes.count {
            do {
                data = try JSONParser.parse(UnsafeBufferPointer(rebasing: bytes[i...]))
            } catch {
                throw .invalidJSON
            }
        }
        let packet = SocketPacket(type, namespace: namespace, id: id, data: data)
        guard isValid(packet) else { throw .invalidPayload }
        return (packet, attachments)
    }

    /// The largest ack id taken exactly: 2^53 − 1, JavaScript's `Number.MAX_SAFE_INTEGER`.
    public static let maxExactAckID = 9_007_199_254_740_991

    /// An ack id's digits as Node's socket.io-parser reads them (`Number(digits)`, any number of
    /// digits): exact up to ``maxExactAckID``; above it, rounded to the nearest double as
    /// JavaScript does, so the ack answers the same (rounded) id Node's server would. An id whose
    /// rounded value does not fit an `Int` (20 digits or more, ≥ 2^63) throws `badAckID`: Node
    /// would answer with an id such as `1e+21` that no client can match.
    static func ackID(_ digits: UnsafeBufferPointer<UInt8>) throws(SocketDecodingError) -> Int {
        var start = digits.startIndex
        // leading zeros do not change the value (`Number("007")` is 7)
        while start < digits.endIndex - 1, digits[start] == UInt8(ascii: "0") { start += 1 }
        let significant = UnsafeBufferPointer(rebasing: digits[start...])
        if significant.count <= 15 {
            var value = 0
            for d in significant { value = value * 10 + Int(d - UInt8(ascii: "0")) }
            return value
        }
        let text = String(decoding: significant, as: UTF8.self)
        if let exact = Int(text), exact <= maxExactAckID { return exact }
        guard significant.count <= 19, let rounded = Double(text), rounded < 9.223372036854775807e18 else { throw .badAckID }
        return Int(rounded)
    }

    /// The payload rules of the Socket.IO v5 spec (as Node's parser checks them).
    static func isValid(_ packet: SocketPacket) -> Bool {
        switch packet.type {
        case .connect:
            if let d = packet.data, d.objectValue == nil { return false }
            return true
        case .disconnect:
            return packet.data == nil
        case .connectError:
            guard let d = packet.data else { return false }
            return d.objectValue != nil || d.stringValue != nil
        case .event, .binaryEvent:
            guard case .array(let a)? = packet.data, let first = a.first else { return false }
            if case .string(let name) = first { return !SocketPacketEncoder.reservedEvents.contains(ProtocolName(name)) }
            if case .number = first { return true }
            return false
        case .ack, .binaryAck:
            // An ack without an id is valid, as in Node's socket.io-parser (`isPayloadValid` checks
            // only that the payload is an array); the socket ignores it, as Node's `onack` does.
            guard case .array? = packet.data else { return false }
            return true
        }
    }
}
