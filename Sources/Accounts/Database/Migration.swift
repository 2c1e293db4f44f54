import Crypto
import Foundation

/// One numbered SQL migration, already resolved for a dialect.
public struct Migration: Sendable, Equatable {
    /// File name without extension, e.g. `0001_users_sessions`; the order key.
    public let name: String
    public let sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }

    /// SHA-256 of the SQL text, hex: an applied migration whose file changed is refused.
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The statements of the file, split on `;` outside quotes and comments, and inside a
    /// `CREATE TRIGGER` only on the `;` after its closing `END` (a trigger body holds statements)
    /// (SQLite's prepare and PostgreSQL's extended protocol both take one statement at a time).
    public var statements: [String] {
        SQLScript.split(sql)
    }
}

/// Loads `NNNN_name.sql` files from a directory; a file of the same name in the
/// dialect's subfolder (`sqlite/`, `postgres/`) replaces the shared one.
public enum MigrationLoader {
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func load(directory: String, kind: DatabaseKind) throws -> [Migration] {
        let shared = try sqlFiles(in: directory)
        let specific = try sqlFiles(in: (directory as NSString).appendingPathComponent(kind.rawValue))
        guard !shared.isEmpty || !specific.isEmpty else {
            throw LoadError(description: "no migrations found in \(directory)")
        }
        let merged = shared.merging(specific) { _, dialect in dialect }
        return try merged.keys.sorted().map { name in
            let path = merged[name]!
            guard let text = FileManager.default.contents(atPath: path).flatMap({ String(data: $0, encoding: .utf8) }) else {
                throw LoadError(description: "cannot read \(path)")
            }
            return Migration(name: name, sql: text)
        }
    }

    private static func sqlFiles(in directory: String) throws -> [String: String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return [:]
        }
        var files: [String: String] = [:]
        for entry in try FileManager.default.contentsOfDirectory(atPath: directory) where entry.hasSuffix(".sql") {
            let name = String(entry.dropLast(4))
            guard name.prefix(4).allSatisfy(\.isNumber), name.count > 5 else {
                throw LoadError(description: "migration file \(entry) must be named NNNN_name.sql")
            }
            files[name] = (directory as NSString).appendingPathComponent(entry)
        }
        return files
    }
}

/// Splits an SQL script into statements.
enum SQLScript {
    static func split(_ script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inSingleQuote = false
        var inLineComment = false
        var previous: Character = "\0"
        for character in script {
            if inLineComment {
                if character == "\n" { inLineComment = false; current.append(character) }
                previous = character
                continue
            }
            if !inSingleQuote && character == "-" && previous == "-" {
                current.removeLast()
                inLineComment = true
                previous = "\0"
                continue
            }
            if character == "'" { inSingleQuote.toggle() }
            if character == ";" && !inSingleQuote && !(isTrigger(current) && !endsWithEnd(current)) {
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
            } else {
                current.append(character)
            }
            previous = character
        }
        let tail = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !tail.isEmpty { statements.append(tail) }
        return statements
    }

    /// Whether the statement so far is a `CREATE [TEMP] TRIGGER`.
    static func isTrigger(_ statement: String) -> Bool {
        let words = statement.uppercased().split(whereSeparator: { $0.isWhitespace }).prefix(3)
        return words.first == "CREATE" && (words.dropFirst().first == "TRIGGER" || (words.dropFirst().first.map { $0 == "TEMP" || $0 == "TEMPORARY" } == true && words.last == "TRIGGER"))
    }

    /// Whether the statement so far ends with the keyword `END` (a trigger's end).
    static func endsWithEnd(_ statement: String) -> Bool {
        let trimmed = statement.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        guard trimmed.hasSuffix("END") else { return false }
        let before = trimmed.dropLast(3).last
        return before.map { !($0.isLetter || $0.isNumber || $0 == "_") } ?? true
    }
}
