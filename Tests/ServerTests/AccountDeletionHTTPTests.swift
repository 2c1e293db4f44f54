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
        let app = try await buildApplication(config, logger: TestApp.logger)
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
            #expect(((owner.json["error"] as? [String: Any])?["fields"] as? [String: String])?["room:\(roomID)"] != nil)
            #expect(try await client.execute(uri: "/api/rooms/\(roomID)/members", method: .get, headers: Helpers.bearer(ann)).status == .ok)

            // Bob deletes his account.
            let deleted = try await client.execute(uri: "/api/me", method: .delete, headers: Helpers.bearer(bob), body: .json(["password": Helpers.password]))
            #expect(deleted.status == .noContent)
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
            // The address and the username are free again: a new account, not the old one.
            try await Helpers.register(client, "delbob")
            let again = try await Helpers.login(client, "delbob")
            let newID = (try await client.execute(uri: "/api/me", method: .get, headers: Helpers.bearer(again)).json["id"] as? NSNumber)?.int64Value
            #expect(newID != nil && newID != bobID)
        }
    }
}
