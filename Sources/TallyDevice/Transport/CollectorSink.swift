import Tally

/// A collector as the worker's sink: a backend service (or `tally demo`) sends its
/// batches to a Tally server instead of writing to a database. A batch the
/// collector finds too large is sent in halves; a transient failure throws, so
/// the worker retries with backoff (and spills, when it has a durable queue).
public struct CollectorSink: EventSink {
    public let transport: any CollectorTransport

    public init(transport: any CollectorTransport) {
        self.transport = transport
    }

    /// - Returns: how many events the collector acknowledged. The collector
    ///   deduplicates; its count of newly stored events is not reported back.
    @discardableResult
    public func write(_ events: [EnrichedEvent]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        switch await transport.send(events) {
        case .delivered:
            return events.count
        case .tooLarge where events.count > 1:
            let half = events.count / 2
            return try await write(Array(events[..<half])) + write(Array(events[half...]))
        case .tooLarge:
            throw CollectorError(reason: "the collector refused a single event as too large")
        case .retryLater(_, let reason):
            throw CollectorError(reason: reason)
        case .rejected(let status, let message):
            throw CollectorError(reason: "the collector refused the batch (HTTP \(status)): \(message)")
        }
    }
}

/// Why a collector did not take a batch.
public struct CollectorError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}
