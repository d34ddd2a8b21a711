import Synchronization

/// A token bucket per key: `requestsPerSecond` on average, bursts up to `burst`.
/// Over the rate, a request gets 429 with `Retry-After` (DESIGN.md §6).
public final class RateLimiter: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Requests per second per key. Defaults to 500 (Segment's HTTP API limit).
        public var requestsPerSecond: Double = 500
        /// The most requests a key may send at once after being idle. Defaults to 1,000.
        public var burst: Double = 1_000
        public init() {}
    }

    private struct Bucket {
        var tokens: Double
        var updatedAt: ContinuousClock.Instant
    }

    let configuration: Configuration
    private let buckets = Mutex<[String: Bucket]>([:])

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Takes a token for `key`; `nil` when admitted, else how long until a token is free.
    func admit(_ key: String, now: ContinuousClock.Instant = .now) -> Duration? {
        let rate = configuration.requestsPerSecond, burst = configuration.burst
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updatedAt: now)
            let elapsed = now - bucket.updatedAt
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + max(0, seconds) * rate)
            bucket.updatedAt = now
            defer { buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return .milliseconds(Int64(((1 - bucket.tokens) / rate * 1000).rounded(.up)))
        }
    }
}
