/// When to try a failed mail again, and when to give up.
///
/// Exponential backoff with jitter (full jitter by default; decorrelated
/// jitter on request), bounded by ``maxDelay``, ``maxAttempts`` and
/// ``maxAge``. A provider's Retry-After wins when it is longer than the
/// computed delay.
///
/// The outbox worker, after a failed attempt:
/// ```swift
/// switch policy.decide(after: error.disposition, attempts: row.attempts, age: now - row.createdAt,
///                      previousDelay: row.lastDelay) {
/// case .retry(let delay): // next_attempt_at = now + delay
/// case .giveUp:           // mark the row dead
/// }
/// ```
public struct RetryPolicy: Sendable, Hashable {
    public enum Jitter: Sendable, Hashable {
        /// `random(0 ... min(maxDelay, baseDelay * 2^(attempts-1)))`.
        case full
        /// `min(maxDelay, random(baseDelay ... previousDelay * 3))`.
        case decorrelated
    }

    public enum Decision: Sendable, Hashable {
        case retry(after: Duration)
        case giveUp
    }

    /// The scale of the first delay.
    public var baseDelay: Duration
    /// The largest computed delay (a longer Retry-After still wins).
    public var maxDelay: Duration
    /// Attempts in all, the first one included.
    public var maxAttempts: Int
    /// No attempt is scheduled later than this after the mail was enqueued.
    public var maxAge: Duration
    public var jitter: Jitter

    public init(
        baseDelay: Duration = .seconds(5),
        maxDelay: Duration = .seconds(15 * 60),
        maxAttempts: Int = 12,
        maxAge: Duration = .seconds(23 * 60 * 60),
        jitter: Jitter = .full
    ) {
        precondition(baseDelay > .zero, "baseDelay must be positive")
        precondition(maxDelay >= baseDelay, "maxDelay must be at least baseDelay")
        precondition(maxAttempts >= 1, "maxAttempts must be at least 1")
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
        self.maxAge = maxAge
        self.jitter = jitter
    }

    /// The defaults: 5 s base, 15 min cap, 12 attempts, 23 hours. The maximum
    /// age stays under Resend's 24-hour idempotency-key lifetime, so a retry
    /// can never be accepted as a new mail.
    public static let `default` = RetryPolicy()

    /// What to do after the attempt number `attempts` (1 for the first) failed.
    ///
    /// - Parameters:
    ///   - disposition: The failure's ``MailError/disposition``.
    ///   - attempts: Attempts made so far, the failed one included.
    ///   - age: Time since the mail was enqueued.
    ///   - previousDelay: The delay that preceded the failed attempt (used by
    ///     decorrelated jitter; nil before the first retry).
    ///   - generator: The random source (a seeded one in tests).
    public func decide(
        after disposition: MailError.Disposition,
        attempts: Int,
        age: Duration,
        previousDelay: Duration? = nil,
        using generator: inout some RandomNumberGenerator
    ) -> Decision {
        guard case .retry(let retryAfter) = disposition else { return .giveUp }
        guard attempts < self.maxAttempts else { return .giveUp }
        var delay = self.backoff(attempts: attempts, previousDelay: previousDelay, using: &generator)
        if let retryAfter, retryAfter > delay {
            delay = retryAfter
        }
        guard age + delay <= self.maxAge else { return .giveUp }
        return .retry(after: delay)
    }

    /// ``decide(after:attempts:age:previousDelay:using:)`` with the system's
    /// random source.
    public func decide(
        after disposition: MailError.Disposition,
        attempts: Int,
        age: Duration,
        previousDelay: Duration? = nil
    ) -> Decision {
        var generator = SystemRandomNumberGenerator()
        return self.decide(
            after: disposition,
            attempts: attempts,
            age: age,
            previousDelay: previousDelay,
            using: &generator
        )
    }

    /// The jittered delay after `attempts` failed attempts, ignoring
    /// Retry-After and the limits on attempts and age.
    public func backoff(
        attempts: Int,
        previousDelay: Duration? = nil,
        using generator: inout some RandomNumberGenerator
    ) -> Duration {
        let base = Self.nanoseconds(self.baseDelay)
        let cap = Self.nanoseconds(self.maxDelay)
        switch self.jitter {
        case .full:
            var ceiling = base
            var doublings = max(0, attempts - 1)
            while doublings > 0 && ceiling < cap {
                ceiling = ceiling > cap / 2 ? cap : ceiling * 2
                doublings -= 1
            }
            ceiling = min(ceiling, cap)
            return .nanoseconds(Int64.random(in: 0...ceiling, using: &generator))
        case .decorrelated:
            let previous = Self.nanoseconds(previousDelay ?? self.baseDelay)
            let upper = previous > Int64.max / 3 ? Int64.max : previous * 3
            let bounded = max(base, min(upper, cap))
            return .nanoseconds(Int64.random(in: base...bounded, using: &generator))
        }
    }

    /// Whole nanoseconds of a non-negative duration, saturating at `Int64.max`.
    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        guard seconds < Int64.max / 1_000_000_000 - 1 else { return Int64.max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
