import Foundation
import Testing

@testable import Relay

@Suite struct JSONValueTests {
    @Test(arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("0", .number(0)),
        ("-12", .number(-12)),
        ("1.5", .number(1.5)),
        ("1e3", .number(1000)),
        (#""a\"b\\c\n\u00e9\ud83d\ude00""#, .string("a\"b\\c\né😀")),
        ("[1,\"2\",[true]]", .array([1, "2", [true]])),
        (#"{"3":[false]}"#, .object(["3": [false]])),
        (" [ 1 , 2 ] ", .array([1, 2])),
    ])
    func parses(text: String, expected: JSONValue) throws {
        #expect(try JSONValue(parsing: text) == expected)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\"}", "01", "1.", "-", "tru", "\"abc", "[1] x", "{\"a\":1,}", "\"\u{01}\"", "'a'", "NaN"])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    /// Keys that differ in their bytes but are canonically equivalent cannot both live in a
    /// `[String: JSONValue]`: refused instead of merged (JavaScript keeps both).
    @Test(arguments: [#"{"K":1,"\#u{212A}":2}"#, "{\"\u{E9}\":1,\"e\u{301}\":2}", #"{"a":{"K":1,"\u212A":2}}"#])
    func refusesCanonicallyEquivalentKeys(text: String) {
        #expect(throws: JSONParseError.self) { _ = try JSONValue(parsing: text) }
    }

    /// An exact duplicate keeps the last value, as `JSON.parse` does.
    @Test func exactDuplicateKeyKeepsTheLastValue() throws {
        #expect(try JSONValue(parsing: #"{"K":1,"K":2}"#) == ["K": 2])
    }

    @Test func rejectsDeepNesting() {
        let text = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func writesCompactJSONLikeJavaScript() {
        #expect(JSONValue.array([1, "2", .object(["3": [true]])]).jsonString == #"[1,"2",{"3":[true]}]"#)
        #expect(JSONValue.number(1.5).jsonString == "1.5")
        #expect(JSONValue.number(-0.25).jsonString == "-0.25")
        #expect(JSONValue.number(1e20).jsonString == "100000000000000000000" || JSONValue.number(1e20).jsonString == "1e+20")
        #expect(JSONValue.number(.nan).jsonString == "null")
        #expect(JSONValue.string("a/é\"\n\u{1}").jsonString == #""a/é\"\n\u0001""#)
    }

    @Test func roundTripsThroughText() throws {
        let value: JSONValue = ["a": [1, 2.5, "x", nil, true], "b": ["c": "d"]]
        #expect(try JSONValue(parsing: value.jsonString) == value)
    }

    struct Message: Codable, Equatable, Sendable {
        var id: Int
        var body: String
        var tags: [String]
    }

    @Test func bridgesCodable() throws {
        let message = Message(id: 7, body: "hi", tags: ["x"])
        let value = try JSONValue(encoding: message)
        #expect(value == ["id": 7, "body": "hi", "tags": ["x"]])
        #expect(try value.decode(as: Message.self) == message)
        #expect(throws: (any Error).self) { try JSONValue.string("nope").decode(as: Message.self) }
    }

    @Test func detectsBinary() {
        #expect(JSONValue.array([1, ["a": .binary([1])]]).containsBinary)
        #expect(!JSONValue.array([1, ["a": "b"]]).containsBinary)
    }
}
