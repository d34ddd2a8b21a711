import Tally

/// Carries a batch of events from the device to a collector. ``HTTPCollectorTransport``
/// is the real one; tests and other back ends can provide their own.
///
/// A transport never throws: every failure is a ``DeliveryOutcome`` that tells the
/// flush what to do with the batch (delete it, split it, keep it, or drop it).
public protocol CollectorTransport: Sendable {
    /// Sends `batch` once, without retrying.
    func send(_ batch: [EnrichedEvent]) async -> DeliveryOutcome
}

/// What became of one attempt to send a batch.
public enum DeliveryOutcome: Sendable, Hashable {
    /// The collector acknowledged the batch (2xx): it is durable there.
    case delivered
    /// The request was too large (413): send the batch in smaller pieces.
    case tooLarge
    /// A transient failure (429, 5xx, a network error or a timeout): keep the
    /// batch and try again later, no sooner than `after` when the collector said
    /// so (`Retry-After`).
    case retryLater(after: Duration?, reason: String)
    /// The collector refused the batch for good (another 4xx): sending it again
    /// would fail the same way.
    case rejected(status: Int, message: String)
}
