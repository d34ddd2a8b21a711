import TallySQLite

/// How many events wait on the device for the next flush, e.g. for a settings
/// screen ("12 events not yet sent") or a debug overlay.
///
/// ```swift
/// let pending = try await PendingAnalyticsCountUseCase(queue: queue).execute()
/// ```
public struct PendingAnalyticsCountUseCase: Sendable {
    public let queue: SQLiteEventQueue

    public init(queue: SQLiteEventQueue) {
        self.queue = queue
    }

    /// The number of entries in `analytics_queue`.
    ///
    /// - Throws: When the database cannot be read.
    public func execute() async throws -> Int {
        try await queue.count()
    }
}
