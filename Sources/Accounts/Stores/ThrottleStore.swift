import Foundation
import SQLKit

/// Leaky-bucket counters for auth throttling, shared by all nodes through the database.
///
/// Each failure adds 1 to a key's score; the score drains at `ratePerSecond`.
/// A key is blocked while one more event would take its drained score over `limit`
/// (so `limit` events pass, the next is refused), and the block lifts by itself as
/// the score drains: a lockout can never be made permanent.
public struct ThrottleRule: Sendable {
    public var limit: Double
    public var ratePerSecond: Double

    public init(limit: Double, ratePerSecond: Double) {
        self.limit = limit
        self.ratePerSecond = ratePerSecond
    }
}

public struct ThrottleStore: Sendable {
    public init() {}

    struct Row: Decodable {
        let score: Double
        let updatedAt: Int64
    }

    private func drained(_ row: Row?, rule: ThrottleRule, now: Int64) -> Double {
        guard let row else { return 0 }
        let elapsed = Double(max(0, now - row.updatedAt)) / 1000
        return max(0, row.score - elapsed * rule.ratePerSecond)
    }

    /// Seconds until `key` may try again, or nil when it is not blocked.
    public func blockedFor(key: String, rule: ThrottleRule, now: Int64, on db: any SQLDatabase) async throws -> Int? {
        let row = try await db.raw("SELECT score, updated_at FROM auth_throttle WHERE key = \(bind: key)")
            .first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        let next = drained(row, rule: rule, now: now) + 1
        guard next > rule.limit else { return nil }
        return Int(((next - rule.limit) / rule.ratePerSecond).rounded(.up))
    }

    /// Adds one event to `key`; returns seconds blocked after it, or nil.
    @discardableResult
    public func hit(key: String, rule: ThrottleRule, now: Int64, on db: any SQLDatabase) async throws -> Int? {
        let row = try await db.raw("SELECT score, updated_at FROM auth_throttle WHERE key = \(bind: key)")
            .first(decoding: Row.self, keyDecodingStrategy: .snakeCaseColumns)
        let score = drained(row, rule: rule, now: now) + 1
        try await db.raw(
            """
            INSERT INTO auth_throttle (key, score, updated_at) VALUES (\(bind: key), \(bind: score), \(bind: now))
            ON CONFLICT (key) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at
            """
        ).run()
        guard score > rule.limit else { return nil }
        return Int(((score - rule.limit) / rule.ratePerSecond).rounded(.up))
    }

    public func reset(key: String, on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM auth_throttle WHERE key = \(bind: key)").run()
    }
}
