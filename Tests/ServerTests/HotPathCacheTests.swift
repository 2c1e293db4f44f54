import Accounts
import Foundation
import Hummingbird
import HummingbirdTesting
import Relay
import Testing
import TestSupport
@testable import Server

/// Issue 14: what the realtime hot path keeps between events (verified tokens) or reads from
/// the send's own statement (membership) never outlives a revocation or a removal.
@Suite("Realtime hot path: no stale answers")
struct HotPathCacheTests {
    @Test("a token verified (and cached) before its session was revoked is refused at the next CONNECT and auth:refresh", arguments: TestApp.databaseKinds)
    func revokedTokenRefusedAtOnce(kind: DatabaseKind) async throws {
        try await RealtimeGatewayTests.withChat(kind) { client, port in
            let ann = try await ChatREST.user(client, "ann")
            let other = try await ChatREST.login(client, "ann")
            let first = try await ChatSocket.connect(port: port, token: ann.token)  // verifies and caches the token
            let survivor = try await ChatSocket.connect(port: port, token: other.token)
            defer { first.close(); survivor.close() }
            let again = try await ChatSocket.connect(port: port, token: ann.token)  // served from the cache
            again.close()

            let logout = try await client.execute(uri: "/api/auth/logout", method: .post, headers: SessionRevocationHTTPTests.bearer(ann.token))
            #expect(logout.status == .noContent)
            let answer = try await ChatSocket.connectAnswer(port: port, auth: RealtimeGatewayTests.auth(ann.token))
            #expect(answer == RealtimeGatewayTests.refusal("session_revoked", "This session has ended; log in again."))
            // the same token handed to a live socket of another session
            let refreshed = try await survivor.call("auth:refresh", ["token": .string(ann.token)])
            RealtimeGatewayTests.expectFailure(refreshed, "session_revoked")
        }
    }

    @Test("a member who left is refused not_a_member on the very next message:send; the others still post", arguments: TestApp.databaseKinds)
    func removedMemberRefusedAtOnce(kind: DatabaseKind) async throws {
        try await RealtimeGatewayTests.withChat(kind) { client, port in
            let (ann, bob, room) = try await ChatREST.roomOfTwo(client)
            let annSocket = try await ChatSocket.connect(port: port, token: ann.token)
            let bobSocket = try await ChatSocket.connect(port: port, token: bob.token)
            defer { annSocket.close(); bobSocket.close() }
            #expect(try await bobSocket.call("message:send", RealtimeGatewayTests.send(room, "in", "b-1"))["ok"] == true)

            let left = try await client.execute(uri: "/api/rooms/\(room)/leave", method: .post, headers: SessionRevocationHTTPTests.bearer(bob.token))
            #expect(left.status == .noContent || left.status == .ok)
            RealtimeGatewayTests.expectFailure(try await bobSocket.call("message:send", RealtimeGatewayTests.send(room, "out", "b-2")), "not_a_member")
            // the same clientMsgId as a message bob stored while a member: still not a member, not a duplicate
            RealtimeGatewayTests.expectFailure(try await bobSocket.call("message:send", RealtimeGatewayTests.send(room, "in", "b-1")), "not_a_member")
            #expect(try await annSocket.call("message:send", RealtimeGatewayTests.send(room, "still here", "a-1"))["ok"] == true)
        }
    }
}
