import CoreMetrics
import Logging
import ServiceLifecycle

/// Drains the client's buffer into the sink: a batch when `batchSize` events are
/// waiting or when `flushInterval` has passed, retried with exponential backoff
/// and jitter. When the sink stays down, batches spill to the durable queue and
/// are replayed in order once it recovers; while anything is queued, new batches
/// queue behind it, so each producer's events arrive in order. On graceful
/// shutdown it drains every buffered event before `run()` returns.
///
/// Run it in a `ServiceGroup`, registered after the store and before the server,
/// so that it stops before the store closes.
public final class AnalyticsWorker: Service, Sendable {
    private let configuration: AnalyticsConfiguration
    private let buffer: EventBuffer
    private let metrics: PipelineMetrics
    private let replayLock: AsyncLock

    init(configuration: AnalyticsConfiguration, buffer: EventBuffer, replayLock: AsyncLock) {
        self.configuration = configuration
        self.buffer = buffer
        self.replayLock = replayLock
        self.metrics = PipelineMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory)
    }

    public func run() async throws {
        var loop = DeliveryLoop(configuration: configuration, buffer: buffer, metrics: metrics, replayLock: replayLock)
        await withGracefulShutdownHandler {
            await loop.run()
        } onGracefulShutdown: { [buffer] in
            buffer.beginShutdown()
        }
    }
}

/// The worker's state, owned by its one task.
private struct DeliveryLoop {
    let configuration: AnalyticsConfiguration
    let buffer: EventBuffer
    let metrics: PipelineMetrics
    let replayLock: AsyncLock
    var logger: Logger { configuration.logger }
    let clock = ContinuousClock()
    var random = SystemRandomNumberGenerator()
    /// Set once the sink failed past the retry budget; cleared by a successful replay.
    var sinkIsDown = false
    var nextProbe: ContinuousClock.Instant
    /// Whether the durable queue may hold entries.
    var queueMayHoldEntries: Bool
    var reportedCounters = EventBuffer.Counters()

    init(configuration: AnalyticsConfiguration, buffer: EventBuffer, metrics: PipelineMetrics, replayLock: AsyncLock) {
        self.configuration = configuration
        self.buffer = buffer
        self.metrics = metrics
        self.replayLock = replayLock
        self.nextProbe = clock.now
        // A previous run may have left spilled events: replay them first.
        self.queueMayHoldEntries = configuration.durableQueue != nil
    }

    mutating func run() async {
        var lastFlush = clock.now
        while true {
            let shuttingDown = buffer.isShuttingDown || Task.isCancelled
            if !shuttingDown {
                let deadline = lastFlush.advanced(by: configuration.flushInterval)
                let untilProbe = sinkIsDown || queueMayHoldEntries ? nextProbe : deadline
                await waitForWork(until: min(deadline, untilProbe))
            }
            if buffer.takeQueuedElsewhereNotice(), !queueMayHoldEntries {
                queueMayHoldEntries = true
                nextProbe = min(nextProbe, clock.now)
            }
            let intervalElapsed = clock.now >= lastFlush.advanced(by: configuration.flushInterval)
            let draining = buffer.isShuttingDown || Task.isCancelled
            // Full batches whenever they are ready; a partial one when the interval
            // has passed or everything must go.
            func batchReady() -> Bool {
                // A full buffer is a batch too (a batch size above the capacity is never reached).
                buffer.count >= min(configuration.batchSize, buffer.capacity) || ((intervalElapsed || draining) && buffer.count > 0)
            }
            if batchReady() {
                // A pipeline two batches deep: while one batch is being written, a
                // child task takes, validates and encodes the next, so the worker's
                // CPU work overlaps the sink's I/O. Batches are still delivered one
                // at a time, in order.
                var current = StagedBatch(buffer.take(max: writeSize()), configuration: configuration, metrics: metrics)
                while true {
                    guard batchReady() else {
                        await deliver(current, draining: draining)
                        break
                    }
                    let (buffer, configuration, metrics, size) = (self.buffer, self.configuration, self.metrics, writeSize())
                    async let next = StagedBatch(buffer.take(max: size), configuration: configuration, metrics: metrics)
                    await deliver(current, draining: draining)
                    current = await next
                }
            }
            if intervalElapsed { lastFlush = clock.now }
            if queueMayHoldEntries, !draining || !sinkIsDown, clock.now >= nextProbe {
                await replayQueue(draining: draining)
            }
            reportCounters()
            if draining, buffer.sealIfDrained() { break }
        }
        logger.debug("analytics worker drained and stopped")
    }

