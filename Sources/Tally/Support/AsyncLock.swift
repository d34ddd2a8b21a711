import Synchronization

/// Mutual exclusion across suspension points: the holder may `await` while
/// holding it, and waiters queue in arrival order without blocking a thread.
/// (An actor would not do: it lets other calls in at every `await`.)
public final class AsyncLock: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Returns once the caller holds the lock. Not cancellable: holders are short.
    public func lock() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                guard state.held else { state.held = true; return true }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    /// Hands the lock to the longest waiter, or frees it.
    public func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else { state.held = false; return nil }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }

    public func withLock<Result: Sendable>(_ body: () async throws -> Result) async rethrows -> Result {
        await lock()
        defer { unlock() }
        return try await body()
    }
}
