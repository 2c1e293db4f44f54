import Testing

@testable import Relay

@Suite struct SocketPacketCodecTests {
    func encode(_ p: SocketPacket) -> String { SocketPacketEncoder.encode(p).text }

    @Test func encodesExactWireStrings() {
        #expect(encode(SocketPacket(.connect, data: ["sid": "abc"])) == #"0{"sid":"abc"}"#)
        #expect(encode(SocketPacket(.connect, namespace: "/admin", data: ["sid": "abc"])) == #"0/admin,{"sid":"abc"}"#)
        #expect(encode(SocketPacket(.disconnect, namespace: "/admin")) == "1/admin,")
        #expect(encode(SocketPacket(.disconnect)) == "1")
        #expect(encode(.event("hello", [1])) == #"2["hello",1]"#)
        #expect(encode(.event("hello", [1], namespace: "/admin", id: 456)) == #"2/admin,456["hello",1]"#)
        #expect(encode(.ack(["a"], id: 456, namespace: "/admin")) == #"3/admin,456["a"]"#)
        #expect(encode(SocketPacket(.connectError, namespace: "/random", data: ["message": "Invalid namespace"])) == #"4/random,{"message":"Invalid namespace"}"#)
    }

    @Test func extractsBinaryAsPlaceholders() {
        let (text, attachments) = SocketPacketEncoder.encode(.event("message-back", [.binary([1, 2, 3]), .binary([4, 5, 6])]))
        #expect(text == #"52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        #expect(attachments == [[1, 2, 3], [4, 5, 6]])
        let ack = SocketPacketEncoder.encode(.ack([.binary([1]), .binary([2])], id: 789))
        #expect(ack.text == #"62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        let ns = SocketPacketEncoder.encode(.event("e", [.binary([1])], namespace: "/admin", id: 7))
        #expect(ns.text == #"51-/admin,7["e",{"_placeholder":true,"num":0}]"#)
    }

    @Test func encodesEngineFramesOnce() {
        let encoded = SocketPacketEncoder.encodeFrames(.event("e", [.binary([9])]))
        #expect(encoded.frames.count == 2)
        guard case .text(let text) = encoded.frames[0], case .binary(let bin) = encoded.frames[1] else {
            Issue.record("wrong frames")
            return
        }
        #expect(String(buffer: text) == #"451-["e",{"_placeholder":true,"num":0}]"#)
        #expect(Array(bin.readableBytesView) == [9])
    }

