import Foundation
import Models
import Testing

/// The error catalogue (``ErrorCode``), docs/openapi.yaml and docs/PROTOCOL.md name the same
/// codes: a code added, renamed or dropped in one of the three and not the others fails here.
@Suite("Error catalogue")
struct ErrorCatalogueDocsTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs")

    static func read(_ name: String) throws -> String {
        try String(contentsOf: docs.appendingPathComponent(name), encoding: .utf8)
    }

    /// The tokens in backticks of `text` that are spelled like a code (`snake_case`, or one
    /// lowercase word); wildcards such as `email_token_*` are not codes.
    static func codeTokens(in text: Substring) -> [String] {
        text.split(separator: "`", omittingEmptySubsequences: false).enumerated()
            .filter { $0.offset % 2 == 1 }
            .map(\.element)
            .filter { $0.range(of: #"^[a-z]+(_[a-z0-9]+)*$"#, options: .regularExpression) != nil }
            .map(String.init)
    }

    static func codes(_ surface: ErrorCode.Surfaces) -> Set<String> {
        Set(ErrorCode.all.filter { $0.surfaces.contains(surface) }.map(\.rawValue))
    }

    @Test("each code is listed once, spelled snake_case, and round-trips as its string")
    func catalogue() throws {
        let raw = ErrorCode.all.map(\.rawValue)
        #expect(Set(raw).count == raw.count)
        #expect(raw.allSatisfy { $0.range(of: #"^[a-z]+(_[a-z0-9]+)*$"#, options: .regularExpression) != nil })
        for code in ErrorCode.all {
            #expect(ErrorCode(rawValue: code.rawValue) == code)
            #expect((400...599).contains(code.httpStatus))
            #expect(!code.surfaces.isEmpty)
        }
        #expect(ErrorCode(rawValue: "no_such_code") == nil)
        let body = ErrorBody(.notAMember, message: "m")
        let json = String(decoding: try JSONEncoder().encode(body), as: UTF8.self)
        #expect(json.contains(#""code":"not_a_member""#) && !json.contains("fields"))
        #expect(try JSONDecoder().decode(ErrorBody.self, from: Data(json.utf8)) == body)
    }

    /// The `enum` of the Error schema's `code` in docs/openapi.yaml.
    static func openAPICodeEnum(_ spec: String) throws -> [String] {
        let schema = try #require(spec.range(of: "\n    Error:\n"))
        let code = try #require(spec.range(of: "code:\n", range: schema.upperBound..<spec.endIndex))
        let open = try #require(spec.range(of: "enum: [", range: code.upperBound..<spec.endIndex))
        let close = try #require(spec.range(of: "]", range: open.upperBound..<spec.endIndex))
        return spec[open.upperBound..<close.lowerBound]
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    @Test("openapi.yaml: the Error schema's code enum is exactly the REST codes of the catalogue")
    func openAPIEnum() throws {
        let listed = try Self.openAPICodeEnum(try Self.read("openapi.yaml"))
        #expect(Set(listed).count == listed.count, "a code is listed twice")
        #expect(Set(listed).subtracting(Self.codes(.rest)).sorted() == [], "documented, but not a REST code of the catalogue")
        #expect(Self.codes(.rest).subtracting(listed).sorted() == [], "a REST code the docs do not list")
    }

    @Test("openapi.yaml: the code's description gives each code the catalogue's status")
    func openAPIStatusList() throws {
        let spec = try Self.read("openapi.yaml")
        let schema = try #require(spec.range(of: "\n    Error:\n"))
        let code = try #require(spec.range(of: "code:\n", range: schema.upperBound..<spec.endIndex))
        let start = try #require(spec.range(of: "description: >-", range: code.upperBound..<spec.endIndex))
        let end = try #require(spec.range(of: "enum: [", range: start.upperBound..<spec.endIndex))
        var documented: [String: Int] = [:]
        for segment in spec[start.upperBound..<end.lowerBound].split(separator: ";") {
            guard let match = segment.firstMatch(of: /([45][0-9][0-9])\s/) else { continue }
            for token in Self.codeTokens(in: segment[match.range.upperBound...]) { documented[token] = Int(match.1)! }
        }
        let catalogue = Dictionary(uniqueKeysWithValues: ErrorCode.all.filter { $0.surfaces.contains(.rest) }.map { ($0.rawValue, $0.httpStatus) })
        #expect(documented == catalogue)
    }

    @Test("openapi.yaml: every code an error response names is catalogued, with that response's status")
    func openAPIResponses() throws {
        let spec = try Self.read("openapi.yaml")
        var named = 0
        for line in spec.split(separator: "\n") {
            guard let match = line.firstMatch(of: /^\s*"([45][0-9][0-9])": \{ description: "([^"]*)"/) else { continue }
            let status = Int(match.1)!
            for token in Self.codeTokens(in: match.2) {
                named += 1
                let code = ErrorCode(rawValue: token)
                #expect(code != nil, "\(status) names `\(token)`, which the catalogue lacks")
                if let code { #expect(code.httpStatus == status, "`\(token)` is documented as \(status), the catalogue answers \(code.httpStatus)") }
            }
        }
        #expect(named > 20)
    }

    /// The first-column codes of the first table after `heading` in docs/PROTOCOL.md.
    static func tableCodes(after heading: String, in text: String) throws -> [String] {
        let start = try #require(text.range(of: "\n\(heading)\n"))
        var codes: [String] = []
        var inTable = false
        for line in text[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("|") {
                inTable = true
                let first = line.split(separator: "|", omittingEmptySubsequences: true).first ?? ""
                codes += codeTokens(in: first).filter { $0 != "code" }
            } else if inTable {
                break
            } else if line.hasPrefix("#") {
                break
            }
        }
        return codes
    }

    @Test("PROTOCOL.md: the CONNECT_ERROR table and the ack table list exactly the socket codes of the catalogue")
    func protocolTables() throws {
        let text = try Self.read("PROTOCOL.md")
        let connect = try Self.tableCodes(after: "## Connecting", in: text)
        #expect(Set(connect) == Self.codes(.connect), "CONNECT_ERROR codes: docs \(connect.sorted()), catalogue \(Self.codes(.connect).sorted())")
        let acks = try Self.tableCodes(after: "### Error codes of the acks", in: text)
        #expect(Set(acks).count == acks.count, "an ack code is listed twice")
        #expect(Set(acks).subtracting(Self.codes(.ack)).sorted() == [], "documented, but not an ack code of the catalogue")
        #expect(Self.codes(.ack).subtracting(acks).sorted() == [], "an ack code the docs do not list")
    }
}
