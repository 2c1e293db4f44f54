import NIOCore
import Testing

@testable import Relay

@Suite struct EngineCodecTests {
    @Test func decodesEveryPacketType() throws {
        #expect(try EngineCodec.decode(text: "0{\"sid\":\"x\"}") == EnginePacket(.open, .text("{\"sid\":\"x\"}")))
        #expect(try EngineCodec.decode(text: "1") == .close)
        #expect(try EngineCodec.decode(text: "2") == .ping)
        #expect(try EngineCodec.decode(text: "2probe") == .probePing)
        #expect(try EngineCodec.decode(text: "3") == .pong)
        #expect(try EngineCodec.decode(text: "3probe") == .probePong)
        #expect(try EngineCodec.decode(text: "4hello") == .message("hello"))
        #expect(try EngineCodec.decode(text: "4") == .message(""))
        #expect(try EngineCodec.decode(text: "5") == .upgrade)
        #expect(try EngineCodec.decode(text: "6") == .noop)
        #expect(EngineCodec.decode(binary: ByteBuffer(bytes: [1, 2])) == .message(ByteBuffer(bytes: [1, 2])))
    }

    @Test(arguments: ["", "7", "abc", "x4", "/"])
    func rejectsBadPackets(text: String) {
        #expect(throws: EngineDecodingError.self) { try EngineCodec.decode(text: text) }
    }

    @Test func encodesPacketsForWebSocket() {
        #expect(EngineCodec.encode(.message("hello")) == .text("4hello"))
        #expect(EngineCodec.encode(.ping) == .text("2"))
        #expect(EngineCodec.encode(.probePong) == .text("3probe"))
        #expect(EngineCodec.encode(.message(ByteBuffer(bytes: [1, 2, 3]))) == .binary(ByteBuffer(bytes: [1, 2, 3])))
    }

    @Test func decodesPollingPayloads() throws {
        #expect(try EngineCodec.decodePayload("4hello") == [.message("hello")])
        #expect(try EngineCodec.decodePayload("4test1\u{1e}4test2\u{1e}4test3") == [.message("test1"), .message("test2"), .message("test3")])
        #expect(try EngineCodec.decodePayload("4hello\u{1e}bAQIDBA==") == [.message("hello"), .message(ByteBuffer(bytes: [1, 2, 3, 4]))])
        #expect(try EngineCodec.decodePayload(ByteBuffer(string: "2\u{1e}3")) == [.ping, .pong])
    }

    @Test(arguments: ["abc", "4a\u{1e}", "\u{1e}4a", "b!!notbase64", "4a\u{1e}\u{1e}4b", ""])
    func rejectsBadPayloads(text: String) {
        #expect(throws: EngineDecodingError.self) { try EngineCodec.decodePayload(text) }
    }

    @Test func encodesPollingPayloadsByteForByte() {
        let payload = EngineCodec.encodePayload([.message("hello"), .message(ByteBuffer(bytes: [1, 2, 3, 4])), .ping])
        #expect(String(buffer: payload) == "4hello\u{1e}bAQIDBA==\u{1e}2")
        let frames = [OutboundFrame(.message("a")), OutboundFrame(.message(ByteBuffer(bytes: [1, 2, 3, 4]))), OutboundFrame(.noop)]
        #expect(String(buffer: OutboundFrame.payload(frames)) == "4a\u{1e}bAQIDBA==\u{1e}6")
    }

    @Test func handshakeIsNodeShaped() {
        let error = EngineHTTPError.unknownTransport
        #expect(error.body == #"{"code":0,"message":"Transport unknown"}"#)
        #expect(EngineHTTPError.unknownSid.body == #"{"code":1,"message":"Session ID unknown"}"#)
        #expect(EngineHTTPError.badHandshakeMethod.body == #"{"code":2,"message":"Bad handshake method"}"#)
        #expect(EngineHTTPError.badRequest.body == #"{"code":3,"message":"Bad request"}"#)
        #expect(EngineHTTPError.forbidden.body == #"{"code":4,"message":"Forbidden"}"#)
        #expect(EngineHTTPError.forbidden.status == .forbidden)
        #expect(EngineHTTPError.unsupportedProtocolVersion.body == #"{"code":5,"message":"Unsupported protocol version"}"#)
    }
}
