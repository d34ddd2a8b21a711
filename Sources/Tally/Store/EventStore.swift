/// Where batches of events go: a store, or a transport to a collector.
///
/// A sink is idempotent on (`timestamp`, `event_id`): writing a batch again, whole
/// or in part, stores each event once.
public protocol EventSink: Sendable {
    /// Stores `events` durably: when it returns, they survive a crash.
    ///
    /// - Returns: how many were newly stored (duplicates are skipped).
    @discardableResult
    func write(_ events: [EnrichedEvent]) async throws -> Int
}

/// A sink that can also be read: the raw event table of one backend.
public protocol EventStore: EventSink {
    /// How many events are stored.
    func count() async throws -> Int

    /// Stored events whose timestamp is in `range`, oldest first (ties by event id).
    func events(in range: Range<Timestamp>, limit: Int) async throws -> [EnrichedEvent]

    /// Events per UTC day and event type, oldest day first.
    func dailyCounts() async throws -> [DailyEventCount]
}

/// How many events of one type were stored for one UTC day.
public struct DailyEventCount: Sendable, Hashable {
    public var day: Timestamp
    public var eventType: String
    public var count: Int

    public init(day: Timestamp, eventType: String, count: Int) {
        self.day = day
        self.eventType = eventType
        self.count = count
    }
}

/// A sink whose writes start with CPU-heavy work that needs no lock (encoding
/// rows). A caller that groups concurrent writes — the server's group commit —
/// prepares each batch on its own task, in parallel, and hands the sink ready
/// batches to write together in one transaction.
public protocol PreparedWriteSink: EventSink {
    associatedtype PreparedBatch: Sendable
    /// The encoding half of a write; cheap to discard.
    func prepare(_ events: [EnrichedEvent]) -> PreparedBatch
    /// Writes the batches in one transaction, in order.
    ///
    /// - Returns: for each batch, how many of its events were newly stored (a
    ///   duplicate of an event earlier in the same call counts as a duplicate).
    func write(prepared batches: [PreparedBatch]) async throws -> [Int]
    /// Writes the batches in one transaction like ``write(prepared:)``, but returns
    /// as soon as it is committed, with the wait for that commit to reach disk: a
    /// caller that acknowledges only after the wait can start its next write
    /// first. By default the write is on disk when it returns.
    func writeCommitted(prepared batches: [PreparedBatch]) async throws -> (counts: [Int], onDisk: DiskSync)
    /// How many `write(prepared:)` calls may usefully run at once. A store with
    /// one writer (SQLite) gains nothing from a second; a server's second
    /// transaction sends its rows while the first waits for its commit to reach
    /// disk.
    var concurrentWriteLimit: Int { get }
}

extension PreparedWriteSink {
    public var concurrentWriteLimit: Int { 1 }

    public func writeCommitted(prepared batches: [PreparedBatch]) async throws -> (counts: [Int], onDisk: DiskSync) {
        (try await write(prepared: batches), .done)
    }
}

/// The wait for a committed write to reach disk.
public struct DiskSync: Sendable {
    private let body: @Sendable () async throws -> Void

    public init(_ body: @escaping @Sendable () async throws -> Void) {
        self.body = body
    }

    /// A write that was on disk when it returned.
    public static let done = DiskSync {}

    /// Returns once the write is on disk, or throws why it could not be made so.
    public func wait() async throws {
        try await body()
    }
}
