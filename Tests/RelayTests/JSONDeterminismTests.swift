@testable import Relay
import Testing

/// Identical values are identical bytes: object keys are written in UTF-8 byte order by the
/// JSON writer and by the packet encoder (which writes attachments' placeholders itself).
@Suite struct JSONDeterminismTests {
    /// Twelve keys inserted in two different orders (and grown through different capacities),
    /// so the dictionaries' own iteration orders differ.
    static func object(reversed: Bool) -> JSONValue {
        var keys = ["message", "code", "fields", "id", "authorId", "body", "createdAt", "roomId", "ok", "Zeta", "é", "_x"]
        if reversed { keys.reverse() }
        var o: [String: JSONValue] = [:]
        for (i, k) in keys.enumerated() { o[k] = .number(Double(keys.count - i)) }
        return .object(o)
    }

    @Test func writerSortsKeysByBytes() {
        let text = JSONValue.object(["b": 1, "a": ["y": true, "x": nil], "B": "z", "é": 2, "e": 3]).jsonString
        #expect(text == #"{"B":"z","a":{"x":null,"y":true},"b":1,"e":3,"é":2}"#)
    }

    @Test func packetEncoderSortsKeysIncludingBinaryPayloads() throws {
        let packet = SocketPacket.event("m", [["z": .binary([1]), "a": 1, "m": ["q": 1, "b": 2]]])
        let encoded = SocketPacketEncoder.encodeFrames(packet)
        guard case .text(let text) = encoded.frames[0] else { Issue.record("no text frame"); return }
        #expect(String(buffer: text) == #"451-["m",{"a":1,"m":{"b":2,"q":1},"z":{"_placeholder":true,"num":0}}]"#)
    }

    @Test func sameValueSameBytesWhateverTheInsertionOrder() {
        let a = Self.object(reversed: false), b = Self.object(reversed: true)
        let rewritten = JSONValue.object(a.objectValue!.mapValues { _ in .null })
        let again = JSONValue.object(b.objectValue!.mapValues { _ in .null })
        #expect(rewritten.jsonString == again.jsonString)
        let frames = { (v: JSONValue) in SocketPacketEncoder.encodeFrames(.event("e", [v])).frames }
        #expect(frames(rewritten) == frames(again))
    }
}