    /// How many events the next write takes: one batch, or while more than a
    /// batch waits, all of it up to ``AnalyticsConfiguration/catchUpBatches``
    /// batches, for a sink that commits them together.
    func writeSize() -> Int {
        let batchSize = configuration.batchSize
        guard configuration.catchUpBatches > 1, configuration.sink is any PreparedWriteSink,
              buffer.count > batchSize else { return batchSize }
        return batchSize * configuration.catchUpBatches
    }

    /// Sleeps until a batch is ready, the deadline passes, or shutdown begins.
    func waitForWork(until deadline: ContinuousClock.Instant) async {
        guard deadline > clock.now else { return }
        let buffer = self.buffer
        let threshold = configuration.batchSize
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await buffer.waitForEvents(atLeast: threshold) }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Gets a staged batch durable: into the sink, or into the durable queue when
    /// the sink is down or events are already queued ahead of it.
    mutating func deliver(_ batch: StagedBatch, draining: Bool) async {
        let events = batch.events
        guard !events.isEmpty else { return }
        if configuration.durableQueue != nil, sinkIsDown || queueMayHoldEntries {
            if await spill(events) { return }
        }
        var attempt = 0
        while true {
            if await write(batch) { return }
            attempt += 1
            // Shutdown may begin while a batch is being retried: from then on the
            // shorter shutdown budget applies, so `run()` always returns.
            let shuttingDown = draining || buffer.isShuttingDown || Task.isCancelled
            let attempts = shuttingDown ? configuration.retry.attemptsDuringShutdown : configuration.retry.attemptsBeforeSpilling
            if attempt >= attempts {
                if configuration.durableQueue != nil {
                    sinkIsDown = true
                    nextProbe = clock.now.advanced(by: configuration.retry.probeInterval)
                    if await spill(events) { return }
                }
                if shuttingDown {
                    metrics.droppedUndeliverable.increment(by: Int64(events.count))
                    logger.error("analytics: dropping \(events.count) events at shutdown: the sink is down and no durable queue could take them")
                    return
                }
            }
            metrics.retries.increment()
            let delay = configuration.retry.delay(forAttempt: min(attempt, 30), using: &random)
            try? await Task.sleep(for: delay)
        }
    }

    /// Writes to the sink once. Returns whether it succeeded.
    mutating func write(_ batch: StagedBatch) async -> Bool {
        let start = clock.now
        do {
            try await batch.write()
            let elapsed = (clock.now - start).components
            metrics.writeLatency.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
            metrics.written.increment(by: Int64(batch.events.count))
            configuration.onDurable?(batch.events.map(\.eventID))
            return true
        } catch {
            logger.warning("analytics: sink write of \(batch.events.count) events failed: \(error)")
            return false
        }
    }

    /// Appends to the durable queue. Returns whether the events are now durable there.
    mutating func spill(_ events: [EnrichedEvent]) async -> Bool {
        guard let queue = configuration.durableQueue else { return false }
        do {
            try await queue.enqueue(events)
            queueMayHoldEntries = true
            metrics.spilled.increment(by: Int64(events.count))
            configuration.onDurable?(events.map(\.eventID))
            return true
        } catch {
            logger.error("analytics: the durable queue refused \(events.count) events: \(error)")
            return false
        }
    }