    @Test func decodesPackets() throws {
        var d = SocketPacketDecoder()
        do { let r = try d.decode(text: "0"); #expect(r == SocketPacket(.connect)) }
        do { let r = try d.decode(text: #"0{"token":"123"}"#); #expect(r == SocketPacket(.connect, data: ["token": "123"])) }
        do { let r = try d.decode(text: "0/custom,"); #expect(r == SocketPacket(.connect, namespace: "/custom")) }
        do { let r = try d.decode(text: "0/random"); #expect(r == SocketPacket(.connect, namespace: "/random")) }
        do { let r = try d.decode(text: #"0/custom,{"token":"abc"}"#); #expect(r == SocketPacket(.connect, namespace: "/custom", data: ["token": "abc"])) }
        do { let r = try d.decode(text: "1/custom"); #expect(r == SocketPacket(.disconnect, namespace: "/custom")) }
        do { let r = try d.decode(text: #"2["message",1,"2",{"3":[true]}]"#); #expect(r == .event("message", [1, "2", ["3": [true]]])) }
        do { let r = try d.decode(text: #"2456["m"]"#); #expect(r == .event("m", [], id: 456)) }
        do { let r = try d.decode(text: #"2/admin,456["m"]"#); #expect(r == .event("m", [], namespace: "/admin", id: 456)) }
        do { let r = try d.decode(text: #"3/admin,456["a"]"#); #expect(r == .ack(["a"], id: 456, namespace: "/admin")) }
    }

    @Test func reassemblesBinaryPackets() throws {
        var d = SocketPacketDecoder()
        do { let r = try d.decode(text: #"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#); #expect(r == nil) }
        #expect(d.isAwaitingAttachments)
        do { let r = try d.decode(binary: [1, 2, 3]); #expect(r == nil) }
        do { let r = try d.decode(binary: [4, 5, 6]); #expect(r == SocketPacket(.binaryEvent, data: ["message", .binary([1, 2, 3]), .binary([4, 5, 6])])) }
        #expect(!d.isAwaitingAttachments)
        do { let r = try d.decode(text: #"61-789[{"_placeholder":true,"num":0}]"#); #expect(r == nil) }
        let ack = try d.decode(binary: [7])
        #expect(ack == SocketPacket(.binaryAck, id: 789, data: [.binary([7])]))
    }

    /// An ACK without an id decodes (Node's parser accepts it; the socket then ignores it).
    @Test func ackWithoutIDDecodes() throws {
        var d = SocketPacketDecoder()
        #expect(try d.decode(text: "3[1]") == SocketPacket(.ack, data: [1]))
        #expect(try d.decode(text: "3[]") == SocketPacket(.ack, data: []))
    }

    @Test(arguments: [
        "", "7", "abc", "2{}", "2[]", "2[1.5x", #"2abc["message-with-ack",1]"#, "3{}", "1{}",
        #"2["connect"]"#, "0[]", "0\"x\"", "5-[\"a\"]", "5x-[\"a\"]", "5999-[\"a\"]", "4", "2[\"a\"", "2/ns,abc",
    ])
    func rejectsMalformedPackets(text: String) {
        let d = SocketPacketDecoder()
        #expect(throws: SocketDecodingError.self) { var d = d; _ = try d.decode(text: text) }
    }

    /// Node's socket.io-parser reads an ack id as `Number(digits)`: any length, exact up to
    /// 2^53 − 1, rounded to the nearest double above it.
    @Test(arguments: [
        ("1234567890123456", 1_234_567_890_123_456),  // 16 digits (closed the connection before)
        ("9007199254740991", 9_007_199_254_740_991),  // Number.MAX_SAFE_INTEGER
        ("0009007199254740991", 9_007_199_254_740_991),  // leading zeros
        ("9007199254740993", 9_007_199_254_740_992),  // 2^53 + 1 rounds to 2^53, as in JavaScript
        ("1234567890123456789", 1_234_567_890_123_456_768),  // 19 digits: the nearest double
        ("0", 0),
    ])
    func ackIDsAsNodeReadsThem(digits: String, id: Int) throws {
        var d = SocketPacketDecoder()
        #expect(try d.decode(text: #"2\#(digits)["m"]"#) == .event("m", [], id: id))
        #expect(try d.decode(text: #"3/admin,\#(digits)[]"#) == .ack([], id: id, namespace: "/admin"))
        #expect(SocketPacketEncoder.encode(.ack([], id: id)).text == "3\(id)[]")
    }

    /// Ids whose rounded value does not fit an Int (Node would answer `1e+21`, which no client
    /// can match): refused as a protocol error.
    @Test(arguments: ["9223372036854775807", "99999999999999999999", String(repeating: "9", count: 400)])
    func refusesAckIDsBeyondInt(digits: String) {
        var d = SocketPacketDecoder()
        #expect(throws: SocketDecodingError.badAckID) { _ = try d.decode(text: #"2\#(digits)["m"]"#) }
    }

    @Test func rejectsBinaryWithoutHeaderAndTextWhileWaiting() throws {
        var d = SocketPacketDecoder()
        #expect(throws: SocketDecodingError.unexpectedBinary) { var d = d; _ = try d.decode(binary: [1]) }
        _ = try d.decode(text: #"51-["m",{"_placeholder":true,"num":0}]"#)
        #expect(throws: SocketDecodingError.unexpectedText) { var d = d; _ = try d.decode(text: #"2["m"]"#) }
    }

    @Test func rejectsPlaceholderOutOfRange() throws {
        var d = SocketPacketDecoder()
        _ = try d.decode(text: #"51-["m",{"_placeholder":true,"num":5}]"#)
        #expect(throws: SocketDecodingError.badPlaceholder) { var d = d; _ = try d.decode(binary: [1]) }
    }
}
