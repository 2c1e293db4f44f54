import NIOCore

/// Engine.IO v4 packet types (the first character of every packet).
public enum EnginePacketType: UInt8, Sendable, Hashable, CaseIterable {
    case open = 0, close, ping, pong, message, upgrade, noop

    var character: UInt8 { UInt8(ascii: "0") + rawValue }

    init?(character: UInt8) {
        guard character >= UInt8(ascii: "0") else { return nil }
        self.init(rawValue: character - UInt8(ascii: "0"))
    }
}

/// The data carried by an Engine.IO message: text, or raw bytes.
public enum EngineData: Sendable, Hashable {
    case text(String)
    case binary(ByteBuffer)
}

/// One Engine.IO packet.
public struct EnginePacket: Sendable, Hashable {
    public var type: EnginePacketType
    /// Text after the type character (or binary for binary messages). `nil` when there is none.
    public var data: EngineData?

    public init(_ type: EnginePacketType, _ data: EngineData? = nil) {
        self.type = type
        self.data = data
    }

    public static let ping = EnginePacket(.ping)
    public static let pong = EnginePacket(.pong)
    public static let noop = EnginePacket(.noop)
    public static let close = EnginePacket(.close)
    public static let upgrade = EnginePacket(.upgrade)
    public static let probePing = EnginePacket(.ping, .text("probe"))
    public static let probePong = EnginePacket(.pong, .text("probe"))
    public static func message(_ text: String) -> EnginePacket { EnginePacket(.message, .text(text)) }
    public static func message(_ bytes: ByteBuffer) -> EnginePacket { EnginePacket(.message, .binary(bytes)) }
}

/// Malformed Engine.IO input.
public struct EngineDecodingError: Error, Hashable, Sendable {
    public let reason: String
}

/// Encoding and decoding of single packets (WebSocket frames) and of `\u{1e}`-separated
/// HTTP long-polling payloads.
public enum EngineCodec {
    public static let recordSeparator: UInt8 = 0x1E

    /// Decodes a WebSocket text frame.
    public static func decode(text: String) throws -> EnginePacket {
        var text = text
        return try text.withUTF8 { (bytes) throws -> EnginePacket in
            try decodeText(bytes[...])
        }
    }

    /// Decodes a WebSocket binary frame: always a binary message.
    public static func decode(binary: ByteBuffer) -> EnginePacket {
        EnginePacket(.message, .binary(binary))
    }

    static func decodeText(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) throws -> EnginePacket {
        guard let first = bytes.first else { throw EngineDecodingError(reason: "empty packet") }
        guard let type = EnginePacketType(character: first) else { throw EngineDecodingError(reason: "unknown packet type") }
        let rest = bytes.dropFirst()
        if rest.isEmpty {
            return EnginePacket(type, type == .message ? .text("") : nil)
        }
        return EnginePacket(type, .text(String(decoding: UnsafeBufferPointer(rebasing: rest), as: UTF8.self)))
    }

    /// Decodes an HTTP long-polling payload (packets separated by `\u{1e}`; `b` prefix = base64 binary).
    public static func decodePayload(_ buffer: ByteBuffer) throws -> [EnginePacket] {
        try buffer.readableBytesView.withContiguousStorageIfAvailable { (bytes) throws -> [EnginePacket] in
            try decodePayload(bytes)
        } ?? decodePayload(Array(buffer.readableBytesView))
    }

    public static func decodePayload(_ text: String) throws -> [EnginePacket] {
        try decodePayload(Array(text.utf8))
    }

    static func decodePayload(_ array: [UInt8]) throws -> [EnginePacket] {
        try array.withUnsafeBufferPointer { (bytes) throws -> [EnginePacket] in try decodePayload(bytes) }
    }

    static func decodePayload(_ bytes: UnsafeBufferPointer<UInt8>) throws -> [EnginePacket] {
        var packets: [EnginePacket] = []
        var start = 0
        while true {
            var end = start
            while end < bytes.count, bytes[end] != recordSeparator { end += 1 }
            let part = bytes[start..<end]
            if part.first == UInt8(ascii: "b") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: part.dropFirst()), as: UTF8.self)
                guard let decoded = Base64.decode(text[...]) else { throw EngineDecodingError(reason: "invalid base64") }
                packets.append(EnginePacket(.message, .binary(ByteBuffer(bytes: decoded))))
            } else {
                packets.append(try decodeText(part))
            }
            if end >= bytes.count { break }
            start = end + 1
        }
        return packets
    }

    /// Encodes a packet as a WebSocket frame payload: text for everything but binary messages.
    public static func encode(_ packet: EnginePacket) -> EngineData {
        switch packet.data {
        case .binary(let buffer): return .binary(buffer)
        case .text(let text): return .text(String(UnicodeScalar(packet.type.character)) + text)
        case nil: return .text(String(UnicodeScalar(packet.type.character)))
        }
    }

    /// Encodes packets as an HTTP long-polling payload.
    public static func encodePayload(_ packets: [EnginePacket]) -> ByteBuffer {
        var out = ByteBuffer()
        for (i, packet) in packets.enumerated() {
            if i > 0 { out.writeInteger(recordSeparator) }
            switch packet.data {
            case .binary(let buffer):
                out.writeInteger(UInt8(ascii: "b"))
                out.writeString(Base64.encode(buffer.readableBytesView))
            case .text(let text):
                out.writeInteger(packet.type.character)
                out.writeString(text)
            case nil:
                out.writeInteger(packet.type.character)
            }
        }
        return out
    }
}

/// A pre-encoded outbound Engine.IO packet as queued on a connection. Text frames include the
/// packet type character; buffers are shared (copy-on-write) between all recipients of a broadcast.
public enum OutboundFrame: Sendable, Hashable {
    case text(ByteBuffer)
    case binary(ByteBuffer)

    init(_ packet: EnginePacket) {
        switch packet.data {
        case .binary(let b): self = .binary(b)
        case .text(let t):
            var buf = ByteBuffer()
            buf.reserveCapacity(t.utf8.count + 1)
            buf.writeInteger(packet.type.character)
            buf.writeString(t)
            self = .text(buf)
        case nil:
            self = .text(ByteBuffer(integer: packet.type.character))
        }
    }

    var byteCount: Int {
        switch self {
        case .text(let b), .binary(let b): return b.readableBytes
        }
    }

    /// Appends this frame to a polling payload.
    func append(toPayload out: inout ByteBuffer) {
        switch self {
        case .text(let b): out.writeImmutableBuffer(b)
        case .binary(let b):
            out.writeInteger(UInt8(ascii: "b"))
            out.writeString(Base64.encode(b.readableBytesView))
        }
    }

    static func payload(_ frames: some Collection<OutboundFrame>) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(frames.reduce(0) { $0 + $1.byteCount + 1 })
        var first = true
        for f in frames {
            if !first { out.writeInteger(EngineCodec.recordSeparator) }
            first = false
            f.append(toPayload: &out)
        }
        return out
    }
}