    /// Replays the durable queue into the sink, oldest first, removing each batch
    /// only after the sink committed it. A failure marks the sink down until the
    /// next probe.
    mutating func replayQueue(draining: Bool) async {
        guard let queue = configuration.durableQueue else { return }
        while true {
            // From peek to remove, a privacy erase waits (``AnalyticsClient/withReplayPaused(_:)``).
            await replayLock.lock()
            defer { replayLock.unlock() }
            let entries: [QueuedEvent]
            do {
                entries = try await queue.peek(limit: configuration.batchSize)
            } catch {
                logger.error("analytics: cannot read the durable queue: \(error)")
                nextProbe = clock.now.advanced(by: configuration.retry.probeInterval)
                return
            }
            if entries.isEmpty {
                queueMayHoldEntries = false
                sinkIsDown = false
                return
            }
            do {
                try await configuration.sink.write(entries.map(\.event))
            } catch {
                sinkIsDown = true
                nextProbe = clock.now.advanced(by: configuration.retry.probeInterval)
                try? await queue.recordFailedAttempt(entries.map(\.id), error: String(describing: error))
                logger.info("analytics: sink still down; \(entries.count)+ events wait in the durable queue")
                return
            }
            metrics.replayed.increment(by: Int64(entries.count))
            metrics.written.increment(by: Int64(entries.count))
            // The sink dedupes by event id, so a crash between write and remove
            // only replays events it already has.
            do {
                try await queue.remove(entries.map(\.id))
            } catch {
                logger.error("analytics: cannot remove replayed events from the durable queue: \(error)")
                return
            }
            if draining, buffer.count > 0 { return }
        }
    }

    mutating func reportCounters() {
        let counters = buffer.counters
        metrics.droppedBufferFull.increment(by: Int64(counters.droppedFull - reportedCounters.droppedFull))
        metrics.droppedAfterShutdown.increment(by: Int64(counters.droppedAfterShutdown - reportedCounters.droppedAfterShutdown))
        metrics.bufferDepth.record(buffer.count)
        reportedCounters = counters
    }
}

/// A batch taken from the buffer, validated, and encoded for the sink when the
/// sink can encode ahead (``PreparedWriteSink``): what is left is the write.
struct StagedBatch: Sendable {
    /// The batch's valid events, in buffer order.
    let events: [EnrichedEvent]
    /// Writes them; may be called again after a failure.
    let write: @Sendable () async throws -> Void

    init(_ batch: [EnrichedEvent], configuration: AnalyticsConfiguration, metrics: PipelineMetrics) {
        metrics.tracked.increment(by: Int64(batch.count))
        let events = Self.validated(batch, configuration: configuration, metrics: metrics)
        self.events = events
        guard !events.isEmpty else {
            write = {}
            return
        }
        metrics.batchSize.record(events.count)
        let sink = configuration.sink
        if let preparing = sink as? any PreparedWriteSink {
            write = Self.preparedWrite(events, to: preparing)
        } else {
            write = { try await sink.write(events) }
        }
    }

    /// Encodes now; the returned write sends the events in one transaction.
    private static func preparedWrite<Sink: PreparedWriteSink>(_ events: [EnrichedEvent], to sink: Sink) -> @Sendable () async throws -> Void {
        let prepared = sink.prepare(events)
        return { _ = try await sink.write(prepared: [prepared]) }
    }

    /// Events that pass validation; the rest are counted and reported.
    private static func validated(_ batch: [EnrichedEvent], configuration: AnalyticsConfiguration, metrics: PipelineMetrics) -> [EnrichedEvent] {
        var valid: [EnrichedEvent] = []
        valid.reserveCapacity(batch.count)
        for event in batch {
            do {
                try event.validate(limits: configuration.limits, policy: configuration.piiPolicy)
                valid.append(event)
            } catch {
                metrics.invalid.increment()
                configuration.logger.warning("analytics: invalid event not recorded: \(error)")
                configuration.onInvalidEvent?(error)
            }
        }
        return valid
    }
}
