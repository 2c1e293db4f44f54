import SQLKit
import Synchronization

/// Column names for Codable row mapping: camelCase properties ↔ snake_case columns.
///
/// SQLKit's `.convertFromSnakeCase` recomputes the conversion (with Unicode property
/// lookups) for every key of every row; profiling `GET /api/rooms` (200 rows × 16
/// columns) showed it as a third of the request. The set of keys is small and fixed,
/// so the conversion is memoised.
extension SQLRowDecoder.KeyDecodingStrategy {
    public static let snakeCaseColumns: Self = .custom { path in
        SnakeCaseColumnCache.shared.column(for: path.last?.stringValue ?? "")
    }
}

final class SnakeCaseColumnCache: Sendable {
    static let shared = SnakeCaseColumnCache()
    private let cache = Mutex<[String: ColumnKey]>([:])

    struct ColumnKey: CodingKey, Sendable {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func column(for key: String) -> ColumnKey {
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let converted = ColumnKey(stringValue: Self.snakeCase(key))
        cache.withLock { $0[key] = converted }
        return converted
    }

    /// `lastReadMessageId` → `last_read_message_id` (ASCII keys, as our properties are).
    static func snakeCase(_ key: String) -> String {
        var result = ""
        result.reserveCapacity(key.utf8.count + 4)
        for character in key {
            if character.isASCII, character.isUppercase {
                if !result.isEmpty { result.append("_") }
                result.append(character.lowercased())
            } else {
                result.append(character)
            }
        }
        return result
    }
}
