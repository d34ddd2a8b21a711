import Tally

/// Where a flush reads the time. Backoff deadlines are kept on a monotonic clock,
/// so a change of the wall clock neither shortens nor stretches them; reports
/// give wall-clock times. Tests pass a clock they move by hand, so a backoff of
/// ten seconds takes no ten seconds to test.
public struct FlushClock: Sendable {
    /// Time elapsed on a monotonic clock since an origin of the clock's choosing.
    public var elapsed: @Sendable () -> Duration
    /// The wall clock.
    public var now: @Sendable () -> Timestamp

    public init(elapsed: @escaping @Sendable () -> Duration, now: @escaping @Sendable () -> Timestamp) {
        self.elapsed = elapsed
        self.now = now
    }

    /// The system's clocks: `ContinuousClock` and the wall clock.
    public static let system: FlushClock = {
        let origin = ContinuousClock.now
        return FlushClock(elapsed: { ContinuousClock.now - origin }, now: { Timestamp.now() })
    }()
}
