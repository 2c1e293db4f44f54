import Foundation
import Testing

@testable import Relay

/// `JSONValue(encoding:)` builds the value directly (``JSONValueEncoder``); it must give what
/// `JSONEncoder` writes, parsed back, for every shape a synthesized or hand-written conformance produces.
@Suite struct JSONValueEncoderTests {
    struct Author: Codable, Equatable { var id: Int64; var username: String; var guest: Bool? }
    enum Kind: String, Codable { case `public`, direct }
    struct Message: Codable, Equatable {
        var id: Int64
        var body: String
        var score: Double
        var ratio: Float
        var small: Int8
        var big: UInt64
        var kind: Kind
        var tags: [String]
        var nested: [[Int]]
        var counts: [String: Int]
        var byID: [Int: String]
        var author: Author?
        var missing: String?
        var at: Date
        var blob: Data
        var link: URL
        var amount: Decimal
        var raw: JSONValue
    }

    /// Encodes some fields by hand: explicit nil, nested keyed and unkeyed containers, a super encoder.
    struct Manual: Encodable {
        enum Keys: String, CodingKey { case a, b, c, d, `super` }
        func encode(to encoder: any Encoder) throws {
            var keyed = encoder.container(keyedBy: Keys.self)
            try keyed.encodeNil(forKey: .a)
            var inner = keyed.nestedContainer(keyedBy: Keys.self, forKey: .b)
            try inner.encode(true, forKey: .a)
            var list = keyed.nestedUnkeyedContainer(forKey: .c)
            try list.encode(1.5)
            try list.encodeNil()
            var deeper = list.nestedContainer(keyedBy: Keys.self)
            try deeper.encode("x", forKey: .d)
            var sub = list.nestedUnkeyedContainer()
            try sub.encode(UInt16(7))
            try "s".encode(to: keyed.superEncoder())
            try [3].encode(to: keyed.superEncoder(forKey: .d))
        }
    }

    struct Empty: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    static func viaFoundation(_ value: some Encodable) throws -> JSONValue {
        try JSONValue(parsing: String(decoding: try JSONEncoder().encode(value), as: UTF8.self))
    }

    @Test("the same value as JSONEncoder's output parsed back")
    func parity() throws {
        let message = Message(
            id: 9_007_199_254_740_993, body: "hi \"there\"\n/é😀", score: -0.1, ratio: 0.1, small: -8, big: .max, kind: .direct,
            tags: ["a", ""], nested: [[1, 2], []], counts: ["x": 1], byID: [3: "c"],
            author: Author(id: 3, username: "ann", guest: nil), missing: nil,
            at: Date(timeIntervalSince1970: 1_764_000_000.25), blob: Data([0, 1, 255]), link: URL(string: "https://example.com/a?b=c")!,
            amount: Decimal(string: "12.5")!, raw: ["k": [1, "v", .null, true]]
        )
        #expect(try JSONValue(encoding: message) == (try Self.viaFoundation(message)))
        #expect(try JSONValue(encoding: Manual()) == (try Self.viaFoundation(Manual())))
        for value in [[1, 2], [], [-3]] as [[Int]] {
            #expect(try JSONValue(encoding: value) == (try Self.viaFoundation(value)))
        }
        #expect(try JSONValue(encoding: "top") == .string("top"))
        #expect(try JSONValue(encoding: Optional<Int>.none) == .null)
        #expect(try JSONValue(encoding: Empty()) == .object([:]))
    }

    @Test("a nested binary value goes through its Encodable conformance (base64), as through JSONEncoder")
    func nestedBinary() throws {
        struct Holder: Encodable { var value: JSONValue }
        let holder = Holder(value: ["b": .binary([1, 2, 3])])
        #expect(try JSONValue(encoding: holder) == (try Self.viaFoundation(holder)))
        #expect(try JSONValue(encoding: holder) == ["value": ["b": "AQID"]])
    }

    @Test("NaN and infinities throw, as JSONEncoder's default strategy does")
    func nonConforming() {
        struct Holder: Encodable { var value: Double }
        #expect(throws: EncodingError.self) { try JSONValue(encoding: Holder(value: .nan)) }
        #expect(throws: EncodingError.self) { try JSONValue(encoding: [Float.infinity]) }
    }
}
