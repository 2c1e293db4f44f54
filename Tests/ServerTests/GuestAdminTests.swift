import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import TestSupport
@testable import Server

/// Issue 16: guests (what a guest may and may not do, the per-IP limit, the expiry sweep) and
/// server administration (`/api/admin/...` for admins only; disabling revokes every session).
@Suite("Guests and administration")
struct GuestAdminTests {
    static let json: HTTPFields = [.contentType: "application/json"]
    static let password = "correct horse battery"

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    static func configuration(_ kind: DatabaseKind, clock: ManualClock? = nil) throws -> AppConfiguration {
        var configuration = try TestApp.configuration(kind)
        if let clock { configuration.clock = clock.clock }
        return configuration
    }

    /// Runs SQL against the app's database through a second handle (what `switchboard admin`
    /// does from the command line), after the app migrated it.
    static func withDatabase<T: Sendable>(_ configuration: AppConfiguration, _ body: @Sendable (any Database) async throws -> T) async throws -> T {
        let database = try await DatabaseFactory.open(configuration.database, logger: TestApp.logger)
        do {
            let value = try await body(database)
            await database.shutdown()
            return value
        } catch {
            await database.shutdown()
            throw error
        }
    }

    /// Registers `name` with a verified address; returns (access token, refresh token, user id).
    static func account(_ client: some TestClientProtocol, _ configuration: AppConfiguration, _ name: String) async throws -> (String, String, Int64) {
        let registered = try await client.execute(
            uri: "/api/auth/register", method: .post, headers: json,
            body: .json(["email": "\(name)@example.com", "username": name, "password": password])
        )
        #expect(registered.status == .accepted)
        try await withDatabase(configuration) { db in
            try await db.write { sql in
                let user = try #require(try await UserStore().findByUsername(name, on: sql))
                try await UserStore().markEmailVerified(id: user.id, now: Date().millis, on: sql)
            }
        }
        return try await login(client, name)
    }

