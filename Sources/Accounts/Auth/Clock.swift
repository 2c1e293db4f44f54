import Foundation

/// The time source of the accounts and chat services; tests inject a controllable one.
public struct AccountsClock: Sendable {
    public let now: @Sendable () -> Date
    public init(now: @escaping @Sendable () -> Date) { self.now = now }
    public static let system = AccountsClock { Date() }
}

/// Milliseconds since the Unix epoch: how times are stored in both dialects.
extension Date {
    /// Rounded to the nearest millisecond.
    public var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    public init(millis: Int64) { self.init(timeIntervalSince1970: Double(millis) / 1000) }
}

/// The one conversion of a `Duration` to numbers for the modules that import Accounts (Chat,
/// Server, their tests). Relay and Mail import nothing of ours and keep their own (one each).
extension Duration {
    /// Whole milliseconds, truncated toward zero (the unit times are stored in).
    public var millis: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
    /// Seconds as a `Double` (as `TimeInterval` counts them).
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
