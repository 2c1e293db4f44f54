@testable import Accounts
import Foundation
import Testing

@Suite("Wire time")
struct WireTimeTests {
    @Test("matches Foundation's ISO-8601 formatting across eras, leap days and milliseconds")
    func matchesFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var samples: [Int64] = [0, 1, 999, 86_399_999, 951_782_400_000, 1_709_164_800_123, 4_102_444_799_999, -1, -86_400_001]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 { samples.append(Int64.random(in: -2_000_000_000_000...5_000_000_000_000, using: &generator)) }
        for millis in samples {
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
            #expect(WireTime.string(millis: millis) == expected, "\(millis)")
        }
        #expect(WireTime.string(millis: 1_800_000_000_123) == "2027-01-15T08:00:00.123Z")
    }
}

@Suite("Column keys")
struct ColumnKeyTests {
    @Test("camelCase properties map to snake_case columns")
    func snakeCase() {
        #expect(SnakeCaseColumnCache.snakeCase("lastReadMessageId") == "last_read_message_id")
        #expect(SnakeCaseColumnCache.snakeCase("id") == "id")
        #expect(SnakeCaseColumnCache.snakeCase("emailVerifiedAt") == "email_verified_at")
        #expect(SnakeCaseColumnCache.shared.column(for: "userId").stringValue == "user_id")
    }
}
