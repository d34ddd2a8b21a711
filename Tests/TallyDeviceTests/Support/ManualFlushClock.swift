import Synchronization
import Tally
import TallyDevice

/// A ``FlushClock`` that moves only when the test moves it: a backoff of ten
/// seconds passes without waiting ten seconds, and "too early" is exactly early,
/// however loaded the machine.
final class ManualFlushClock: Sendable {
    private let elapsed = Mutex(Duration.zero)
    /// The wall-clock time when no time has elapsed.
    let origin: Timestamp

    init(origin: Timestamp = .now()) {
        self.origin = origin
    }

    var clock: FlushClock {
        FlushClock(elapsed: { self.elapsed.withLock { $0 } }, now: { self.now })
    }

    /// The wall-clock time now.
    var now: Timestamp {
        origin.adding(elapsed.withLock { $0 })
    }

    /// Moves the clock to `time` on the wall clock (never backwards).
    func move(to time: Timestamp) {
        let target = Duration.microseconds(time.microsecondsSinceEpoch - origin.microsecondsSinceEpoch)
        elapsed.withLock { $0 = max($0, target) }
    }
}
