import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// `DELETE /api/me` (issue 18): the password is required, the last owner of a shared room is
/// stopped, and a deleted account keeps nothing that identifies the person while its
/// messages keep their place under "Deleted user".
@Suite("Account deletion over HTTP")
struct AccountDeletionHTTPTests {
    typealias Helpers = SessionRevocationHTTPTests

    @Test("password required; last owner stopped; sessions end, name and email go, messages stay", arguments: TestApp.databaseKinds)
    func deletion(kind: DatabaseKind) async throws {
        var config = try TestApp.configuration(kind)
        config.requireVerifiedEmail = false
        let configuration = config
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.router) { client in
            try await Helpers.register(client, "delann")
            try await Helpers.register(client, "delbob")
            let ann = try await Helpers.login(client, "delann")
            let bob = try await Helpers.login(client, "delbob")
            let bobID = try #require((try await client.execute(uri: "/api/me", method: .get, headers: Helpers.bearer(bob)).json["id"] as? NSNumber)?.int64Value)

            let room = try await client.execute(uri: "/api/rooms", method: .post, headers: Helpers.bearer(ann), body: .json(["name": "Farewell", "kind": "public"]))
            #expect(room.status == .created)
            let roomID = try #require((room.json["id"] as? NSNumber)?.int64Value)
            #expect(try await client.execute(uri: "/api/rooms/\(roomID)/join", method: .post, headers: Helpers.bearer(bob)).status == .ok)
            let posted = try await client.execute(uri: "/api/rooms/\(roomID)/messages", method: .post, headers: Helpers.bearer(bob), body: .json(["body": "bye all", "clientMsgId": "m1"]))
            #expect(posted.status == .created)

            // Nobody can take the name a deletion will give (it would make the deletion fail).
            for squatter in ["deleted-\(bobID)", "Deleted-\(bobID)"] {
                let squat = try await client.execute(
                    uri: "/api/auth/register", method: .post, headers: Helpers.json,
                    body: .json(["email": "\(squatter.lowercased())@example.com", "username": squatter, "password": Helpers.password])
                )
                #expect(squat.status == .unprocessableContent, "\(squatter)")
            }

            // A wrong or missing password changes nothing.
            let wrong = try await client.execute(uri: "/api/me", method: .delete, headers: Helpers.bearer(bob), body: .json(["password": "not it"]))
            #expect(wrong.errorCode == "invalid_current_password")
            let missing = try await client.execute(uri: "/api/me", method: .delete, headers: Helpers.bearer(bob), body: .json([:]))
            #expect(missing.errorCode == "invalid_current_password")
            #expect(try await client.execute(uri: "/api/me", method: .get, headers: Helpers.bearer(bob)).status == .ok)

            // The last owner of a room others are in must hand it over first; nothing is left.
            let owner = try await client.execute(uri: "/api/me", method: .delete, headers: Helpers.bearer(ann), body: .json(["password": Helpers.password]))
            #expect(owner.status == .conflict && owner.errorCode == "last_owner")
            // It names the room: field room:<id> holds the room's name, and the message names it too.
            #expect(((owner.json["error"] as? [String: Any])?["fields"] as? [String: String])?["room:\(roomID)"] == "Farewell")
            #expect(((owner.json["error"] as? [String: Any])?["message"] as? String)?.contains("Farewell") == true)
            #expect(try await client.execute(uri: "/api/rooms/\(roomID)/members", method: .get, headers: Helpers.bearer(ann)).status == .ok)

            // A session from his phone, and mistyped logins (throttle rows keyed by his name and address).
            let phone = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: [.contentType: "application/json", .userAgent: "delbob-phone"],
                body: .json(["login": "delbob", "password": Helpers.password])
            )
            #expect(phone.status == .ok)
            for login in ["delbob", "DelBob@Example.com"] {
                let typo = try await client.execute(uri: "/api/auth/login", method: .post, headers: Helpers.json, body: .json(["login": login, "password": "not his"]))
                #expect(typo.status == .unauthorized)
            }
            _ = try await client.execute(uri: "/api/auth/forgot-password", method: .post, headers: Helpers.json, body: .json(["email": "delbob@example.com"]))

