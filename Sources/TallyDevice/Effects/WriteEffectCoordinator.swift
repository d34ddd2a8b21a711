import Logging
import ServiceLifecycle
import Synchronization
import Tally

/// Runs the side effects of a mutation (queueing an analytics event, refreshing a
/// cache, notifying a webhook) after the mutation has succeeded, without letting
/// them change its result: ``dispatch(_:_:)`` returns at once and never throws,
/// an effect's failure is logged and counted, and a slow effect delays nobody.
///
/// ```swift
/// let effects = WriteEffectCoordinator()
/// // in the ServiceGroup, registered before the store so it drains before the store closes
/// let task = try await repository.createTask(input)
/// effects.dispatch("analytics.task_created") {
///     _ = try await enqueue.execute(AnalyticsEvent.taskCreated(taskID: task.id, projectID: nil, cocoonID: nil, command: input.command))
/// }
/// return task
/// ```
///
/// It is a ServiceLifecycle `Service`: `run()` executes effects with at most
/// ``Configuration/maxConcurrentEffects`` at once and a bounded backlog (beyond
/// it, new effects are dropped and counted, so a burst cannot grow memory without
/// limit). On graceful shutdown it stops accepting effects, finishes those already
/// queued within ``Configuration/drainTimeout``, then returns.
///
/// Effects run with the ``AnalyticsContext`` of the code that dispatched them, so
/// an analytics effect records the same user and session.
public final class WriteEffectCoordinator: Service, Sendable {
    /// Bounds and timing.
    public struct Configuration: Sendable {
        /// Effects running at once at most. Defaults to 4.
        public var maxConcurrentEffects: Int = 4
        /// Effects waiting to run at most; more are dropped. Defaults to 1,000.
        public var backlogCapacity: Int = 1_000
        /// How long graceful shutdown waits for queued and running effects before
        /// cancelling them. Defaults to 5 s.
        public var drainTimeout: Duration = .seconds(5)
        /// Defaults to a logger labelled `tally.effects`.
        public var logger: Logger = Logger(label: "tally.effects")

        public init() {}
    }

    /// Counts since creation, for tests, debug screens and health checks.
    public struct Statistics: Sendable, Hashable {
        /// Effects accepted into the backlog.
        public var dispatched = 0
        /// Effects that ran to the end without throwing.
        public var succeeded = 0
        /// Effects that threw.
        public var failed = 0
        /// Effects refused (backlog full, or after shutdown) or abandoned at the drain timeout.
        public var dropped = 0
        /// Effects waiting to start.
        public var backlog = 0
        /// Effects running now.
        public var running = 0
    }

    /// One dispatched effect.
    struct Effect: Sendable {
        var name: String
        var context: AnalyticsContext?
        var body: @Sendable () async throws -> Void
    }

    private struct State {
        var statistics = Statistics()
        var acceptsEffects = true
    }

    public let configuration: Configuration
    private let stream: AsyncStream<Effect>
    private let continuation: AsyncStream<Effect>.Continuation
    private let state = Mutex(State())
    private let metrics = EffectMetrics()

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        // Unbounded here, bounded by `backlogCapacity` in `dispatch`, so that the
        // count of waiting effects is exact and every drop is counted.
        (stream, continuation) = AsyncStream.makeStream(of: Effect.self, bufferingPolicy: .unbounded)
    }

    /// Schedules `effect` to run soon, on the coordinator's `run()`. Returns at
    /// once; never throws. When the backlog is full or the coordinator has shut
    /// down, the effect is dropped, logged and counted.
    ///
    /// - Parameters:
    ///   - name: What the effect does, for logs (`analytics.task_created`).
    ///   - effect: The work. Its errors are logged and counted, never propagated.
    public func dispatch(_ name: String, _ effect: @escaping @Sendable () async throws -> Void) {
        let item = Effect(name: name, context: AnalyticsContext.current, body: effect)
        let accepted = state.withLock { state -> Bool in
            guard state.acceptsEffects, state.statistics.backlog < configuration.backlogCapacity else {
                state.statistics.dropped += 1
                return false
            }
            // Yielding under the lock keeps `backlog` exact against the consumer's decrement.
            guard case .enqueued = continuation.yield(item) else {
                state.statistics.dropped += 1
                return false
            }
            state.statistics.backlog += 1
            state.statistics.dispatched += 1
            return true
        }
        if accepted {
            metrics.dispatched.increment()
        } else {
            metrics.dropped.increment()
            configuration.logger.warning("write effect \(name) dropped: the backlog is full (\(configuration.backlogCapacity)) or the coordinator has stopped")
        }
    }

    /// Counts so far.
    public var statistics: Statistics {
        state.withLock { $0.statistics }
    }

    /// Runs effects until graceful shutdown, then drains the backlog (within
    /// ``Configuration/drainTimeout``) and returns. Call it once.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.consume() }
            group.addTask { await self.stopAcceptingOnShutdown() }
            // The first to end decides: the consumer has drained, or the drain timed out
            // (or the task was cancelled). Either way the other one is no longer needed.
            await group.next()
            group.cancelAll()
        }
        // Whatever is still queued was abandoned by cancellation or the drain timeout.
        let abandoned = state.withLock { state -> Int in
            state.acceptsEffects = false
            let abandoned = state.statistics.backlog
            state.statistics.dropped += abandoned
            state.statistics.backlog = 0
            return abandoned
        }
        continuation.finish()
        if abandoned > 0 {
            metrics.dropped.increment(by: Int64(abandoned))
            configuration.logger.warning("\(abandoned) write effects abandoned at shutdown (drain timeout \(configuration.drainTimeout))")
        }
    }

    /// Waits for graceful shutdown, stops accepting effects so the backlog can only
    /// shrink, then gives the drain its time.
    private func stopAcceptingOnShutdown() async {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: `run()` ends now.
        }
        state.withLock { $0.acceptsEffects = false }
        continuation.finish()
        try? await Task.sleep(for: configuration.drainTimeout)
        if !Task.isCancelled {
            configuration.logger.warning("write effects did not drain within \(configuration.drainTimeout); cancelling the rest")
        }
    }

    /// Pulls effects off the stream and runs them, at most `maxConcurrentEffects` at once.
    private func consume() async {
        let limit = max(1, configuration.maxConcurrentEffects)
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            var iterator = stream.makeAsyncIterator()
            while !Task.isCancelled {
                if running >= limit {
                    // Wait for a slot before taking the next effect, so that waiting
                    // effects stay in the (counted, bounded) backlog.
                    await group.next()
                    running -= 1
                    continue
                }
                guard let effect = await iterator.next() else { break }
                state.withLock {
                    $0.statistics.backlog -= 1
                    $0.statistics.running += 1
                }
                group.addTask { await self.execute(effect) }
                running += 1
            }
        }
    }

    private func execute(_ effect: Effect) async {
        do {
            try await AnalyticsContext.$current.withValue(effect.context) {
                try await effect.body()
            }
            state.withLock {
                $0.statistics.running -= 1
                $0.statistics.succeeded += 1
            }
        } catch {
            state.withLock {
                $0.statistics.running -= 1
                $0.statistics.failed += 1
            }
            metrics.failed.increment()
            configuration.logger.error("write effect \(effect.name) failed: \(error)")
        }
    }
}
