import Accounts
import Models
import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `switchboard admin create|promote`: bootstrap server administrators (issue 16). Both apply
/// pending migrations first, take the same configuration as `serve` (`--database-url …`,
/// `DATA_DIR`, …) and exit 1 with a message on stderr when they cannot do what was asked.
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or promote server administrators.",
        subcommands: [Create.self, Promote.self]
    )

    /// `admin create --email … --username … [--display-name …]`: a new account with the server
    /// role `admin` and a verified address (the operator vouches for it). The password is
    /// prompted for twice without echo on a terminal, or read as the first line of stdin
    /// otherwise (`printf '%s\n' "$PW" | switchboard admin create …`); 8–128 characters.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an administrator account (password from a prompt or stdin).")

        @Option(help: "The administrator's email address.") var email: String
        @Option(help: "The administrator's username (3-32 of a-z 0-9 _ . -).") var username: String
        @Option(help: "The display name (default: the username).") var displayName: String?
        @Argument(parsing: .allUnrecognized, help: "Configuration overrides, e.g. --data-dir ./data") var settings: [String] = []

        func run() async throws {
            var problems: [String] = []
            var validator = FieldValidator()
            let email = validator.check("email", AccountValidation.email(self.email))
            let username = validator.check("username", AccountValidation.username(self.username))
            let displayName = validator.check("displayName", AccountValidation.displayName(self.displayName ?? self.username))
            do { try validator.throwIfInvalid() } catch let error as ServiceError {
                problems += (error.fields ?? [:]).sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }
            }
            if let username, username.hasPrefix(GuestStore.usernamePrefix) { problems.append("username must not start with \"\(GuestStore.usernamePrefix)\"") }
            if let username, username.lowercased().hasPrefix(AccountDeletion.usernamePrefix) { problems.append("username must not start with \"\(AccountDeletion.usernamePrefix)\"") }
            guard problems.isEmpty, let email, let username, let displayName else { fail(problems.joined(separator: "; ")) }
            let password = readPassword()
            if case .failure(let problem) = AccountValidation.password(password) { fail("password \(problem.message)") }
            let config = await loadConfiguration(settings)
            let hasher = PasswordHasher(parameters: config.passwordHashing, threads: 1, maxQueued: 1)
            let hash = try await hasher.hash(password)
            let outcome = try await withMigrationRunner(settings) { _, migrations, database, logger in
                _ = try await applyMigrations(migrations, on: database, logger: logger)
                let now = Date().millis
                return try await database.write { db -> String? in
                    switch try await UserStore().insert(email: email, username: username, displayName: displayName, passwordHash: hash, now: now, on: db) {
                    case .created(let user):
                        try await UserStore().markEmailVerified(id: user.id, now: now, on: db)
                        _ = try await AdminStore().setServerRole(username: username, role: .admin, now: now, on: db)
                        return nil
                    case .emailTaken: return "an account with that email address exists (use: switchboard admin promote <username>)"
                    case .usernameTaken: return "the username is taken (use: switchboard admin promote \(username))"
                    }
                }
            }
            if let outcome { fail(outcome) }
            print("created administrator \(username)")
        }

        func readPassword() -> String {
            guard isatty(STDIN_FILENO) == 1 else {
                guard let line = Swift.readLine(strippingNewline: true) else { fail("no password on stdin") }
                return line
            }
            let first = promptWithoutEcho("Password: ")
            let second = promptWithoutEcho("Repeat the password: ")
            guard first == second else { fail("the passwords differ") }
            return first
        }
    }

    /// `admin promote <username>`: gives an existing account (not a guest) the server role `admin`.
    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an existing account an administrator.")

        @Argument(help: "The account's username.") var username: String
        @Argument(parsing: .allUnrecognized, help: "Configuration overrides, e.g. --data-dir ./data") var settings: [String] = []

        func run() async throws {
            let username = self.username.trimmingCharacters(in: .whitespaces)
            let found = try await withMigrationRunner(settings) { _, migrations, database, logger in
                _ = try await applyMigrations(migrations, on: database, logger: logger)
                return try await database.write { db in try await AdminStore().setServerRole(username: username, role: .admin, now: Date().millis, on: db) }
            }
            guard found else { fail("no account named \(username)") }
            print("\(username.lowercased()) is now an administrator")
        }
    }
}

/// Writes `message` to stderr and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("switchboard: " + message + "\n").utf8))
    Foundation.exit(1)
}

/// Reads one line from the terminal with echo turned off (termios), restoring it after.
func promptWithoutEcho(_ prompt: String) -> String {
    FileHandle.standardError.write(Data(prompt.utf8))
    var saved = termios()
    tcgetattr(STDIN_FILENO, &saved)
    var silent = saved
    silent.c_lflag &= ~tcflag_t(ECHO)
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
    defer {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
        FileHandle.standardError.write(Data("\n".utf8))
    }
    return Swift.readLine(strippingNewline: true) ?? ""
}
