import Synchronization

/// Records events without ever blocking, throwing or awaiting: `track` stamps the
/// event (UUIDv7 id, time, service, user and session from the task's
/// ``AnalyticsContext``) and appends it to a bounded buffer that the
/// ``AnalyticsWorker`` drains. The worker validates each event before writing
/// it; invalid ones are counted and reported through
/// ``AnalyticsConfiguration/onInvalidEvent``, never thrown at the call site.
///
/// ```swift
/// let pipeline = AnalyticsPipeline(configuration: .init(service: "api", sink: store))
/// pipeline.client.track(.taskCreated(taskID: "t_1", command: "build"))
/// // run pipeline.worker in your ServiceGroup
/// ```
public final class AnalyticsClient: Sendable {
    private let buffer: EventBuffer
    private let enabled: Atomic<Bool>
    private let optedOutCount = Atomic<Int>(0)
    private let limits: EventLimits
    private let policy: PIIPolicy
    private let onInvalidEvent: (@Sendable (EventValidationError) -> Void)?
    private let rejectedCount = Atomic<Int>(0)
    private let replayLock: AsyncLock

    init(configuration: AnalyticsConfiguration, buffer: EventBuffer, replayLock: AsyncLock) {
        self.buffer = buffer
        self.replayLock = replayLock
        self.enabled = Atomic(configuration.isEnabled)
        self.limits = configuration.limits
        self.policy = configuration.piiPolicy
        self.onInvalidEvent = configuration.onInvalidEvent
    }

    /// Whether `track` records anything. Turning it off (the user opted out) makes
    /// `track` a no-op; events already buffered are still written.
    public var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }

    /// Records a catalogue event.
    ///
    /// - Parameters:
    ///   - userID: a pseudonymous id; defaults to the task's ``AnalyticsContext``.
    ///   - timestamp: when it happened; defaults to now.
    @inlinable
    public func track(_ event: consuming AnalyticsEvent, userID: consuming String? = nil, timestamp: Timestamp? = nil) {
        // `consume`: without it the optimizer copied the event into the payload
        // (a retain of each of its strings) and destroyed the original.
        record(.catalogue(consume event), userID: userID, timestamp: timestamp)
    }

    /// Records an app-defined or custom event.
    ///
    /// An app's type may add rules of its own in `validate(limits:policy:)`, which
    /// only the type knows, so they run here, before the payload leaves the type;
    /// a rejection is reported through ``AnalyticsConfiguration/onInvalidEvent`` and
    /// counted, never thrown. (The worker then checks the payload as for any event.)
    public func track(_ event: some TrackableEvent, userID: consuming String? = nil, timestamp: Timestamp? = nil) {
        guard enabled.load(ordering: .relaxed) else {
            optedOutCount.add(1, ordering: .relaxed)
            return
        }
        do {
            try event.validate(limits: limits, policy: policy)
        } catch {
            rejectedCount.add(1, ordering: .relaxed)
            onInvalidEvent?(error)
            return
        }
        record(event.payload, userID: userID, timestamp: timestamp)
    }

    /// The payload and the user id are consumed, and the event is built in its
    /// buffer slot, so both are moved, never copied, on their way into the buffer
    /// (each copy would retain and release every string they hold).
    @usableFromInline
    func record(_ payload: consuming EventPayload, userID: consuming String?, timestamp: Timestamp?) {
        guard enabled.load(ordering: .relaxed) else {
            optedOutCount.add(1, ordering: .relaxed)
            return
        }
        // The id and the time come from the buffer (see `EventBuffer.append`); the
        // service and context, unless the scope sets them, from the worker.
        buffer.append(tracked: payload, timestamp: timestamp, userID: userID, scope: AnalyticsContext.current)
    }

    /// Hands already-stamped events (an import, a replay, generated demo traffic)
    /// to the worker, keeping their ids and times. Unlike `track`, it waits while
    /// the buffer is full rather than dropping: importers want backpressure.
    /// The opt-out applies.
    ///
    /// - Returns: how many were accepted; fewer than given if the worker began
    ///   shutting down or tracking is disabled.
    @discardableResult
    public func submit(_ events: some Sequence<EnrichedEvent>) async -> Int {
        guard isEnabled else { return 0 }
        var accepted = 0
        for event in events {
            guard await buffer.appendWaitingForSpace(event) else { break }
            accepted += 1
        }
        return accepted
    }

    /// Tells the worker that events were put in its durable queue by someone else
    /// (the server spills accepted requests there while the store is down), so it
    /// replays them into the sink as it replays its own.
    public func durableQueueReceivedEvents() {
        buffer.noteQueuedElsewhere()
    }

    /// Runs `body` while the worker is not replaying: no batch is between being
    /// read from the durable queue and removed from it. A privacy erase runs here,
    /// so a replay cannot write the erased user's queued events back afterwards.
    public func withReplayPaused<Result: Sendable>(_ body: () async throws -> Result) async rethrows -> Result {
        try await replayLock.withLock(body)
    }

    /// What happened to tracked events so far, on the caller's side.
    public var statistics: Statistics {
        let counters = buffer.counters
        return Statistics(buffered: counters.accepted, droppedBufferFull: counters.droppedFull,
                          droppedAfterShutdown: counters.droppedAfterShutdown,
                          ignoredOptedOut: optedOutCount.load(ordering: .relaxed),
                          rejectedByEventType: rejectedCount.load(ordering: .relaxed), bufferDepth: buffer.count)
    }

    public struct Statistics: Sendable, Hashable {
        /// Events accepted into the buffer.
        public var buffered: Int
        /// Events dropped because the buffer was full (see ``OverflowPolicy``).
        public var droppedBufferFull: Int
        /// Events tracked after the worker began shutting down.
        public var droppedAfterShutdown: Int
        /// Events not recorded because tracking was disabled.
        public var ignoredOptedOut: Int
        /// App-defined events their own type's `validate` rejected at the call.
        public var rejectedByEventType: Int
        /// Events waiting in the buffer now.
        public var bufferDepth: Int
    }
}

/// A client and the worker that drains it, made from one configuration.
public struct AnalyticsPipeline: Sendable {
    public let client: AnalyticsClient
    public let worker: AnalyticsWorker

    public init(configuration: AnalyticsConfiguration) {
        let buffer = EventBuffer(capacity: configuration.bufferCapacity, batchSize: configuration.batchSize,
                                 overflowPolicy: configuration.overflowPolicy, service: configuration.service,
                                 context: configuration.context)
        // Held by the worker around each replayed batch, by callers of
        // `withReplayPaused` (a privacy erase) around their work.
        let replayLock = AsyncLock()
        client = AnalyticsClient(configuration: configuration, buffer: buffer, replayLock: replayLock)
        worker = AnalyticsWorker(configuration: configuration, buffer: buffer, replayLock: replayLock)
    }
}
