/// What a backend provides so the ``AggregateRefresher`` can maintain, and the
/// query layer read, the seven aggregates of DESIGN.md §5.
///
/// Days are UTC midnights. A backend marks the day of every event it stores as
/// dirty, in the same transaction as the event, so a refresh that starts after
/// the write always sees it.
public protocol AggregateStore: Sendable {
    /// The projection of every event stored with a timestamp on `day`.
    func facts(onDay day: Timestamp) async throws -> [EventFact]
    /// Replaces all rows of `aggregates.day` (and its hours), and the day's sets of
    /// distinct users, in one transaction.
    func replace(_ aggregates: DayAggregates) async throws
    /// Recomputes every aggregate row of `day` (and its hours) and the day's sets of
    /// distinct users from that day's raw events, replacing what was there; returns
    /// how many events the day has. The default reads ``facts(onDay:)``, aggregates
    /// them in Swift (``DayAggregates``) and calls ``replace(_:)``; a backend may do
    /// the same work closer to the data, with exactly the same result.
    func refreshDay(_ day: Timestamp) async throws -> Int
    /// Recomputes dau, wau and mau of `days` from the stored daily user sets.
    func recomputeActiveUsers(days: [Timestamp]) async throws
    /// Days marked dirty, with the time of their latest mark.
    func dirtyDays() async throws -> [(day: Timestamp, markedAt: Timestamp)]
    /// Marks days dirty (a privacy erase uses this).
    func markDirty(days: [Timestamp]) async throws
    /// Clears marks that are not newer than the given times (a newer mark means
    /// newer events: the day stays dirty).
    func clearDirty(_ marks: [(day: Timestamp, markedAt: Timestamp)]) async throws

    func activeUsers(from: Timestamp, to: Timestamp, service: String?) async throws -> [ActiveUsersRow]
    func taskStats(from: Timestamp, to: Timestamp, service: String?) async throws -> [TaskStatsRow]
    func apiLatency(from: Timestamp, to: Timestamp, service: String?) async throws -> [APILatencyRow]
    func integrationHealth(from: Timestamp, to: Timestamp, provider: String?) async throws -> [IntegrationHealthRow]
    func authEvents(from: Timestamp, to: Timestamp, service: String?) async throws -> [AuthEventsRow]
    func cocoonActivity(from: Timestamp, to: Timestamp) async throws -> [CocoonActivityRow]
    func errors(from: Timestamp, to: Timestamp, service: String?) async throws -> [ErrorsRow]

    /// API latency percentiles over `[from, to)` for the matching routes, from the
    /// hourly sketches: no raw event is read. A default merges ``apiLatency(from:to:service:)``'s rows.
    func apiLatencyPercentiles(from: Timestamp, to: Timestamp, service: String?,
                               method: String?, route: String?) async throws -> RangePercentiles
}

/// Percentiles over several buckets, from their merged sketches (within 1%).
public struct RangePercentiles: Sendable, Hashable {
    public var count: UInt64
    public var p50: Double?
    public var p95: Double?
    public var p99: Double?
    public var max: Double?

    public init(merging sketches: some Sequence<QuantileSketch>) {
        self.init(QuantileSketch.merged(sketches))
    }

    /// The percentiles of a sketch that already holds the whole range.
    public init(_ merged: QuantileSketch) {
        count = merged.count
        p50 = merged.quantile(0.5)
        p95 = merged.quantile(0.95)
        p99 = merged.quantile(0.99)
        max = merged.count > 0 ? merged.max : nil
    }
}

extension AggregateStore {
    public func refreshDay(_ day: Timestamp) async throws -> Int {
        let facts = try await facts(onDay: day)
        try await replace(DayAggregates(day: day, facts: facts))
        return facts.count
    }

    public func apiLatencyPercentiles(from: Timestamp, to: Timestamp, service: String?,
                                      method: String?, route: String?) async throws -> RangePercentiles {
        let rows = try await apiLatency(from: from, to: to, service: service)
        return RangePercentiles(merging: rows.filter { (method == nil || $0.method == method) && (route == nil || $0.route == route) }
            .map(\.latencySketch))
    }

    /// ``apiLatencyPercentiles(from:to:service:method:route:)`` over every route of `service` (or all).
    public func apiLatencyPercentiles(from: Timestamp, to: Timestamp, service: String? = nil) async throws -> RangePercentiles {
        try await apiLatencyPercentiles(from: from, to: to, service: service, method: nil, route: nil)
    }

    /// Task duration percentiles over `[from, to)`, from the daily sketches.
    public func taskDurationPercentiles(from: Timestamp, to: Timestamp, service: String? = nil) async throws -> RangePercentiles {
        RangePercentiles(merging: try await taskStats(from: from, to: to, service: service).map(\.durationSketch))
    }
}
