import Logging
import Tally
import TallySQLite

/// Sends what `analytics_queue` holds to the collector, oldest first, and removes
/// each entry only once the collector acknowledged it (2xx).
///
/// ```swift
/// let flush = FlushAnalyticsQueueUseCase(queue: queue, settings: settings, transport: HTTPCollectorTransport(
///     configuration: .init(collectorURL: URL(string: "https://collector.example.com")!, writeKey: "wk_…")))
/// let report = await flush.execute()   // call it on a timer, on launch, when going to the background
/// ```
///
/// - Opted out (`analytics_enabled` false): sends nothing and keeps the queue.
/// - 413: the batch is split in halves, each sent on its own; a single event that
///   is still too large is dropped, logged and counted.
/// - 429, 5xx, network errors: stops, notes the attempt on the rows, and backs off
///   (exponential with jitter, never sooner than `Retry-After`); flushes before the
///   deadline send nothing.
/// - Other 4xx: the collector will never take those events; they are dropped,
///   logged and counted, and the flush goes on.
///
/// Copies share their state: while one flush runs, another returns
/// ``FlushReport/Status-swift.enum/alreadyRunning`` at once.
public struct FlushAnalyticsQueueUseCase: Sendable {
    public let queue: SQLiteEventQueue
    public let settings: SQLiteAnalyticsSettings
    public let transport: any CollectorTransport
    /// Events per request at most.
    public let batchSize: Int
    /// Uncompressed bytes per request at most.
    public let maxRequestBytes: Int
    public let backoff: FlushBackoff
    private let logger: Logger
    private let metrics = DeviceMetrics()
    private let state = FlushState()
    private let clock: FlushClock

    /// - Parameters:
    ///   - queue: The device's `analytics_queue`.
    ///   - settings: Where the user's opt-out is persisted.
    ///   - transport: Usually an ``HTTPCollectorTransport``.
    ///   - batchSize: Defaults to 100 events a request.
    ///   - maxRequestBytes: Defaults to 500 KB, Segment's limit per request (before compression).
    ///   - backoff: Defaults to 1 s doubling up to 5 minutes, with jitter.
    ///   - logger: Defaults to a logger labelled `tally.device`.
    ///   - clock: Defaults to the system's.
    public init(
        queue: SQLiteEventQueue, settings: SQLiteAnalyticsSettings, transport: any CollectorTransport,
        batchSize: Int = 100, maxRequestBytes: Int = 500 * 1024, backoff: FlushBackoff = FlushBackoff(),
        logger: Logger = Logger(label: "tally.device"), clock: FlushClock = .system
    ) {
        self.clock = clock
        self.queue = queue
        self.settings = settings
        self.transport = transport
        self.batchSize = max(1, batchSize)
        self.maxRequestBytes = max(1024, maxRequestBytes)
        self.backoff = backoff
        self.logger = logger
    }

    /// Sends everything queued, unless opted out, backing off, or already flushing.
    /// Never throws: the report says what happened.
    public func execute() async -> FlushReport {
        guard state.begin() else { return FlushReport(status: .alreadyRunning) }
        defer { state.end() }
        var report = await flush()
        if report.remaining == nil { report.remaining = try? await queue.count() }
        return report
    }

    private func flush() async -> FlushReport {
        do {
            guard try await settings.isEnabled() else { return FlushReport(status: .analyticsDisabled) }
        } catch {
            return storageFailure(error, FlushReport(status: .drained))
        }
        if let pending = state.pendingBackoff(now: clock.elapsed()) {
            var report = FlushReport(status: .backingOff)
            report.nextRetryAt = pending.nextRetryAt
            return report
        }
        var report = FlushReport(status: .drained)
        // Rows queued while this flush runs wait for the next one, so a steady
        // stream of events cannot keep a flush going forever.
        let budget: Int
        do {
            budget = try await queue.count()
        } catch {
            return storageFailure(error, report)
        }
        var handled = 0
        while handled < budget {
            do {
                // Checked before every batch: opting out takes effect mid-flush.
                guard try await settings.isEnabled() else {
                    report.status = .analyticsDisabled
                    return report
                }
                let entries = try await queue.peek(limit: min(batchSize, budget - handled))
                if entries.isEmpty { break }
                handled += entries.count
                for request in splitBySize(entries) {
                    if case .stop = try await deliver(request, &report) { return report }
                }
            } catch {
                return storageFailure(error, report)
            }
        }
        return report
    }

    private enum Step { case next, stop }

    /// Sends `entries` and settles their rows; on 413 splits and recurses.
    private func deliver(_ entries: [QueuedEvent], _ report: inout FlushReport) async throws -> Step {
        report.requests += 1
        let ids = entries.map(\.id)
        switch await transport.send(entries.map(\.event)) {
        case .delivered:
            // Should this removal fail, the rows go again next time; the collector
            // dedupes them by messageId, so nothing is stored twice.
            try await queue.remove(ids)
            state.recordSuccess()
            report.sent += entries.count
            metrics.flushed.increment(by: Int64(entries.count))
            return .next

        case .tooLarge where entries.count > 1:
            let middle = entries.count / 2
            if case .stop = try await deliver(Array(entries[..<middle]), &report) { return .stop }
            return try await deliver(Array(entries[middle...]), &report)

        case .tooLarge:
            try await queue.remove(ids)
            report.droppedTooLarge += 1
            metrics.droppedTooLarge.increment()
            logger.warning("analytics: the collector refused event \(entries[0].event.eventID) (\(entries[0].event.name)) as too large (413) even alone; dropped")
            return .next

        case .rejected(let status, let message):
            try await queue.remove(ids)
            report.droppedRejected += entries.count
            metrics.droppedRejected.increment(by: Int64(entries.count))
            logger.error("analytics: the collector rejected \(entries.count) events for good (HTTP \(status): \(message)); dropped")
            return .next

        case .retryLater(let retryAfter, let reason):
            try await queue.recordFailedAttempt(ids, error: reason)
            let failures = state.recordFailure()
            var random = SystemRandomNumberGenerator()
            let delay = backoff.delay(afterFailures: failures, retryAfter: retryAfter, using: &random)
            let nextRetryAt = clock.now().adding(delay)
            state.scheduleRetry(at: clock.elapsed() + delay, wallClock: nextRetryAt)
            metrics.flushRetries.increment()
            logger.info("analytics: flush paused after failure \(failures) (\(reason)); retrying after \(nextRetryAt)")
            report.status = .retryScheduled(reason: reason)
            report.nextRetryAt = nextRetryAt
            return .stop
        }
    }

    /// Cuts a batch into requests that stay under ``maxRequestBytes``. An event
    /// larger than that alone goes alone; the collector's 413 settles it.
    private func splitBySize(_ entries: [QueuedEvent]) -> [[QueuedEvent]] {
        var requests: [[QueuedEvent]] = []
        var current: [QueuedEvent] = []
        var size = SegmentBatch.envelopeBytes
        for entry in entries {
            let eventSize = SegmentBatch.encodedSize(of: entry.event)
            if !current.isEmpty, size + eventSize > maxRequestBytes {
                requests.append(current)
                current = []
                size = SegmentBatch.envelopeBytes
            }
            current.append(entry)
            size += eventSize
        }
        if !current.isEmpty { requests.append(current) }
        return requests
    }

    private func storageFailure(_ error: any Error, _ report: FlushReport) -> FlushReport {
        logger.error("analytics: flush stopped: the local queue is unavailable: \(error)")
        var report = report
        report.status = .storageFailed(reason: String(describing: error))
        return report
    }
}
