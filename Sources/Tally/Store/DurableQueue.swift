/// A local, durable, ordered queue of events: the device's offline queue and the
/// worker's spill when its sink is down. Entries come out in the order they went
/// in; an event id is queued at most once.
public protocol DurableQueue: Sendable {
    /// Appends `events` durably (committed when it returns). Ids already queued are skipped.
    func enqueue(_ events: [EnrichedEvent]) async throws
    /// The oldest `limit` entries, without removing them.
    func peek(limit: Int) async throws -> [QueuedEvent]
    /// Removes delivered (or permanently rejected) entries.
    func remove(_ ids: [Int64]) async throws
    /// Notes a failed delivery attempt on entries that stay queued.
    func recordFailedAttempt(_ ids: [Int64], error: String) async throws
    /// How many entries are queued.
    func count() async throws -> Int
    /// Removes every entry whose user id or anonymous id is `userID` (a privacy
    /// erase); returns how many. Hold ``AnalyticsClient/withReplayPaused(_:)``
    /// around it so a replay in flight cannot write them back to the store.
    func removeEvents(ofUser userID: String) async throws -> Int
}

/// One entry of a ``DurableQueue``.
public struct QueuedEvent: Sendable, Hashable {
    /// The queue's own position, increasing in enqueue order.
    public var id: Int64
    public var event: EnrichedEvent
    /// Failed delivery attempts so far.
    public var attempts: Int

    public init(id: Int64, event: EnrichedEvent, attempts: Int) {
        self.id = id
        self.event = event
        self.attempts = attempts
    }
}
