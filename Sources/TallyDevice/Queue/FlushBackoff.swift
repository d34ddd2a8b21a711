/// How long a flush waits after a transient failure: exponential in the number
/// of consecutive failures, with jitter so that devices that went offline
/// together do not all come back in the same second, and never sooner than the
/// collector's `Retry-After`.
public struct FlushBackoff: Sendable, Hashable {
    /// The wait after the first failure. Defaults to 1 s.
    public var initialDelay: Duration = .seconds(1)
    /// The longest wait. Defaults to 5 minutes.
    public var maximumDelay: Duration = .seconds(300)
    /// The growth per consecutive failure. Defaults to 2.
    public var multiplier: Double = 2
    /// The fraction of the delay that is random: 0.5 means between 50% and 100% of
    /// it. Defaults to 0.5.
    public var jitter: Double = 0.5

    public init() {}

    /// The wait after `failures` consecutive failures (1 for the first), at least `retryAfter`.
    public func delay(afterFailures failures: Int, retryAfter: Duration?, using random: inout some RandomNumberGenerator) -> Duration {
        var base = initialDelay
        for _ in 1..<max(1, failures) where base < maximumDelay {
            base = base * multiplier
        }
        base = min(base, maximumDelay)
        let fraction = 1 - Double.random(in: 0...max(0, min(1, jitter)), using: &random)
        let jittered = base * fraction
        guard let retryAfter else { return jittered }
        return max(jittered, retryAfter)
    }
}