            // Bob deletes his account.
            let deleted = try await client.execute(uri: "/api/me", method: .delete, headers: Helpers.bearer(bob), body: .json(["password": Helpers.password]))
            #expect(deleted.status == .noContent)
            // Nothing stored names him any more: his sessions' user agents and addresses, the
            // throttle rows keyed by his username or address (both stayed before).
            struct Text: Decodable { let value: String? }
            let (agents, keys) = try await GuestAdminTests.withDatabase(configuration) { db in
                try await db.read { sql in
                    (try await sql.raw("SELECT user_agent AS value FROM sessions WHERE user_id = \(bind: bobID)").all(decoding: Text.self).compactMap(\.value),
                     try await sql.raw("SELECT key AS value FROM auth_throttle").all(decoding: Text.self).compactMap(\.value))
                }
            }
            #expect(agents.isEmpty, "\(agents)")
            #expect(keys.filter { $0.contains("delbob") }.isEmpty, "\(keys)")
            // His token ends at once; his name and password no longer log in.
            let after = try await client.execute(uri: "/api/me", method: .get, headers: Helpers.bearer(bob))
            #expect(after.status == .unauthorized)
            for login in ["delbob", "delbob@example.com"] {
                let attempt = try await client.execute(uri: "/api/auth/login", method: .post, headers: Helpers.json, body: .json(["login": login, "password": Helpers.password]))
                #expect(attempt.status == .unauthorized, "\(login)")
            }
            // He left the room; his message stays, by "Deleted user", with no trace of his name.
            let members = try await client.execute(uri: "/api/rooms/\(roomID)/members", method: .get, headers: Helpers.bearer(ann))
            let memberIDs = ((members.json["members"] as? [[String: Any]]) ?? []).compactMap { (($0["user"] as? [String: Any])?["id"] as? NSNumber)?.int64Value }
            #expect(!memberIDs.contains(bobID))
            let history = try await client.execute(uri: "/api/rooms/\(roomID)/messages", method: .get, headers: Helpers.bearer(ann))
            let message = try #require(((history.json["messages"] as? [[String: Any]]) ?? []).first { ($0["body"] as? String) == "bye all" })
            let author = try #require(message["author"] as? [String: Any])
            #expect(author["displayName"] as? String == AccountDeletion.displayName)
            #expect(author["username"] as? String == "deleted-\(bobID)")
            let found = try await client.execute(uri: "/api/users?q=delbob", method: .get, headers: Helpers.bearer(ann))
            #expect((found.json["users"] as? [Any])?.isEmpty == true)
            // Nor does the event log keep his name (his message's author, his join and leave):
            // the deletion's transaction rewrote those rows (they said "delbob" before).
            let logged = try await GuestAdminTests.withDatabase(configuration) { db in
                try await db.read { sql in try await sql.raw("SELECT data FROM event_log").all(decoding: LogRow.self).map(\.data) }
            }
            #expect(!logged.isEmpty)
            #expect(logged.filter { $0.contains("delbob") }.isEmpty, "\(logged.filter { $0.contains("delbob") })")
            #expect(logged.contains { $0.contains("bye all") && $0.contains("deleted-\(bobID)") && $0.contains(AccountDeletion.displayName) })
            // Nor the mail outbox his address, once the last mail to it went out (his
            // verification mail's row kept it before).
            var keeping = -1
            for _ in 0..<400 where keeping != 0 {
                keeping = try await GuestAdminTests.withDatabase(configuration) { db in
                    try await db.read { sql in
                        try await sql.raw("SELECT id AS data FROM mail_outbox WHERE recipient = 'delbob@example.com'").all(decoding: LogRow.self).count
                    }
                }
                if keeping != 0 { try await Task.sleep(for: .milliseconds(25)) }
            }
            #expect(keeping == 0)
            // The address and the username are free again: a new account, not the old one.
            try await Helpers.register(client, "delbob")
            let again = try await Helpers.login(client, "delbob")
            let newID = (try await client.execute(uri: "/api/me", method: .get, headers: Helpers.bearer(again)).json["id"] as? NSNumber)?.int64Value
            #expect(newID != nil && newID != bobID)
        }
    }

    struct LogRow: Decodable { let data: String }

    /// Issue 18 (break test): refreshing with a deleted account's refresh token answered 403
    /// `account_disabled`, telling that the account had existed and was gone. It now answers as
    /// any revoked session's token does; the other ways in (old login, reset request,
    /// verification link) answer as for an account that never existed.
    @Test("a deleted account answers as a revoked session or an unknown account on every way in", arguments: TestApp.databaseKinds)
    func noTraceOnTheWaysIn(kind: DatabaseKind) async throws {
        var config = try TestApp.configuration(kind)
        config.requireVerifiedEmail = false
        let configuration = config
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.router) { client in
            try await Helpers.register(client, "gonegail")
            let link = try await mailboxLink(client, to: "gonegail@example.com", path: "/verify-email")
            let (access, refresh, _) = try await GuestAdminTests.login(client, "gonegail")
            // What a revoked session's refresh token answers: log a second session out.
            let (other, otherRefresh, _) = try await GuestAdminTests.login(client, "gonegail")
            #expect(try await client.execute(uri: "/api/auth/logout", method: .post, headers: Helpers.bearer(other)).status == .noContent)
            let revoked = try await Self.refresh(client, otherRefresh)
            #expect(revoked.status == .unauthorized)

            #expect(try await client.execute(uri: "/api/me", method: .delete, headers: Helpers.bearer(access), body: .json(["password": Helpers.password])).status == .noContent)

            let deleted = try await Self.refresh(client, refresh)
            #expect(deleted.status == revoked.status && deleted.errorCode == revoked.errorCode, "\(deleted.status) \(deleted.errorCode ?? "")")
            #expect(deleted.errorCode == "session_expired")

            // Old credentials: as an unknown login.
            for login in ["gonegail", "gonegail@example.com"] {
                let old = try await client.execute(uri: "/api/auth/login", method: .post, headers: Helpers.json, body: .json(["login": login, "password": Helpers.password]))
                let unknown = try await client.execute(uri: "/api/auth/login", method: .post, headers: Helpers.json, body: .json(["login": "nobody\(login)", "password": Helpers.password]))
                #expect(old.status == unknown.status && old.errorCode == unknown.errorCode, "\(login)")
            }
            // A reset request for the old address: as for an address without an account.
            let reset = try await client.execute(uri: "/api/auth/forgot-password", method: .post, headers: Helpers.json, body: .json(["email": "gonegail@example.com"]))
            let resetUnknown = try await client.execute(uri: "/api/auth/forgot-password", method: .post, headers: Helpers.json, body: .json(["email": "nobodyelse@example.com"]))
            #expect(reset.status == resetUnknown.status && reset.errorCode == resetUnknown.errorCode)
            // The verification link mailed at registration: as a link that was never issued.
            let verify = try await client.execute(uri: "/api/auth/verify-email", method: .post, headers: Helpers.json, body: .json(["token": try token(of: link)]))
            let bogus = try await client.execute(uri: "/api/auth/verify-email", method: .post, headers: Helpers.json, body: .json(["token": String(repeating: "A", count: 43)]))
            #expect(verify.status == bogus.status && verify.errorCode == bogus.errorCode, "\(verify.errorCode ?? "") vs \(bogus.errorCode ?? "")")
        }
    }

    static func refresh(_ client: some TestClientProtocol, _ token: String) async throws -> TestResponse {
        try await client.execute(uri: "/api/auth/refresh", method: .post, headers: Helpers.json, body: .json(["refreshToken": token, "refreshTokenInBody": true]))
    }

    /// Issue 18 (break test): two DELETE /api/me of one account at once (two tabs) both ran the
    /// deletion and mailed the confirmation twice. Now one wins (204) and the other answers as a
    /// deleted session does (401 `session_revoked`); one mail. Both requests are in flight at
    /// the same time, in several rounds.
    @Test("two simultaneous deletions of one account: one runs, one mail", arguments: TestApp.databaseKinds)
    func concurrentDeletions(kind: DatabaseKind) async throws {
        var config = try TestApp.configuration(kind)
        config.requireVerifiedEmail = false
        let configuration = config
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.router) { client in
            // Each round's account is in a room (its leave is part of the deletion).
            try await Helpers.register(client, "twohost")
            let host = try await Helpers.login(client, "twohost")
            let room = try await client.execute(uri: "/api/rooms", method: .post, headers: Helpers.bearer(host), body: .json(["name": "Two tabs", "kind": "public"]))
            let roomID = try #require((room.json["id"] as? NSNumber)?.int64Value)
            for round in 0..<6 {
                let name = "twotabs\(round)"
                try await Helpers.register(client, name)
                let (first, _, userID) = try await GuestAdminTests.login(client, name)
                let tabs = [first, try await Helpers.login(client, name)]
                #expect(try await client.execute(uri: "/api/rooms/\(roomID)/join", method: .post, headers: Helpers.bearer(first)).status == .ok)
                let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                    for tab in tabs {
                        group.addTask {
                            let response = try await client.execute(uri: "/api/me", method: .delete, headers: Helpers.bearer(tab), body: .json(["password": Helpers.password]))
                            return (response.status, response.errorCode)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(answers.filter { $0.0 == .noContent }.count == 1, "round \(round): \(answers)")
                #expect(answers.filter { $0.0 == .unauthorized && $0.1 == "session_revoked" }.count == 1, "round \(round): \(answers)")
                let mails = try await GuestAdminTests.withDatabase(configuration) { db in
                    try await db.read { sql in
                        try await sql.raw("SELECT id AS data FROM mail_outbox WHERE kind = 'account_deleted'")
                            .all(decoding: LogRow.self).count
                    }
                }
                #expect(mails == round + 1, "round \(round)")  // one per deleted account (a sent one forgets its recipient)
                // It left the room once: one room:member left event.
                let leaves = try await GuestAdminTests.withDatabase(configuration) { db in
                    try await db.read { sql in
                        try await sql.raw("SELECT data FROM event_log WHERE event = 'room:member'").all(decoding: LogRow.self)
                            .filter { $0.data.contains("\"left\"") && $0.data.contains("\"deleted-\(userID)\"") }.count
                    }
                }
                #expect(leaves == 1, "round \(round)")
            }
        }
    }

    /// Issue 18: a deleted account stays deleted: a server admin can neither enable it again nor
    /// disable it (404 `user_not_found`, as for no account), so nothing brings its sessions back.
    @Test("an admin cannot enable or disable a deleted account", arguments: TestApp.databaseKinds)
    func adminCannotRevive(kind: DatabaseKind) async throws {
        var config = try TestApp.configuration(kind)
        config.requireVerifiedEmail = false
        let configuration = config
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.router) { client in
            try await Helpers.register(client, "revboss")
            try await Helpers.register(client, "revgone")
            try await GuestAdminTests.withDatabase(configuration) { db in
                try await db.write { sql in _ = try await AdminStore().setServerRole(username: "revboss", role: .admin, now: Date().millis, on: sql) }
            }
            let boss = try await Helpers.login(client, "revboss")
            let (gone, _, goneID) = try await GuestAdminTests.login(client, "revgone")
            #expect(try await client.execute(uri: "/api/me", method: .delete, headers: Helpers.bearer(gone), body: .json(["password": Helpers.password])).status == .noContent)
            for action in ["enable", "disable"] {
                let answer = try await client.execute(uri: "/api/admin/users/\(goneID)/\(action)", method: .post, headers: Helpers.bearer(boss))
                #expect(answer.status == .notFound && answer.errorCode == "user_not_found", "\(action): \(answer.status)")
            }
            let stored = try await GuestAdminTests.withDatabase(configuration) { db in try await db.read { sql in try await UserStore().find(id: goneID, on: sql) } }
            #expect(stored?.deletedAt != nil && stored?.disabledAt != nil)
            for login in ["revgone", "deleted-\(goneID)"] {
                let attempt = try await client.execute(uri: "/api/auth/login", method: .post, headers: Helpers.json, body: .json(["login": login, "password": Helpers.password]))
                #expect(attempt.errorCode == "invalid_credentials", "\(login)")
            }
        }
    }
}
