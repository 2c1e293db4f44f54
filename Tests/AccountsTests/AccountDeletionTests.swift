@testable import Accounts
import Foundation
import Models
import SQLKit
import Testing
import TestSupport

/// Account deletion (issue 18), the Accounts half: what a deleted account still answers to.
@Suite("Account deletion")
struct AccountDeletionTests {
    static let provider = OAuthProvider(name: "idp", displayName: "IdP", clientID: "c", clientSecret: "s", kind: .openIDConnect(issuer: "https://idp.example.test"))

    /// A provider sign-in of the identity a deleted account had neither signs that account in
    /// nor attaches to it: the deletion removed the identity and the address, so the provider's
    /// verified address makes a new, empty account (as registering the address again does,
    /// docs/openapi.yaml `DELETE /api/me`), and the deleted row stays as it was.
    @Test("a provider sign-in after deletion never reaches the deleted account", arguments: TestDatabases.kinds)
    func providerSignInAfterDeletion(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            let db = h.auth.database
            let oauth = OAuthService(
                settings: OAuthSettings(providers: [Self.provider], publicURL: "http://localhost:8080"), database: db, auth: h.auth,
                mailHooks: nil, logger: TestDatabases.logger
            )
            let identity = ProviderIdentity(subject: "sub-42", email: "ida@example.com", emailVerified: true, preferredUsername: "ida", name: "Ída Q")
            let first = try await oauth.userSigningIn(identity, provider: Self.provider)
            #expect(try await oauth.userSigningIn(identity, provider: Self.provider).id == first.id)

            try await AccountDeletion(auth: h.auth, email: nil).erase(first)

            let again = try await oauth.userSigningIn(identity, provider: Self.provider)
            #expect(again.id != first.id)
            #expect(again.deletedAt == nil && again.email == "ida@example.com")
            let deleted = try #require(try await h.auth.user(id: first.id))
            #expect(deleted.deletedAt != nil && deleted.disabledAt != nil)
            #expect(deleted.username == "deleted-\(first.id)" && deleted.displayName == AccountDeletion.displayName)
            struct Row: Decodable { let userId: Int64; let displayNameKey: String? }
            let owners = try await db.read { sql in
                try await sql.raw("SELECT user_id, NULL AS display_name_key FROM identities WHERE subject = 'sub-42'").all(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
            }
            #expect(owners.map(\.userId) == [again.id])
            // The deleted row's search key follows its new name.
            let key = try await db.read { sql in
                try await sql.raw("SELECT 0 AS user_id, display_name_key FROM users WHERE id = \(bind: first.id)").first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
            }
            #expect(key?.displayNameKey == "deleted user")
        }
    }

    /// A second erase of the same account (the loser of two simultaneous deletions) changes
    /// nothing and answers as a revoked session does.
    @Test("erasing a deleted account again is refused with session_revoked and changes nothing", arguments: TestDatabases.kinds)
    func eraseTwice(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            try await h.register("twice")
            let user = try #require(try await h.auth.database.read { sql in try await UserStore().findByUsername("twice", on: sql) })
            let deletion = AccountDeletion(auth: h.auth, email: nil)
            try await deletion.erase(user)
            let after = try await h.auth.user(id: user.id)
            #expect(await apiCode { try await deletion.erase(user) } == "session_revoked")
            #expect(try await h.auth.user(id: user.id) == after)
            #expect(await apiCode { try await deletion.confirm(userID: user.id, password: "correct horse battery") } == "session_revoked")
        }
    }
}
