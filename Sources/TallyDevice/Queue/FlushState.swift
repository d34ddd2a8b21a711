import Synchronization
import Tally

/// What flushes share: whether one is running, and the backoff after transient
/// failures. Behind a `Mutex` so that two flushes started together (a timer and
/// the app going to the background, say) never send the same rows twice: the
/// second sees the first running and returns at once.
final class FlushState: Sendable {
    struct Backoff: Sendable {
        var consecutiveFailures = 0
        /// No request before this time on the flush's monotonic clock
        /// (``FlushClock/elapsed``).
        var deadline: Duration?
        /// The same instant on the wall clock, for reports.
        var nextRetryAt: Timestamp?
    }

    private struct State {
        var isRunning = false
        var backoff = Backoff()
    }

    private let state = Mutex(State())

    /// Claims the right to flush. Returns `false` when another flush holds it.
    func begin() -> Bool {
        state.withLock { state in
            if state.isRunning { return false }
            state.isRunning = true
            return true
        }
    }

    func end() {
        state.withLock { $0.isRunning = false }
    }

    /// The backoff's deadline when it has not passed yet.
    func pendingBackoff(now: Duration) -> Backoff? {
        state.withLock { state in
            guard let deadline = state.backoff.deadline, deadline > now else { return nil }
            return state.backoff
        }
    }

    /// Records a transient failure and returns the new failure count.
    func recordFailure() -> Int {
        state.withLock { state in
            state.backoff.consecutiveFailures += 1
            return state.backoff.consecutiveFailures
        }
    }

    func scheduleRetry(at deadline: Duration, wallClock: Timestamp) {
        state.withLock { state in
            state.backoff.deadline = deadline
            state.backoff.nextRetryAt = wallClock
        }
    }

    /// The collector answered: the next failure starts the backoff from scratch.
    func recordSuccess() {
        state.withLock { $0.backoff = Backoff() }
    }
}
