import CoreMetrics
import Logging

/// Everything an ``AnalyticsPipeline`` needs: where events go and how they are
/// batched, retried, bounded and checked.
///
/// ```swift
/// var configuration = AnalyticsConfiguration(service: "api", sink: store)
/// configuration.durableQueue = SQLiteEventQueue(database: spillFile)
/// let pipeline = AnalyticsPipeline(configuration: configuration)
/// ```
public struct AnalyticsConfiguration: Sendable {
    /// The service events come from, unless an ``AnalyticsContext`` says otherwise.
    public var service: String
    /// Where batches are written.
    public var sink: any EventSink
    /// Events per write. Defaults to 100.
    public var batchSize: Int = 100
    /// When the worker falls behind (more than a batch waiting), how many
    /// batches it may write in one go, into a sink that writes prepared batches in
    /// one transaction (``PreparedWriteSink``: the SQLite and PostgreSQL stores):
    /// one commit for them all instead of one each. Other sinks (an HTTP collector)
    /// always get `batchSize`. Defaults to 50 (5,000 events at the default batch
    /// size: on PostgreSQL, 75–86% of `psql \copy` against 55–71% with 10, README);
    /// 1 turns catching up off.
    public var catchUpBatches: Int = 50
    /// The longest an event waits in the buffer before a (partial) batch is written.
    /// Defaults to 10 seconds.
    public var flushInterval: Duration = .seconds(10)
    /// How many events the in-memory buffer holds. Defaults to 10,000. Its memory,
    /// about 190 bytes an event (2 MB by default; strings longer than 15 bytes live
    /// on the heap), is allocated when the pipeline is made, so `track` never
    /// pages it in.
    public var bufferCapacity: Int = 10_000
    /// What `track` does when the buffer is full. Defaults to ``OverflowPolicy/dropNewest``.
    public var overflowPolicy: OverflowPolicy = .dropNewest
    /// A local queue on disk for batches the sink cannot take. With one, a sink
    /// outage costs nothing: batches spill to disk and are replayed in order once
    /// it recovers, and a full buffer is emptied to disk. Defaults to none.
    public var durableQueue: (any DurableQueue)?
    /// How failed writes are retried. Defaults to ``RetryPolicy/init()``.
    public var retry: RetryPolicy = RetryPolicy()
    /// Limits for custom events. Defaults to ``EventLimits/default``.
    public var limits: EventLimits = .default
    /// The personal-data screen. Defaults to ``PIIPolicy/default`` (on).
    public var piiPolicy: PIIPolicy = .default
    /// The context every event carries. Defaults to the library's name and version.
    public var context: EventContext = EventContext(libraryName: "tally-swift", libraryVersion: TallyVersion.current)
    /// Called, on the worker, for every event that fails validation: such events
    /// never reach the sink and never throw at the call site. Defaults to none.
    public var onInvalidEvent: (@Sendable (EventValidationError) -> Void)?
    /// Called, on the worker, with the ids of events that became durable (committed
    /// to the sink or to the durable queue). Defaults to none.
    public var onDurable: (@Sendable ([EventID]) -> Void)?
    /// Whether tracking starts enabled; see ``AnalyticsClient/isEnabled``. Defaults to `true`.
    public var isEnabled: Bool = true
    public var logger: Logger = Logger(label: "tally.analytics")
    /// Where the worker's counters, recorders and timers go. Defaults to the
    /// process's bootstrapped `MetricsSystem`.
    public var metricsFactory: (any MetricsFactory)?

    public init(service: String, sink: any EventSink) {
        self.service = service
        self.sink = sink
    }
}

/// What happens to an event tracked while the buffer is full.
public enum OverflowPolicy: Sendable, Hashable {
    /// Keep what is buffered; drop the new event.
    case dropNewest
    /// Make room by dropping the oldest buffered event.
    case dropOldest
}

/// Exponential backoff with full jitter for failed sink writes.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts per batch before it spills to the durable queue (or, without one,
    /// before the worker keeps retrying at the maximum delay). Defaults to 4.
    public var attemptsBeforeSpilling: Int = 4
    /// The first delay. Defaults to 100 ms.
    public var baseDelay: Duration = .milliseconds(100)
    /// The longest delay. Defaults to 30 s.
    public var maxDelay: Duration = .seconds(30)
    /// How often a sink that is down is probed by replaying the durable queue.
    /// Defaults to 5 s.
    public var probeInterval: Duration = .seconds(5)
    /// Attempts per batch during shutdown, before it is spilled or given up. Defaults to 2.
    public var attemptsDuringShutdown: Int = 2

    public init() {}

    /// The delay before retry `attempt` (0-based): uniform in [0, min(max, base·2^attempt)].
    public func delay(forAttempt attempt: Int, using random: inout some RandomNumberGenerator) -> Duration {
        let cap = min(Double(maxDelay.components.seconds) + Double(maxDelay.components.attoseconds) / 1e18,
                      (Double(baseDelay.components.seconds) + Double(baseDelay.components.attoseconds) / 1e18) * pow2(attempt))
        return .nanoseconds(Int64(Double.random(in: 0...max(cap, 0), using: &random) * 1e9))
    }

    private func pow2(_ n: Int) -> Double { n >= 62 ? .greatestFiniteMagnitude : Double(1 << max(0, n)) }
}
