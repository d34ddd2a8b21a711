import Tally

/// What one ``FlushAnalyticsQueueUseCase/execute()`` did.
public struct FlushReport: Sendable, Hashable {
    /// Why the flush stopped where it did.
    public enum Status: Sendable, Hashable {
        /// Everything queued when it started was sent or dropped.
        case drained
        /// The user opted out: nothing was sent and the queue was kept.
        case analyticsDisabled
        /// An earlier failure's backoff has not expired: nothing was sent.
        case backingOff
        /// Another flush was already running: this one did nothing.
        case alreadyRunning
        /// The collector failed transiently (429, 5xx, network): the rest waits
        /// until ``FlushReport/nextRetryAt``.
        case retryScheduled(reason: String)
        /// The local database could not be read or written.
        case storageFailed(reason: String)
    }

    public var status: Status
    /// Events the collector acknowledged (and that were removed from the queue).
    public var sent: Int = 0
    /// Events the collector refused for good (a 4xx other than 413/429), removed.
    public var droppedRejected: Int = 0
    /// Single events the collector still found too large (413), removed.
    public var droppedTooLarge: Int = 0
    /// Requests made.
    public var requests: Int = 0
    /// Entries still queued afterwards; `nil` when the queue could not be counted.
    public var remaining: Int?
    /// The earliest time another flush will send, when backing off.
    public var nextRetryAt: Timestamp?

    public init(status: Status) {
        self.status = status
    }

    /// Events removed without delivery.
    public var dropped: Int { droppedRejected + droppedTooLarge }
}
