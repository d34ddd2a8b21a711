import Synchronization
import Tally

/// A real sink (usually a store) that the test can switch off: while `isDown`,
/// every write fails as an unreachable database would. It also records the
/// order in which event ids arrived, so tests can check ordering and duplicates.
public final class FlakySink: EventSink {
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String { "the sink is down (switched off by the test)" }
    }

    private struct State {
        var isDown = false
        var failuresLeft = 0
        var failedWrites = 0
        var arrivals: [EventID] = []
    }

    public let wrapped: any EventSink
    private let state = Mutex(State())

    public init(wrapping sink: any EventSink) {
        wrapped = sink
    }

    /// While `true`, every write fails.
    public var isDown: Bool {
        get { state.withLock { $0.isDown } }
        set { state.withLock { $0.isDown = newValue } }
    }

    /// Makes the next `count` writes fail, then recovers by itself.
    public func failNext(_ count: Int) {
        state.withLock { $0.failuresLeft = count }
    }

    public var failedWrites: Int { state.withLock { $0.failedWrites } }

    /// Ids of events in the order they were successfully written (repeats included).
    public var arrivals: [EventID] { state.withLock { $0.arrivals } }

    public func write(_ events: [EnrichedEvent]) async throws -> Int {
        let fail = state.withLock { state -> Bool in
            if state.isDown || state.failuresLeft > 0 {
                state.failuresLeft = max(0, state.failuresLeft - 1)
                state.failedWrites += 1
                return true
            }
            return false
        }
        if fail { throw Unavailable() }
        let inserted = try await wrapped.write(events)
        state.withLock { $0.arrivals.append(contentsOf: events.map(\.eventID)) }
        return inserted
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes. The default
/// is generous: the test suite runs in parallel on a 2-core machine.
/// - Returns: whether it held.
public func eventually(timeout: Duration = .seconds(90), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
