import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// Issue 11 item 14: every free-text field refuses the same control characters
/// (AccountValidation.freeText): single-line fields Cc and Cf, message bodies Cc but
/// tab, line feed and carriage return.
@Suite("Control characters in free text")
struct ControlCharacterTests {
    @Test("topics, names and display names refuse what names refuse; bodies refuse controls but keep lines and emoji")
    func sameRuleEverywhere() async throws {
        var config = try TestApp.configuration()
        config.requireVerifiedEmail = false
        let app = try await buildApplication(config, logger: TestApp.logger)
        try await app.test(.router) { client in
            let auth = try await OverloadHTTPTests.account(client, "ctl")
            let room = try await client.execute(uri: "/api/rooms", method: .post, headers: auth, body: .json(["name": "plain", "topic": "fine"]))
            #expect(room.status == .created)
            let roomID = try #require(room.json["id"] as? Int)

            for bad in ["bell\u{7}", "\u{1B}[31mred", "nul\u{0}", "del\u{7F}", "c1\u{85}x", "rlo\u{202E}txt", "zw\u{200B}sp"] {
                let created = try await client.execute(
                    uri: "/api/rooms", method: .post, headers: auth, body: .json(["name": "t\(UUID().uuidString.prefix(8))", "topic": bad])
                )
                #expect(created.status == .unprocessableContent && (created.json["error"] as? [String: Any]).flatMap { ($0["fields"] as? [String: String])?["topic"] } != nil,
                        "create topic \(bad.unicodeScalars.map { String($0.value, radix: 16) })")
                let patched = try await client.execute(uri: "/api/rooms/\(roomID)", method: .patch, headers: auth, body: .json(["topic": bad]))
                #expect(patched.status == .unprocessableContent, "patch topic \(bad.unicodeScalars.map { String($0.value, radix: 16) })")
                let named = try await client.execute(uri: "/api/rooms", method: .post, headers: auth, body: .json(["name": bad]))
                #expect(named.status == .unprocessableContent, "room name")
                let me = try await client.execute(uri: "/api/me", method: .patch, headers: auth, body: .json(["displayName": bad]))
                #expect(me.status == .unprocessableContent, "display name")
            }
            // Message bodies: C0/C1 controls and DEL refused, line breaks and tabs kept.
            for bad in ["bell\u{7}", "\u{1B}[2J", "nul\u{0}x", "del\u{7F}", "c1\u{85}x"] {
                let posted = try await client.execute(uri: "/api/rooms/\(roomID)/messages", method: .post, headers: auth, body: .json(["body": bad]))
                #expect(posted.status == .unprocessableContent, "body \(bad.unicodeScalars.map { String($0.value, radix: 16) })")
            }
            for good in ["two\nlines\r\nand\ttab", "family \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}", "\u{05E9}\u{05DC}\u{05D5}\u{05DD}\u{200F}!"] {
                let posted = try await client.execute(uri: "/api/rooms/\(roomID)/messages", method: .post, headers: auth, body: .json(["body": good]))
                #expect(posted.status == .created || posted.status == .ok, "body \(good)")
            }
            let topic = try await client.execute(uri: "/api/rooms/\(roomID)", method: .patch, headers: auth, body: .json(["topic": "Ünïcödé topic ok"]))
            #expect(topic.status == .ok)
        }
    }
}
