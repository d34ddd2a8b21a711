import Logging
import Tally
import TallySQLite

/// Records one event on the device: checks the user's choice, validates, enriches
/// and appends it durably to `analytics_queue`, then keeps the queue bounded.
///
/// ```swift
/// let enqueue = EnqueueAnalyticsEventUseCase(queue: queue, settings: settings, service: "ios-app",
///                                            context: EventContext(libraryName: "tally-swift", appVersion: "2.4.1"))
/// let result = try await enqueue.execute(AnalyticsEvent.pageView(path: "/home", referrer: nil))
/// ```
///
/// Opting out (`analytics_enabled` false) makes it return
/// ``EnqueueResult/skippedAnalyticsDisabled`` without writing anything. The queue is
/// bounded in size (oldest entries go first) and in age, so a device that stays
/// offline for weeks never fills its disk with analytics.
public struct EnqueueAnalyticsEventUseCase: Sendable {
    public let queue: SQLiteEventQueue
    public let settings: SQLiteAnalyticsSettings
    /// The service events are attributed to unless ``AnalyticsContext`` overrides it.
    public let service: String
    /// Library, app, OS and locale, attached to every event.
    public let context: EventContext
    public let limits: EventLimits
    public let policy: PIIPolicy
    /// The most entries the queue keeps; beyond it the oldest are removed.
    public let maxQueueSize: Int
    /// Entries older than this are removed.
    public let maxAge: Duration
    private let logger: Logger
    private let metrics = DeviceMetrics()

    /// - Parameters:
    ///   - queue: The device's `analytics_queue`.
    ///   - settings: Where the user's opt-out is persisted.
    ///   - service: The service events are attributed to, e.g. `ios-app`.
    ///   - context: Library, app, OS and locale. Defaults to none.
    ///   - limits: Generic event limits. Defaults to ``EventLimits/default`` (32 KB an event).
    ///   - policy: The PII policy. Defaults to ``PIIPolicy/default`` (on).
    ///   - maxQueueSize: Defaults to 10,000 entries.
    ///   - maxAge: Defaults to 7 days.
    ///   - logger: Defaults to a logger labelled `tally.device`.
    public init(
        queue: SQLiteEventQueue, settings: SQLiteAnalyticsSettings, service: String, context: EventContext = EventContext(),
        limits: EventLimits = .default, policy: PIIPolicy = .default,
        maxQueueSize: Int = 10_000, maxAge: Duration = .seconds(7 * 86_400),
        logger: Logger = Logger(label: "tally.device")
    ) {
        self.queue = queue
        self.settings = settings
        self.service = service
        self.context = context
        self.limits = limits
        self.policy = policy
        self.maxQueueSize = max(1, maxQueueSize)
        self.maxAge = maxAge
        self.logger = logger
    }

    /// Queues `event` for the next flush.
    ///
    /// - Parameters:
    ///   - event: What happened.
    ///   - userID: A pseudonymous user id (see ``Pseudonymizer``). Defaults to the
    ///     user of ``AnalyticsContext/current``, if any.
    /// - Returns: Whether it was queued, skipped because the user opted out, or invalid.
    /// - Throws: Only when the database cannot be read or written.
    public func execute(_ event: some TrackableEvent, userID: String? = nil) async throws -> EnqueueResult {
        guard try await settings.isEnabled() else {
            metrics.skippedDisabled.increment()
            return .skippedAnalyticsDisabled
        }
        let enriched = enrich(event, userID: userID)
        do {
            // The event's own rules (an app's typed event may add some), then the envelope's ids.
            try event.validate(limits: limits, policy: policy)
            try enriched.validateEnvelope(policy: policy)
        } catch {
            metrics.invalid.increment()
            // `description` never prints property values, so this log leaks no data.
            logger.warning("analytics: invalid event not queued: \(error)")
            return .invalid(error)
        }
        try await queue.enqueue([enriched])
        metrics.enqueued.increment()

        let cutoff = enriched.receivedAt.adding(.zero - maxAge)
        let trimmed = try await queue.trim(maxCount: maxQueueSize, olderThan: cutoff)
        if trimmed > 0 {
            metrics.trimmed.increment(by: Int64(trimmed))
            logger.notice("analytics: queue bounded to \(maxQueueSize) entries and \(maxAge); removed \(trimmed) of the oldest")
        }
        return .queued(enriched.eventID, trimmed: trimmed)
    }

    /// The event with its id, times, service, user and context, the way §2 of the
    /// design describes: arguments win over the task-local context, which wins over
    /// this use case's configuration.
    func enrich(_ event: some TrackableEvent, userID: String?) -> EnrichedEvent {
        let now = Timestamp.now()
        return EnrichedEvent(stamping: event.payload, eventID: EventID.generate(at: now), timestamp: now, receivedAt: now,
                             service: service, userID: userID, scope: AnalyticsContext.current, context: context)
    }
}