    static func login(_ client: some TestClientProtocol, _ name: String) async throws -> (String, String, Int64) {
        let response = try await client.execute(
            uri: "/api/auth/login", method: .post, headers: json, body: .json(["login": name, "password": password, "refreshTokenInBody": true])
        )
        #expect(response.status == .ok, "login \(name)")
        let user = try #require(response.json["user"] as? [String: Any])
        return (try #require(response.json["accessToken"] as? String), try #require(response.json["refreshToken"] as? String),
                try #require((user["id"] as? NSNumber)?.int64Value))
    }

    /// Starts a guest; returns (access token, refresh token, user object).
    static func guest(_ client: some TestClientProtocol, _ displayName: String) async throws -> (String, String, [String: Any]) {
        let response = try await client.execute(
            uri: "/api/auth/guest", method: .post, headers: json, body: .json(["displayName": displayName, "refreshTokenInBody": true])
        )
        #expect(response.status == .ok, "guest: \(response.status) \(response.errorCode ?? "")")
        return (try #require(response.json["accessToken"] as? String), try #require(response.json["refreshToken"] as? String),
                try #require(response.json["user"] as? [String: Any]))
    }

    static func call(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ token: String, _ body: [String: Any]? = nil) async throws -> TestResponse {
        try await client.execute(uri: uri, method: method, headers: bearer(token), body: body.map { .json($0) })
    }

    static func createRoom(_ client: some TestClientProtocol, _ token: String, _ body: [String: Any]) async throws -> [String: Any] {
        let response = try await call(client, .post, "/api/rooms", token, body)
        #expect(response.status == .created, "create \(body): \(response.status) \(response.errorCode ?? "")")
        return response.json
    }

    static func id(_ object: [String: Any]?, _ key: String = "id") -> Int64 { (object?[key] as? NSNumber)?.int64Value ?? -1 }

    @Test("a guest joins a room that allows guests and posts there; everything else is refused with guest_not_allowed", arguments: TestApp.databaseKinds)
    func guestRules(kind: DatabaseKind) async throws {
        let configuration = try Self.configuration(kind)  // REQUIRE_VERIFIED_EMAIL is on: guests still post
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.router) { client in
            let suffix = UUID().uuidString.prefix(6).lowercased()
            let (owner, _, ownerID) = try await Self.account(client, configuration, "owner\(suffix)")
            let lobby = try await Self.createRoom(client, owner, ["name": "Lobby \(suffix)", "allowGuests": true])
            #expect(lobby["allowGuests"] as? Bool == true)
            let closed = try await Self.createRoom(client, owner, ["name": "Closed \(suffix)"])
            #expect(closed["allowGuests"] as? Bool == false)
            let secret = try await Self.createRoom(client, owner, ["name": "Secret \(suffix)", "kind": "private"])
            let lobbyID = Self.id(lobby), closedID = Self.id(closed), secretID = Self.id(secret)

            // A private room cannot allow guests, at creation or later.
            let privateGuests = try await Self.call(client, .post, "/api/rooms", owner, ["name": "P \(suffix)", "kind": "private", "allowGuests": true])
            #expect(privateGuests.status == .unprocessableContent && privateGuests.errorCode == "validation_failed")
            let patchPrivate = try await Self.call(client, .patch, "/api/rooms/\(secretID)", owner, ["allowGuests": true])
            #expect(patchPrivate.status == .unprocessableContent && patchPrivate.errorCode == "validation_failed")

            let (guest, _, guestUser) = try await Self.guest(client, "Visitor")
            let guestID = Self.id(guestUser)
            let guestName = try #require(guestUser["username"] as? String)
            #expect(guestUser["guest"] as? Bool == true)
            #expect(guestName.hasPrefix("guest-"))
            #expect(guestUser["displayName"] as? String == "Visitor")

            // Discovery shows a guest only the rooms it may join.
            let discovered = try await Self.call(client, .get, "/api/rooms/public?q=\(suffix)", guest)
            let names = (discovered.json["rooms"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(names == ["Lobby \(suffix)"])

            // Join and post where allowed; the guest is marked in members, messages and the room list.
            let joined = try await Self.call(client, .post, "/api/rooms/\(lobbyID)/join", guest)
            #expect(joined.status == .ok && joined.json["role"] as? String == "guest")
            let posted = try await Self.call(client, .post, "/api/rooms/\(lobbyID)/messages", guest, ["body": "hello from a guest", "clientMsgId": "g1"])
            #expect(posted.status == .created, "\(posted.status) \(posted.errorCode ?? "")")
            let author = (posted.json["message"] as? [String: Any])?["author"] as? [String: Any]
            #expect(author?["guest"] as? Bool == true)
            let history = try await Self.call(client, .get, "/api/rooms/\(lobbyID)/messages", owner)
            let first = (history.json["messages"] as? [[String: Any]])?.first
            #expect((first?["author"] as? [String: Any])?["guest"] as? Bool == true)
            let members = try await Self.call(client, .get, "/api/rooms/\(lobbyID)/members", owner)
            let entries = members.json["members"] as? [[String: Any]] ?? []
            let guestEntry = entries.first { Self.id($0["user"] as? [String: Any]) == guestID }
            #expect((guestEntry?["user"] as? [String: Any])?["guest"] as? Bool == true)
            #expect(guestEntry?["role"] as? String == "guest")
            let ownerEntry = entries.first { Self.id($0["user"] as? [String: Any]) == ownerID }
            #expect((ownerEntry?["user"] as? [String: Any])?["guest"] == nil)

            // Refused: a room without the setting, creating, direct messages both ways, invites
            // both ways, joining by code, a password change, logging in with the guest's username.
            let refusals: [(HTTPRequest.Method, String, String, [String: Any]?)] = [
                (.post, "/api/rooms/\(closedID)/join", guest, nil),
                (.post, "/api/rooms", guest, ["name": "Mine \(suffix)"]),
                (.post, "/api/direct", guest, ["userId": ownerID]),
                (.post, "/api/direct", owner, ["userId": guestID]),
                (.post, "/api/rooms/\(lobbyID)/invites", guest, ["userId": ownerID]),
                (.post, "/api/rooms/\(secretID)/invites", owner, ["userId": guestID]),
                (.post, "/api/rooms/join-by-code", guest, ["code": secret["joinCode"] as? String ?? "ABCDEFGH"]),
                (.post, "/api/me/password", guest, ["currentPassword": "whatever it is", "newPassword": "a new long password"]),
            ]
            for (method, uri, token, body) in refusals {
                let response = try await Self.call(client, method, uri, token, body)
                #expect(response.status == .forbidden && response.errorCode == "guest_not_allowed", "\(method) \(uri): \(response.status) \(response.errorCode ?? "")")
            }
            let login = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: Self.json, body: .json(["login": guestName, "password": "!guest"])
            )
            #expect(login.status == .unauthorized && login.errorCode == "invalid_credentials")
            // Nothing changed: the guest is in the lobby only.
            let mine = try await Self.call(client, .get, "/api/rooms", guest)
            #expect((mine.json["rooms"] as? [[String: Any]] ?? []).map { Self.id($0) } == [lobbyID])

            // The owner turns guests on: the guest may join now.
            let patched = try await Self.call(client, .patch, "/api/rooms/\(closedID)", owner, ["allowGuests": true])
            #expect(patched.status == .ok && patched.json["allowGuests"] as? Bool == true)
            #expect(try await Self.call(client, .post, "/api/rooms/\(closedID)/join", guest).status == .ok)

            // Registration keeps the guest prefix for guests.
            let squat = try await client.execute(
                uri: "/api/auth/register", method: .post, headers: Self.json,
                body: .json(["email": "squat\(suffix)@example.com", "username": "guest-\(suffix)", "password": Self.password])
            )
            #expect(squat.status == .unprocessableContent && squat.errorCode == "validation_failed")
        }
    }

    @Test("guest sessions are limited per client address (leaky bucket, 429 with Retry-After)", arguments: TestApp.databaseKinds)
    func guestRateLimit(kind: DatabaseKind) async throws {
        var configuration = try Self.configuration(kind)
        configuration.guests.perIPPerHour = 3
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.router) { client in
            for n in 1...3 { _ = try await Self.guest(client, "Guest \(n)") }
            let refused = try await client.execute(uri: "/api/auth/guest", method: .post, headers: Self.json, body: .json(["displayName": "One too many"]))
            #expect(refused.status == .tooManyRequests && refused.errorCode == "too_many_requests")
            let retryAfter = Int(refused.headers[.retryAfter] ?? "") ?? 0
            #expect(retryAfter >= 1)
            let invalid = try await client.execute(uri: "/api/auth/guest", method: .post, headers: Self.json, body: .json(["displayName": "  "]))
            #expect(invalid.status != .ok)
        }
    }

    @Test("expired guests are swept: out of their rooms, sessions gone, the row deleted unless it wrote messages", arguments: TestApp.databaseKinds)
    func guestExpiry(kind: DatabaseKind) async throws {
        let clock = ManualClock()
        var mutable = try Self.configuration(kind, clock: clock)
        mutable.guests.sessionLifetime = .seconds(120)
        mutable.guests.sweepInterval = .milliseconds(50)
        let configuration = mutable
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.router) { client in
            let suffix = UUID().uuidString.prefix(6).lowercased()
            let (owner, _, _) = try await Self.account(client, configuration, "host\(suffix)")
            let lobbyID = Self.id(try await Self.createRoom(client, owner, ["name": "Hall \(suffix)", "allowGuests": true]))
            let (talker, talkerRefresh, talkerUser) = try await Self.guest(client, "Talker")
            let (quiet, _, quietUser) = try await Self.guest(client, "Quiet")
            for token in [talker, quiet] { #expect(try await Self.call(client, .post, "/api/rooms/\(lobbyID)/join", token).status == .ok) }
            #expect(try await Self.call(client, .post, "/api/rooms/\(lobbyID)/messages", talker, ["body": "hi", "clientMsgId": "t1"]).status == .created)

            func memberIDs() async throws -> Set<Int64> {
                let members = try await Self.call(client, .get, "/api/rooms/\(lobbyID)/members", owner)
                return Set((members.json["members"] as? [[String: Any]] ?? []).map { Self.id($0["user"] as? [String: Any]) })
            }
            // Not yet expired: several sweeps leave them alone.
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await memberIDs().isSuperset(of: [Self.id(talkerUser), Self.id(quietUser)]))
            #expect(try await Self.call(client, .get, "/api/me", quiet).status == .ok)

            clock.advance(121)
            let deadline = ContinuousClock.now + .seconds(20)
            while try await memberIDs().count > 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try await memberIDs().count == 1, "both guests left the room")

            // The quiet guest's row is gone; the talker's stays as its message's author, marked a guest.
            // The sweep takes the guest out of its rooms first, then ends its sessions (closing its
            // sockets) and deletes its row: wait until that last step is done.
            let quietID = Self.id(quietUser), talkerID = Self.id(talkerUser)
            func readRows() async throws -> (UserRecord?, UserRecord?) {
                try await Self.withDatabase(configuration) { db in
                    try await db.read { sql in
                        (try await UserStore().find(id: quietID, on: sql), try await UserStore().find(id: talkerID, on: sql))
                    }
                }
            }
            var rows = try await readRows()
            while rows.0 != nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                rows = try await readRows()
            }

