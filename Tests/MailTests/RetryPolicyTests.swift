import Testing

@testable import Mail

@Suite("RetryPolicy")
struct RetryPolicyTests {
    let policy = RetryPolicy(
        baseDelay: .seconds(2),
        maxDelay: .seconds(60),
        maxAttempts: 6,
        maxAge: .seconds(3600),
        jitter: .full
    )

    @Test func fullJitterStaysUnderTheExponentialCeiling() {
        var generator = SeededGenerator(seed: 42)
        for attempts in 1...12 {
            let ceiling = min(Duration.seconds(60), .seconds(2) * (1 << min(attempts - 1, 20)))
            for _ in 0..<200 {
                let delay = self.policy.backoff(attempts: attempts, using: &generator)
                #expect(delay >= .zero)
                #expect(delay <= ceiling)
            }
        }
    }

    @Test func fullJitterIsReproducibleWithASeed() {
        var first = SeededGenerator(seed: 7)
        var second = SeededGenerator(seed: 7)
        let a = (1...6).map { self.policy.backoff(attempts: $0, using: &first) }
        let b = (1...6).map { self.policy.backoff(attempts: $0, using: &second) }
        #expect(a == b)
        // Not all equal: the jitter does something.
        #expect(Set(a).count > 1)
    }

    @Test func fullJitterExtremes() {
        // The largest word maps to the top of the range.
        var top = ConstantGenerator(value: .max)
        #expect(self.policy.backoff(attempts: 1, using: &top) == .seconds(2))
        #expect(self.policy.backoff(attempts: 3, using: &top) == .seconds(8))
        #expect(self.policy.backoff(attempts: 10, using: &top) == .seconds(60))
        #expect(self.policy.backoff(attempts: 1_000, using: &top) == .seconds(60))
        // Full jitter reaches down to zero.
        var generator = SeededGenerator(seed: 3)
        let samples = (0..<500).map { _ in self.policy.backoff(attempts: 3, using: &generator) }
        #expect(samples.min()! < .milliseconds(100))
        #expect(samples.max()! <= .seconds(8))
    }

    @Test func decorrelatedJitterGrowsFromThePreviousDelay() {
        var policy = self.policy
        policy.jitter = .decorrelated
        var top = ConstantGenerator(value: .max)
        #expect(policy.backoff(attempts: 1, previousDelay: nil, using: &top) == .seconds(6))
        #expect(policy.backoff(attempts: 2, previousDelay: .seconds(6), using: &top) == .seconds(18))
        #expect(policy.backoff(attempts: 3, previousDelay: .seconds(50), using: &top) == .seconds(60))

        var generator = SeededGenerator(seed: 99)
        var previous: Duration? = nil
        var smallest = Duration.seconds(60)
        for attempts in 1...500 {
            let delay = policy.backoff(attempts: attempts, previousDelay: previous, using: &generator)
            #expect(delay >= .seconds(2))
            #expect(delay <= .seconds(60))
            smallest = min(smallest, delay)
            previous = delay
        }
        // Decorrelated jitter never goes below the base, but gets close to it.
        #expect(smallest < .milliseconds(2500))
    }

    @Test func permanentFailuresAreNotRetried() {
        var generator = SeededGenerator(seed: 1)
        #expect(self.policy.decide(after: .permanent, attempts: 1, age: .zero, using: &generator) == .giveUp)
    }

    @Test func givesUpAfterMaxAttempts() {
        var generator = ConstantGenerator(value: .max)
        #expect(
            self.policy.decide(after: .retry(after: nil), attempts: 5, age: .zero, using: &generator)
                == .retry(after: .seconds(32))
        )
        #expect(self.policy.decide(after: .retry(after: nil), attempts: 6, age: .zero, using: &generator) == .giveUp)
    }

    @Test func givesUpWhenTheNextAttemptWouldBeTooOld() {
        var generator = ConstantGenerator(value: .max)
        #expect(
            self.policy.decide(after: .retry(after: nil), attempts: 1, age: .seconds(3599), using: &generator)
                == .giveUp
        )
        #expect(
            self.policy.decide(after: .retry(after: nil), attempts: 1, age: .seconds(3598), using: &generator)
                == .retry(after: .seconds(2))
        )
        // A long Retry-After past the maximum age gives up too.
        #expect(
            self.policy.decide(after: .retry(after: .seconds(7200)), attempts: 1, age: .zero, using: &generator)
                == .giveUp
        )
    }

    @Test func retryAfterWinsWhenLarger() {
        var top = ConstantGenerator(value: .max)
        // Computed 2 s; the provider asks for 30 s, even above maxDelay's 60 s at 90 s.
        #expect(
            self.policy.decide(after: .retry(after: .seconds(30)), attempts: 1, age: .zero, using: &top)
                == .retry(after: .seconds(30))
        )
        #expect(
            self.policy.decide(after: .retry(after: .seconds(90)), attempts: 1, age: .zero, using: &top)
                == .retry(after: .seconds(90))
        )
        // Computed 16 s beats a Retry-After of 1 s.
        #expect(
            self.policy.decide(after: .retry(after: .seconds(1)), attempts: 4, age: .zero, using: &top)
                == .retry(after: .seconds(16))
        )
    }

    @Test func defaultStaysWithinTheIdempotencyWindow() {
        #expect(RetryPolicy.default.maxAge < .seconds(24 * 3600))
        #expect(RetryPolicy.default.maxAttempts > 1)
        // The system-random overload works too.
        let decision = RetryPolicy.default.decide(after: .retry(after: nil), attempts: 1, age: .zero)
        guard case .retry(let delay) = decision else {
            Issue.record("expected a retry, got \(decision)")
            return
        }
        #expect(delay <= RetryPolicy.default.baseDelay)
    }
}
