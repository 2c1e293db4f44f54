@testable import Accounts
import Foundation
import Testing
import TestSupport

/// Simultaneous registrations of one address (in any letter case) or one username end in one
/// account and the documented answers (202 for the address, 409 `username_taken` for the
/// name), never a constraint error (500). On PostgreSQL the transactions really overlap.
@Suite("Registration races")
struct RegistrationRaceTests {
    /// Runs `register(i)` for i in 0..<10 at once; the API error code of each (nil: accepted).
    static func concurrently(_ auth: AuthService, _ registration: @escaping @Sendable (Int) -> AuthService.Registration) async -> [String?] {
        await withTaskGroup(of: String?.self) { group in
            for i in 0..<10 {
                group.addTask {
                    await apiCode { try await auth.register(registration(i), client: AuthHarness.client) }
                }
            }
            var codes: [String?] = []
            for await code in group { codes.append(code) }
            return codes
        }
    }

    @Test("one address registered ten times at once: one account, no errors", arguments: TestDatabases.kinds)
    func sameAddress(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            let codes = await Self.concurrently(h.auth) { i in
                .init(email: i.isMultiple(of: 2) ? "Race.Case@Example.Test" : "race.case@example.test", username: "racer\(i)", password: "correct horse battery", displayName: nil)
            }
            #expect(codes.allSatisfy { $0 == nil }, "\(codes)")
            var logins = 0
            for i in 0..<10 where (try? await h.auth.login(login: "racer\(i)", password: "correct horse battery", client: AuthHarness.client)) != nil {
                logins += 1
            }
            #expect(logins == 1)
        }
    }

    @Test("one username registered ten times at once: one account, the others 409 username_taken", arguments: TestDatabases.kinds)
    func sameUsername(kind: DatabaseKind) async throws {
        try await AuthHarness.with(kind) { h in
            let codes = await Self.concurrently(h.auth) { i in
                .init(email: "same\(i)@example.test", username: "samename", password: "correct horse battery", displayName: nil)
            }
            #expect(codes.filter { $0 == nil }.count == 1, "\(codes)")
            #expect(codes.filter { $0 == "username_taken" }.count == 9, "\(codes)")
        }
    }
}

/// The store itself under an overlap forced step by step: transaction A has inserted an address
/// and not committed; transaction B inserts the same address in another letter case (on
/// PostgreSQL it waits on A's unique-index entry); A commits. B must answer `.emailTaken`, not
/// fail with a unique-constraint error.
@Suite("User store insert races")
struct UserStoreRaceTests {
    @Test("an insert that waited on a concurrent one answers emailTaken / usernameTaken", arguments: TestDatabases.kinds)
    func overlappingInserts(kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { db in
            let store = UserStore()
            for (email, username, expected) in [
                ("Overlap@Example.Test", "second", UserStore.InsertOutcome.emailTaken),
                ("other@example.test", "first", UserStore.InsertOutcome.usernameTaken),
            ] {
                let suffix = UUID().uuidString.prefix(6).lowercased()
                let (inserted, insertedSignal) = AsyncStream.makeStream(of: Void.self)
                let first = Task {
                    try await db.write { sql in
                        _ = try await store.insert(email: "overlap-\(suffix)@example.test", username: "first-\(suffix)", displayName: "A", passwordHash: "x", now: 1, on: sql)
                        insertedSignal.yield()
                        // let B reach its insert (on PostgreSQL it then waits on this transaction)
                        try await Task.sleep(for: .milliseconds(300))
                    }
                }
                for await _ in inserted { break }
                let outcome = try await db.write { sql in
                    try await store.insert(
                        email: email.replacingOccurrences(of: "Overlap@", with: "OVERLAP-\(suffix.uppercased())@"),
                        username: "\(username)-\(suffix)", displayName: "B", passwordHash: "x", now: 2, on: sql
                    )
                }
                try await first.value
                #expect(outcome == expected, "\(outcome)")
            }
        }
    }
}