            // Their tokens and refresh tokens are dead.
            for token in [talker, quiet] {
                let me = try await Self.call(client, .get, "/api/me", token)
                #expect(me.status == .unauthorized, "\(me.status) \(me.errorCode ?? "")")
            }
            let refreshed = try await client.execute(
                uri: "/api/auth/refresh", method: .post, headers: Self.json, body: .json(["refreshToken": talkerRefresh])
            )
            #expect(refreshed.status == .unauthorized)
            #expect(rows.0 == nil)
            #expect(rows.1?.isGuest == true && rows.1?.disabledAt != nil)
            let history = try await Self.call(client, .get, "/api/rooms/\(lobbyID)/messages", owner)
            let author = (history.json["messages"] as? [[String: Any]])?.first?["author"] as? [String: Any]
            #expect(author?["guest"] as? Bool == true && author?["displayName"] as? String == "Talker")
        }
    }

    @Test("/api/admin is for server admins only; disable revokes every session and refuses refresh with account_disabled", arguments: TestApp.databaseKinds)
    func adminAPI(kind: DatabaseKind) async throws {
        let configuration = try Self.configuration(kind)
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.router) { client in
            let suffix = UUID().uuidString.prefix(6).lowercased()
            let (boss, _, bossID) = try await Self.account(client, configuration, "boss\(suffix)")
            let (user, userRefresh, userID) = try await Self.account(client, configuration, "mallory\(suffix)")
            let (userOther, _, _) = try await Self.login(client, "mallory\(suffix)")
            let roomID = Self.id(try await Self.createRoom(client, user, ["name": "Den \(suffix)", "kind": "private"]))
            #expect(try await Self.call(client, .post, "/api/rooms/\(roomID)/messages", user, ["body": "first", "clientMsgId": "m1"]).status == .created)
            #expect(try await Self.call(client, .post, "/api/rooms/\(roomID)/messages", user, ["body": "second", "clientMsgId": "m2"]).status == .created)

            let endpoints: [(HTTPRequest.Method, String)] = [
                (.get, "/api/admin/users"), (.post, "/api/admin/users/\(userID)/disable"), (.post, "/api/admin/users/\(userID)/enable"),
                (.get, "/api/admin/users/\(userID)/messages"), (.get, "/api/admin/rooms"), (.get, "/api/admin/rooms/\(roomID)/members"),
                (.get, "/api/admin/stats"),
            ]
            for (method, uri) in endpoints {
                let anonymous = try await client.execute(uri: uri, method: method)
                #expect(anonymous.status == .unauthorized, "\(uri) anonymous")
                let plain = try await Self.call(client, method, uri, boss)
                #expect(plain.status == .forbidden && plain.errorCode == "admin_required", "\(uri): \(plain.status)")
            }
            // Nothing was disabled by those refusals.
            #expect(try await Self.call(client, .get, "/api/me", user).status == .ok)

            // Promote as `switchboard admin promote` does.
            let promoted = try await Self.withDatabase(configuration) { db in
                try await db.write { sql in try await AdminStore().setServerRole(username: "BOSS\(suffix)", role: .admin, now: Date().millis, on: sql) }
            }
            #expect(promoted)
            let me = try await Self.call(client, .get, "/api/me", boss)
            #expect(me.json["serverRole"] as? String == "admin")

            // Users: search by prefix (username, email, display name), paginated.
            let found = try await Self.call(client, .get, "/api/admin/users?q=MALLORY\(suffix)", boss)
            #expect(found.status == .ok)
            let foundUsers = found.json["users"] as? [[String: Any]] ?? []
            #expect(foundUsers.map { Self.id($0) } == [userID])
            #expect(foundUsers.first?["email"] as? String == "mallory\(suffix)@example.com")
            let page1 = try await Self.call(client, .get, "/api/admin/users?limit=1", boss)
            let cursor = try #require(page1.json["nextCursor"] as? String)
            let page2 = try await Self.call(client, .get, "/api/admin/users?limit=1&cursor=\(cursor)", boss)
            #expect(Self.id((page2.json["users"] as? [[String: Any]])?.first) > Self.id((page1.json["users"] as? [[String: Any]])?.first))
            #expect(try await Self.call(client, .get, "/api/admin/users?limit=0", boss).errorCode == "validation_failed")

            // A user's messages, newest first, paginated.
            let messages = try await Self.call(client, .get, "/api/admin/users/\(userID)/messages?limit=1", boss)
            #expect((messages.json["messages"] as? [[String: Any]])?.first?["body"] as? String == "second")
            #expect(messages.json["hasMore"] as? Bool == true)

            // Rooms (any kind, the admin is not a member) and their members.
            let rooms = try await Self.call(client, .get, "/api/admin/rooms", boss)
            let den = (rooms.json["rooms"] as? [[String: Any]] ?? []).first { Self.id($0) == roomID }
            #expect(den?["memberCount"] as? Int == 1 && den?["onlineCount"] as? Int == 0)
            let members = try await Self.call(client, .get, "/api/admin/rooms/\(roomID)/members", boss)
            #expect((members.json["members"] as? [[String: Any]] ?? []).map { Self.id($0["user"] as? [String: Any]) } == [userID])
            #expect(try await Self.call(client, .get, "/api/admin/rooms/999999/members", boss).errorCode == "room_not_found")

            let stats = try await Self.call(client, .get, "/api/admin/stats", boss)
            #expect(stats.json["users"] as? Int == 2 && stats.json["rooms"] as? Int == 1 && stats.json["messages"] as? Int == 2)
            #expect(stats.json["admins"] as? Int == 1 && stats.json["socketsOnline"] as? Int == 0)

            // Disable: both of the user's sessions end at once; refresh says account_disabled; login fails.
            #expect(try await Self.call(client, .post, "/api/admin/users/\(bossID)/disable", boss).errorCode == "validation_failed")
            let disabled = try await Self.call(client, .post, "/api/admin/users/\(userID)/disable", boss)
            #expect(disabled.status == .ok && disabled.json["disabled"] as? Bool == true)
            for token in [user, userOther] {
                let after = try await Self.call(client, .get, "/api/me", token)
                #expect(after.status == .unauthorized && after.errorCode == "session_revoked")
            }
            let refresh = try await client.execute(uri: "/api/auth/refresh", method: .post, headers: Self.json, body: .json(["refreshToken": userRefresh]))
            #expect(refresh.status == .forbidden && refresh.errorCode == "account_disabled")
            let login = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: Self.json, body: .json(["login": "mallory\(suffix)", "password": Self.password])
            )
            #expect(login.status == .unauthorized && login.errorCode == "invalid_credentials")
            #expect(try await Self.call(client, .post, "/api/admin/users/999999/disable", boss).errorCode == "user_not_found")
            #expect(try await Self.call(client, .post, "/api/admin/users/999999/enable", boss).errorCode == "user_not_found")
            // Enabling oneself is allowed (and changes nothing), unlike disabling.
            #expect(try await Self.call(client, .post, "/api/admin/users/\(bossID)/enable", boss).status == .ok)

            // Enable: the user can log in again.
            let enabled = try await Self.call(client, .post, "/api/admin/users/\(userID)/enable", boss)
            #expect(enabled.status == .ok && enabled.json["disabled"] as? Bool == false)
            _ = try await Self.login(client, "mallory\(suffix)")
        }
    }

    @Test("/api/admin/users?q= matches display names folded as user search folds them (Unicode, not SQL LOWER)", arguments: TestApp.databaseKinds)
    func adminSearchUnicodeNames(kind: DatabaseKind) async throws {
        let configuration = try Self.configuration(kind)
        let app = try await buildApplication(configuration, logger: TestApp.logger)
        try await app.test(.router) { client in
            let suffix = UUID().uuidString.prefix(6).lowercased()
            let (boss, _, _) = try await Self.account(client, configuration, "boss\(suffix)")
            let promoted = try await Self.withDatabase(configuration) { db in
                try await db.write { sql in try await AdminStore().setServerRole(username: "boss\(suffix)", role: .admin, now: Date().millis, on: sql) }
            }
            #expect(promoted)
            let (emile, _, emileID) = try await Self.account(client, configuration, "ez\(suffix)")
            let (strauss, _, straussID) = try await Self.account(client, configuration, "js\(suffix)")
            #expect(try await Self.call(client, .patch, "/api/me", emile, ["displayName": "Émile Zola \(suffix)"]).status == .ok)
            #expect(try await Self.call(client, .patch, "/api/me", strauss, ["displayName": "Große Straße \(suffix)"]).status == .ok)

            func found(_ q: String) async throws -> [Int64] {
                let encoded = try #require(q.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
                let response = try await Self.call(client, .get, "/api/admin/users?q=\(encoded)", boss)
                #expect(response.status == .ok, "q=\(q)")
                return (response.json["users"] as? [[String: Any]] ?? []).map { Self.id($0) }
            }
            // SQLite's LOWER() folds ASCII only: "émile" did not find "Émile" there; PostgreSQL's
            // leaves ß as it is: "grosse" did not find "Große".
            #expect(try await found("émile") == [emileID])
            #expect(try await found("ÉMILE ZOLA") == [emileID])
            #expect(try await found("Émile") == [emileID])
            #expect(try await found("grosse") == [straussID])
            #expect(try await found("GROSSE STRASSE") == [straussID])
            #expect(try await found("Große") == [straussID])
            // Usernames and emails still match by prefix, in any letter case; a LIKE wildcard in
            // the query is a plain character.
            #expect(try await found("EZ\(suffix)") == [emileID])
            #expect(try await found("js\(suffix)@example") == [straussID])
            #expect(try await found("%mile").isEmpty)
            #expect(try await found("z\(suffix)").isEmpty)
        }
    }
}
